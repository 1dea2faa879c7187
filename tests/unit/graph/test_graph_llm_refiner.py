"""LLMGraphRefiner with a fake complete_json (the real LLM is wired and tested by the LLM layer)."""

from __future__ import annotations

from typing import Any

import pytest

from graph.base import DocumentGraph, Entity, Mention
from graph.extract.llm_extractor import LLMGraphRefiner, triple_schema
from graph.extract.normalize import entity_id, name_key
from tests.unit.graph.conftest import units

MARIE = Entity(entity_id("PERSON", "marie curie"), "Marie Curie", "PERSON", ("Curie",))
TEXTS = (
    "Curie discovered polonium with Pierre Curie in Paris.",
    "Nothing here.",
    "Curie taught at the Sorbonne.",
)


class FakeLLM:
    """Replies from a queue; records prompts and schemas; raises when told to."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((prompt, schema))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply  # type: ignore[no-any-return]


def base_graph() -> DocumentGraph:
    mentions = [Mention(MARIE.id, "d:0", "d", "Curie", 1), Mention(MARIE.id, "d:2", "d", "Curie", 3)]
    return DocumentGraph("d", entities=[MARIE], mentions=mentions, notes=["spacy note"])


def triple(s: str, st: str, p: str, o: str, ot: str) -> dict[str, str]:
    return {"subject": s, "subject_type": st, "predicate": p, "object": o, "object_type": ot}


def test_triples_merged_with_existing_entities_and_evidence() -> None:
    llm = FakeLLM(
        {"triples": [triple("Curie", "PERSON", "worked with", "Pierre Curie", "PERSON"),
                     triple("Curie", "PERSON", "taught at", "Sorbonne", "ORG")]},
        {"triples": [triple("Curie", "PERSON", "taught at", "Sorbonne", "ORG")]},
    )  # fmt: skip
    refiner = LLMGraphRefiner(llm, budget_chunks=2)
    g = refiner.refine(base_graph(), units("d", *TEXTS))
    names = {e.id: e.name for e in g.entities}
    got = sorted(
        (names[r.source_id], r.type, names[r.target_id], r.kind, r.chunk_id, r.page) for r in g.relations
    )
    assert got == [
        ("Marie Curie", "taught_at", "Sorbonne", "llm", "d:0", 1),
        ("Marie Curie", "taught_at", "Sorbonne", "llm", "d:2", 3),
        ("Marie Curie", "worked_with", "Pierre Curie", "llm", "d:0", 1),
    ]
    assert entity_id("ORG", name_key("Sorbonne")) in names
    worked = next(r for r in g.relations if r.type == "worked_with")
    assert worked.sentence == TEXTS[0]
    # chunks with the most entities go first; "Nothing here." was not sent
    assert [c[0].rsplit("Text:\n", 1)[1].strip() for c in llm.calls] == [TEXTS[0], TEXTS[2]]
    assert llm.calls[0][1] == triple_schema(8)
    assert "llm refinement: 2 chunks sent, 1 skipped (budget), 0 failed" in g.notes
    assert g.notes[0] == "spacy note"
    assert {(m.entity_id, m.chunk_id) for m in g.mentions} >= {(MARIE.id, "d:0"), (MARIE.id, "d:2")}


def test_budget_is_shared_across_documents_until_reset() -> None:
    llm = FakeLLM(*[{"triples": []}] * 4)
    refiner = LLMGraphRefiner(llm, budget_chunks=3)
    refiner.refine(base_graph(), units("d", *TEXTS))
    second = refiner.refine(DocumentGraph("e"), units("e", "A.", "B."))
    assert (refiner.used, refiner.skipped, refiner.remaining) == (3, 2, 0)
    assert "llm refinement: 0 chunks sent, 2 skipped (budget), 0 failed" in second.notes
    refiner.reset_budget()
    assert (refiner.used, refiner.skipped, refiner.remaining) == (0, 0, 3)


def test_failures_and_invalid_triples_are_skipped() -> None:
    llm = FakeLLM(
        RuntimeError("llama.cpp crashed"),
        {"triples": [triple("Curie", "PERSON", "likes", "Curie", "PERSON"),  # self loop
                     triple("Curie", "DATE", "born", "1867", "DATE"),  # types outside the schema
                     {"subject": "half a triple"},
                     triple("Curie", "PERSON", "!!!", "Sorbonne", "ORG")]},  # empty predicate
    )  # fmt: skip
    g = LLMGraphRefiner(llm, budget_chunks=5).refine(base_graph(), units("d", TEXTS[0], TEXTS[2]))
    assert g.relations == []
    assert "llm refinement: 2 chunks sent, 0 skipped (budget), 1 failed" in g.notes
    assert [e.id for e in g.entities] == [MARIE.id]


def test_arguments_validated() -> None:
    with pytest.raises(ValueError, match="budget_chunks must be >= 0, got -1"):
        LLMGraphRefiner(FakeLLM(), budget_chunks=-1)
    with pytest.raises(TypeError, match="must be callable"):
        LLMGraphRefiner("not a function", budget_chunks=1)  # type: ignore[arg-type]
