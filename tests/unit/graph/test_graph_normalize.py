from __future__ import annotations

import pytest

from graph.extract.normalize import clean_surface, entity_id, is_acronym_of, name_key, relation_type


@pytest.mark.parametrize(
    ("surface", "label", "expected"),
    [
        ("Dr. Marie  Curie", "PERSON", "Marie Curie"),
        ("Prof Albert Einstein's", "PERSON", "Albert Einstein"),
        ("the World Health Organization", "ORG", "World Health Organization"),
        ("Apple\u2019s", "ORG", "Apple"),
        ("Dr. Pepper", "PRODUCT", "Dr. Pepper"),
        ("  (Warsaw), ", "GPE", "Warsaw"),
        ("Dr.", "PERSON", "Dr."),
    ],
)
def test_clean_surface(surface: str, label: str, expected: str) -> None:
    assert clean_surface(surface, label) == expected


def test_name_key_ignores_case_dots_and_spaces() -> None:
    assert name_key("U.S.  Army") == name_key("us army") == "us army"
    assert name_key("Caf\u00e9") == "caf\u00e9"


def test_entity_id_is_deterministic_and_typed() -> None:
    a = entity_id("PERSON", "marie curie")
    assert a == entity_id("PERSON", "marie curie")
    assert a.startswith("ent_") and len(a) == 20
    assert a != entity_id("ORG", "marie curie")


@pytest.mark.parametrize(
    ("short", "long", "ok"),
    [
        ("WHO", "World Health Organization", True),
        ("NASA", "National Aeronautics and Space Administration", True),
        ("NTSB", "National Transportation Safety Board", True),
        ("WHO", "Warsaw Hospital", False),
        ("who", "World Health Organization", False),
        ("W", "World", False),
    ],
)
def test_is_acronym_of(short: str, long: str, ok: bool) -> None:
    assert is_acronym_of(short, long) is ok


def test_relation_type_snake_case() -> None:
    assert relation_type("work", "for") == "work_for"
    assert relation_type("set", "up", "in") == "set_up_in"
    assert relation_type("CEO", "of") == "ceo_of"
