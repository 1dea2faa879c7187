"""Refusal on the real sample corpus: questions about what the documents never mention."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path, embedder, cache_dir: Path):  # type: ignore[no-untyped-def]
    from app.service import Citewise

    root = tmp_path_factory.mktemp("refusal")
    cw = Citewise.open(
        root / "index", cache_dir=cache_dir, graph={"enabled": False}, llm={"answer_mode": "extractive"}
    )
    cw.__dict__["embedder"] = embedder
    assert cw.ingest([sample_corpus_dir]).failed == []
    yield cw
    cw.close()


@pytest.mark.parametrize(
    ("question", "never"),
    [
        ("What did Tesla build on Vesterholm?", "'Tesla'"),
        ("Who directed the Skarvik Marine Institute in 1999?", "'1999'"),
    ],
)
def test_questions_naming_what_no_document_mentions_are_refused(service, question: str, never: str) -> None:
    answer = service.ask(question)
    assert answer.refused and answer.citations == ()
    assert any(never in note for note in answer.notes), answer.notes


def test_answerable_questions_are_not_refused(service) -> None:
    for question in (
        "When was the Skarvik Marine Institute founded?",
        "What does NOSA stand for?",
        "Where was the Havørn built?",
    ):
        answer = service.ask(question)
        assert not answer.refused and answer.citations, (question, answer.notes)


def test_the_check_can_be_switched_off(
    tmp_path: Path, sample_corpus_dir: Path, embedder, cache_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    from app.service import Citewise

    cw = Citewise.open(
        tmp_path / "index",
        cache_dir=cache_dir,
        graph={"enabled": False},
        llm={"answer_mode": "extractive"},
        retrieval={"refuse_unknown_terms": False},
    )
    cw.__dict__["embedder"] = embedder
    cw.ingest([sample_corpus_dir / "havorn.html"])
    answer = cw.ask("What did Tesla build near the Havørn?")
    assert not any("never mention" in n for n in answer.notes)
    cw.close()
