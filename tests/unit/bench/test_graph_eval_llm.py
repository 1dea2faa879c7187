"""bench.graph_eval's LLM-refinement scoring, with the real spaCy extractor and a stand-in refiner."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bench.graph_eval import evaluate_llm
from graph.base import DocumentGraph, Relation
from graph.extract.spacy_extractor import SpacyGraphExtractor

pytestmark = pytest.mark.integration

DOC = {
    "sents": [["Marie", "Curie", "was", "born", "in", "Warsaw", "."], ["She", "met", "Pierre", "Curie", "."]],
    "vertexSet": [
        [{"name": "Marie Curie", "type": "PER", "sent_id": 0, "pos": [0, 2]}],
        [{"name": "Warsaw", "type": "LOC", "sent_id": 0, "pos": [5, 6]}],
        [{"name": "Pierre Curie", "type": "PER", "sent_id": 1, "pos": [2, 4]}],
    ],
    "labels": [{"h": 0, "t": 1, "r": "P19"}, {"h": 0, "t": 2, "r": "P26"}],
}


class OneRightOneWrong:
    """Adds Marie Curie - Pierre Curie (gold) and Warsaw - Pierre Curie (not gold); one chunk fails."""

    def __init__(self) -> None:
        self.failed = 0

    def reset_budget(self) -> None:
        self.failed = 0

    def refine(self, graph: DocumentGraph, units: Any) -> DocumentGraph:
        ids = {e.name: e.id for e in graph.entities}
        self.failed = 1
        added = [
            Relation(ids["Marie Curie"], ids["Pierre Curie"], "married", kind="llm"),
            Relation(ids["Warsaw"], ids["Pierre Curie"], "visited", kind="llm"),
        ]
        return replace(graph, relations=[*graph.relations, *added])


def test_llm_pairs_are_scored_against_gold_beside_the_parse_relations() -> None:
    result = evaluate_llm([DOC], SpacyGraphExtractor(), OneRightOneWrong())
    assert result["documents"] == 1 and result["chunks"] == 1 and result["chunks_per_s"] > 0
    assert result["llm_relations"] == 2 and result["failed_chunks"] == 1 and result["gold_pairs"] == 2
    llm = result["pairs"]["llm"]
    assert (llm["predicted"], llm["precision"], llm["recall"]) == (2, 0.5, 0.5)
    parse = result["pairs"]["extracted"]  # "Marie Curie was born in Warsaw" -> born_in
    assert parse["precision"] == 1.0 and parse["recall"] == 0.5
