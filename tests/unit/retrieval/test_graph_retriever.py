"""GraphRetriever over an in-memory graph, with the real spaCy pipeline for entity spans."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graph.base import Entity, Relation
from retrieval.retrievers.graph_retriever import GraphRetriever

ACME = Entity("e-acme", "Acme Corp", "ORG", aliases=("Acme",))
JANE = Entity("e-jane", "Jane Doe", "PERSON")
SPRING = Entity("e-spring", "Springfield", "GPE")
BOLT = Entity("e-bolt", "Bolt Industries", "ORG")

pytestmark = pytest.mark.integration  # every test loads the real spaCy pipeline (nlp fixture)


@pytest.fixture
def graph(memory_graph_cls: Any) -> Any:
    relations = [
        Relation(JANE.id, ACME.id, "CEO_OF", chunk_id="c1"),
        Relation(JANE.id, SPRING.id, "BORN_IN", chunk_id="c2"),
        Relation(BOLT.id, SPRING.id, "cooccurs", kind="cooccurs", weight=0.4, chunk_id="c5"),
    ]
    mentions = {ACME.id: ["c1", "c3"], JANE.id: ["c1", "c2", "c4"], SPRING.id: ["c2", "c5"], BOLT.id: ["c5"]}
    return memory_graph_cls([ACME, JANE, SPRING, BOLT], relations, mentions)


def test_links_entities_named_in_the_question(graph: Any, nlp: Any) -> None:
    retriever = GraphRetriever(graph, nlp=nlp)
    assert [e.id for e in retriever.link_entities("Where was the chief executive of Acme Corp born?")] == [
        "e-acme"
    ]
    assert retriever.link_entities("What is the weather like?") == []


def test_neighbourhood_reaches_the_second_hop(graph: Any, nlp: Any) -> None:
    res = GraphRetriever(graph, nlp=nlp).search("Where was the chief executive of Acme Corp born?")
    scores = dict(res.ranked)
    # c1: mentions Acme (1) + evidence of CEO_OF (0.5) + mentions neighbour Jane (0.5); c3: Acme only;
    # c2 and c4: mention neighbour Jane only (0.5): the second hop, where the birthplace is.
    assert scores == pytest.approx({"c1": 2.0, "c3": 1.0, "c2": 0.5, "c4": 0.5})
    assert [cid for cid, _ in res.ranked] == ["c1", "c3", "c2", "c4"]
    assert res.mode == "entities" and res.entities == (ACME,)
    assert res.hop_ids == {"c2", "c4"}


def test_similarity_breaks_ties_among_structurally_equal_chunks(graph: Any, nlp: Any) -> None:
    def similarity(ids: Any) -> np.ndarray:
        return np.array([0.9 if i == "c4" else 0.1 for i in ids])

    res = GraphRetriever(graph, nlp=nlp, similarity_weight=0.5).search("Acme Corp", similarity=similarity)
    assert [cid for cid, _ in res.ranked][2:] == ["c4", "c2"]


def test_two_entities_use_the_path_between_them(graph: Any, nlp: Any) -> None:
    res = GraphRetriever(graph, nlp=nlp).search("How is Acme Corp connected to Springfield?")
    assert res.mode == "path"
    assert "Acme Corp -> Jane Doe -> Springfield" in res.notes[-1]
    top = [cid for cid, _ in res.ranked[:2]]
    assert sorted(top) == ["c1", "c2"]  # the evidence of both relations on the path


def test_whole_corpus_question_uses_communities(graph: Any, nlp: Any) -> None:
    res = GraphRetriever(graph, nlp=nlp).search("What are the main themes of these documents?")
    assert res.mode == "communities"
    assert res.notes == ("graph theme 1: Acme Corp, Bolt Industries, Jane Doe, Springfield",)
    assert res.ranked[0][0] in {"c1", "c2", "c5"} and len(res.ranked) == 5


def test_unknown_entities_give_no_hits_and_a_note(graph: Any, nlp: Any) -> None:
    res = GraphRetriever(graph, nlp=nlp).search("Who founded Globex?")
    assert res.ranked == () and "no entity" in res.notes[0]
    with pytest.raises(ValueError, match="match_threshold"):
        GraphRetriever(graph, match_threshold=120)
