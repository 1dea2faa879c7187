"""The spaCy extractor on real text with the real bundled model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from graph.base import DocumentGraph, ExtractionError
from graph.extract.normalize import entity_id, name_key
from graph.extract.spacy_extractor import SpacyGraphExtractor
from tests.unit.graph.conftest import Unit, units

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

pytestmark = pytest.mark.integration

CURIE = (
    "Dr. Marie Curie was born in Warsaw. She worked for the University of Paris with Pierre Curie.",
    "The World Health Organization (WHO) was founded in 1948. Steve Jobs founded Apple with Steve Wozniak.",
    "Later, Marie Curie moved to Paris. Apple was founded by Steve Jobs. The WHO praised Marie Curie.",
)


def by_name(graph: DocumentGraph) -> dict[str, str]:
    return {e.name: e.id for e in graph.entities}


def triples(graph: DocumentGraph, kind: str = "extracted") -> set[tuple[str, str, str]]:
    names = {e.id: e.name for e in graph.entities}
    return {(names[r.source_id], r.type, names[r.target_id]) for r in graph.relations if r.kind == kind}


def test_entities_types_and_titles(extractor: SpacyGraphExtractor) -> None:
    g = extractor.extract("d", units("d", *CURIE))
    types = {e.name: e.type for e in g.entities}
    assert types["Marie Curie"] == "PERSON"
    assert types["Warsaw"] == "GPE"
    assert types["University of Paris"] == "ORG"
    assert types["Apple"] == "ORG"
    assert "Dr. Marie Curie" not in types and "1948" not in types  # titles stripped, dates are not nodes
    assert by_name(g)["Marie Curie"] == entity_id("PERSON", name_key("Marie Curie"))


def test_acronym_defined_in_text_is_merged(extractor: SpacyGraphExtractor) -> None:
    g = extractor.extract("d", units("d", *CURIE))
    who = [e for e in g.entities if e.name == "World Health Organization"]
    assert len(who) == 1 and who[0].aliases == ("WHO",)
    assert "WHO" not in by_name(g)
    assert ("World Health Organization", "praise", "Marie Curie") in triples(g)


def test_short_form_resolved_when_unambiguous(extractor: SpacyGraphExtractor) -> None:
    g = extractor.extract(
        "d", units("d", "Albert Einstein was born in Ulm.", "Einstein later moved to Princeton.")
    )
    names = by_name(g)
    assert "Einstein" not in names
    einstein = next(e for e in g.entities if e.name == "Albert Einstein")
    assert einstein.aliases == ("Einstein",)
    chunks = {m.chunk_id for m in g.mentions if m.entity_id == einstein.id}
    assert chunks == {"d:0", "d:1"}
    assert ("Albert Einstein", "move_to", "Princeton") in triples(g)


def test_ambiguous_short_form_kept_apart(extractor: SpacyGraphExtractor) -> None:
    g = extractor.extract("d", units("d", *CURIE))
    # "Curie" could be Marie or Pierre: no merge, and the note says so when it was seen alone
    marie = next(e for e in g.entities if e.name == "Marie Curie")
    assert "Curie" not in marie.aliases


def test_relations_with_evidence(extractor: SpacyGraphExtractor) -> None:
    g = extractor.extract("d", units("d", *CURIE))
    t = triples(g)
    assert ("Marie Curie", "born_in", "Warsaw") in t
    assert ("Steve Jobs", "found", "Apple") in t  # active and passive ("was founded by") agree
    assert ("Steve Jobs", "found_with", "Steve Wozniak") in t
    born = next(r for r in g.relations if r.type == "born_in")
    assert (born.chunk_id, born.page, born.doc_id) == ("d:0", 1, "d")
    assert born.sentence == "Dr. Marie Curie was born in Warsaw."
    passive = [r for r in g.relations if r.type == "found" and r.page == 3]
    assert passive and passive[0].sentence == "Apple was founded by Steve Jobs."


def test_cooccurrence_edges_are_weighted_and_kept_apart(extractor: SpacyGraphExtractor) -> None:
    text = "Steve Jobs met Tim Cook in Cupertino. Tim Cook and Steve Jobs ran Apple."
    g = extractor.extract("d", units("d", text, text))  # overlapping chunks repeat a sentence
    ids = by_name(g)
    pair = tuple(sorted([ids["Steve Jobs"], ids["Tim Cook"]]))
    co = [r for r in g.relations if r.kind == "cooccurs" and (r.source_id, r.target_id) == pair]
    assert len(co) == 1 and co[0].weight == 2.0 and co[0].type == "cooccurs"
    assert ("Steve Jobs", "meet", "Tim Cook") in triples(g)


def test_same_name_same_id_across_documents(extractor: SpacyGraphExtractor) -> None:
    a = extractor.extract("a", units("a", "Angela Merkel visited Paris."))
    b = extractor.extract("b", units("b", "Chancellor Angela Merkel spoke in Berlin."))
    assert by_name(a)["Angela Merkel"] == by_name(b)["Angela Merkel"]
    assert {m.doc_id for m in b.mentions} == {"b"}


def test_bad_input_is_bounded_and_noted(extractor: SpacyGraphExtractor) -> None:
    table = ", ".join(f"{first} {last}" for first in ("John", "Mary", "Peter", "Susan", "Ahmed", "Li")
                      for last in ("Smith", "Jones", "Garcia", "Chen", "Okafor", "Novak", "Rossi", "Kim"))  # fmt: skip
    chunks = [
        Unit("x:0", "x", "", 1),
        Unit("x:1", "x", "   \n ", 1),
        Unit("x:2", "x", "the cat sat on the mat and then it slept", 2),
        Unit("x:3", "x", "Это текст на русском языке о Москве и Санкт-Петербурге.", 3),
        Unit("x:4", "x", "Participants: " + table + ".", 4),
    ]
    small = SpacyGraphExtractor(
        model_loader=lambda: extractor.nlp, max_entities_per_chunk=10, max_cooccurring=5
    )
    g = small.extract("x", chunks)
    assert {m.chunk_id for m in g.mentions} == {"x:4"}
    assert sum(m.count for m in g.mentions) <= 10
    notes = " | ".join(g.notes)
    assert "empty chunks skipped: 2" in notes
    assert "non-Latin script skipped" in notes
    assert "more than 10 entities capped: 1" in notes
    assert "more than 5 entities gave no co-occurrence edges" in notes
    assert not [r for r in g.relations if r.kind == "cooccurs"]
    empty = extractor.extract("e", [Unit("e:0", "e", "no names here at all.", None)])
    assert empty.entities == [] and empty.notes == ["no entities found"]
    assert extractor.extract("z", []).notes == []


def test_arguments_validated_and_load_errors_wrapped() -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        SpacyGraphExtractor(batch_size=0)

    def broken() -> None:
        raise OSError("model files gone")

    ex = SpacyGraphExtractor(model_loader=broken)  # type: ignore[arg-type]
    with pytest.raises(ExtractionError, match="model files gone"):
        ex.extract("d", units("d", "Marie Curie was born in Warsaw."))


def test_only_sentences_naming_two_entities_are_parsed(extractor: SpacyGraphExtractor) -> None:
    text = (
        "The weather was mild all week. Marie Curie was born in Warsaw. Warsaw is large. "
        "Curie later moved to Paris."
    )
    seen: list[str] = []
    second_pass = extractor._second_pass

    def spy(sentences: list[Span]) -> list[Doc]:
        seen.extend(s.text.strip() for s in sentences)
        return second_pass(sentences)

    extractor._second_pass = spy  # type: ignore[method-assign]
    try:
        g = extractor.extract("d", units("d", text))
    finally:
        del extractor._second_pass
    # No entity, or one entity only: co-occurrence needs no parse and no relation can come from it.
    assert seen == ["Marie Curie was born in Warsaw.", "Curie later moved to Paris."]
    t = triples(g)
    assert ("Marie Curie", "born_in", "Warsaw") in t
    assert ("Marie Curie", "move_to", "Paris") in t  # the surname counted as a mention before parsing
    assert "Curie" not in by_name(g)


def test_pipeline_without_a_sentence_splitter_gets_the_rule_based_one() -> None:
    import spacy

    ex = SpacyGraphExtractor(model_loader=lambda: spacy.blank("en"))
    g = ex.extract("d", units("d", "No model here. Two sentences."))
    assert "sentencizer" in ex.nlp.pipe_names
    assert g.entities == [] and "no entities found" in g.notes
