"""One contract for every GraphStore backend: SQLite and Neo4j (on a real ArcadeDB Bolt server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.base import DocumentGraph, GraphStore, GraphStoreError, Relation
from tests.contract.graph_data import (
    BLETCHLEY,
    MANCHESTER,
    MARIE,
    NOBEL,
    PARIS,
    PIERRE,
    SORBONNE,
    STOCKHOLM,
    TURING,
    VARIANTS,
    WARSAW,
    doc_a,
    doc_a_small,
    doc_b,
    doc_c,
)
from tests.support.arcadedb import ArcadeDBServer

pytestmark = pytest.mark.integration


def load_all(store: GraphStore, *graphs: DocumentGraph) -> GraphStore:
    for g in graphs:
        store.upsert_document(g)
    return store


def reference_pagerank(*graphs: DocumentGraph) -> dict[str, float]:
    """PageRank of the documents' relations as one undirected graph, parallel edges' weights summed.

    Built here from the hand-made input, not read from a store, so it checks what the store
    assembled (nodes, merged entities, weights) as well as the ranking itself.
    """
    graph = nx.Graph()
    for doc in graphs:
        graph.add_nodes_from(e.id for e in doc.entities)
        for r in doc.relations:
            weight = graph.get_edge_data(r.source_id, r.target_id, {"weight": 0.0})["weight"]
            graph.add_edge(r.source_id, r.target_id, weight=weight + r.weight)
    return nx.pagerank(graph, weight="weight")  # type: ignore[no-any-return]


def names(entities: Any) -> list[str]:
    return [e.name for e in entities]


def test_upsert_counts_and_merged_entity(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    assert store.stats() == {"entities": 10, "relations": 11, "mentions": 14, "documents": 3}
    marie = store.find_entities("Marie Curie")[0]
    assert marie.id == MARIE.id
    assert marie.type == "PERSON"
    assert marie.aliases == ("Curie", "M. Curie")


def test_delete_removes_orphans_and_keeps_shared_entity(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    store.delete_document("b")
    assert store.stats() == {"entities": 8, "relations": 9, "mentions": 11, "documents": 2}
    assert (
        store.find_entities("Nobel Prize", limit=1) == []
        or store.find_entities("Nobel Prize")[0].id != NOBEL.id
    )
    marie = store.find_entities("Marie Curie")[0]
    assert marie.id == MARIE.id and marie.aliases == ("Curie",)
    assert [r.type for r in store.relations_of([MARIE.id]) if r.doc_id == "b"] == []
    store.delete_document("a")
    assert store.stats() == {"entities": 3, "relations": 3, "mentions": 4, "documents": 1}
    assert store.find_entities("Marie Curie") == []
    store.delete_document("does-not-exist")
    assert store.stats()["documents"] == 1


def test_replace_document_drops_old_contribution(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b())
    store.upsert_document(doc_a_small())
    assert store.stats() == {"entities": 5, "relations": 3, "mentions": 6, "documents": 2}
    assert (
        store.find_entities("Pierre Curie", limit=1) == []
        or store.find_entities("Pierre Curie")[0].id != PIERRE.id
    )
    assert sorted(r.type for r in store.relations_of([MARIE.id])) == ["born_in", "win"]
    assert store.chunks_mentioning([SORBONNE.id]) == {"a:5": [SORBONNE.id]}


def test_find_exact_alias_and_fuzzy(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    assert names(store.find_entities("marie  curie"))[:1] == ["Marie Curie"]
    assert names(store.find_entities("M. Curie", limit=1)) == ["Marie Curie"]
    assert names(store.find_entities("Turing", limit=1)) == ["Alan Turing"]
    assert names(store.find_entities("Bletchly Prak", limit=1)) == ["Bletchley Park"]
    assert "Marie Curie" in names(store.find_entities("Curie", limit=3))
    assert store.find_entities("Zanzibar Quantum Holdings") == []
    assert store.find_entities("") == []


def test_neighbors_k_hop(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    one = store.neighbors([WARSAW.id], hops=1)
    assert {e.id for e in one.entities} == {WARSAW.id, MARIE.id}
    assert [(r.source_id, r.type, r.target_id) for r in one.relations] == [(MARIE.id, "born_in", WARSAW.id)]
    two = store.neighbors([WARSAW.id], hops=2)
    assert {e.id for e in two.entities} == {WARSAW.id, MARIE.id, PIERRE.id, SORBONNE.id, PARIS.id, NOBEL.id}
    assert one.entities[0].id == WARSAW.id
    cooc = [r for r in two.relations if r.kind == "cooccurs"]
    assert [(r.source_id, r.target_id, r.weight) for r in cooc] == [(MARIE.id, PIERRE.id, 2.0)]
    capped = store.neighbors([WARSAW.id], hops=3, limit=3)
    assert len(capped.entities) == 3 and capped.entities[:2] == one.entities
    assert store.neighbors(["ent_missing"], hops=2).entities == ()


def test_chunks_mentioning(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    assert store.chunks_mentioning([MARIE.id, STOCKHOLM.id]) == {
        "a:0": [MARIE.id],
        "a:1": [MARIE.id],
        "a:2": [MARIE.id],
        "b:0": sorted([MARIE.id, STOCKHOLM.id]),
    }
    assert store.chunks_mentioning([]) == {}


def test_relations_of_keep_evidence(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    rels = store.relations_of([WARSAW.id])
    assert rels == [Relation(MARIE.id, WARSAW.id, "born_in", "extracted", 1.0, "a", "a:0",
                             "Marie Curie was born in Warsaw.", 1)]  # fmt: skip
    paris = store.relations_of([PARIS.id])
    assert len(paris) == 1 and paris[0].page is None and paris[0].sentence == "Curie moved to Paris."
    marie = store.relations_of([MARIE.id])
    assert [r.kind for r in marie] == ["extracted"] * 5 + ["cooccurs"]
    assert len(store.relations_of([MARIE.id], limit=2)) == 2


def test_shortest_path(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    path = store.shortest_path(WARSAW.id, STOCKHOLM.id)
    assert [e.id for e in path.entities] == [WARSAW.id, MARIE.id, NOBEL.id, STOCKHOLM.id]
    assert [r.type for r in path.relations] == ["born_in", "win", "award_in"]
    assert path.relations[1].sentence == "M. Curie won the Nobel Prize."
    assert store.shortest_path(WARSAW.id, STOCKHOLM.id, max_hops=2).entities == ()
    assert store.shortest_path(WARSAW.id, TURING.id).entities == ()
    # marry (extracted) is preferred over the co-occurrence edge between the same two people
    assert [r.type for r in store.shortest_path(PIERRE.id, MARIE.id).relations] == ["marry"]


def test_top_entities(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    top = store.top_entities(k=3, by="degree")
    assert [(e.name, s) for e, s in top] == [
        ("Marie Curie", 5.0),
        ("Alan Turing", 2.0),
        ("Bletchley Park", 2.0),
    ]
    pr = store.top_entities(k=20, by="pagerank")
    expected = reference_pagerank(doc_a(), doc_b(), doc_c())
    assert len(pr) == len(expected) == 10 and pr[0][0].id == MARIE.id
    assert {e.id: score for e, score in pr} == pytest.approx(expected, rel=1e-6)
    assert [score for _, score in pr] == sorted((score for _, score in pr), reverse=True)
    assert store.top_entities(k=1, by="pagerank") == pr[:1]
    with pytest.raises(ValueError, match="by must be"):
        store.top_entities(by="size")  # type: ignore[arg-type]


def test_communities(store: GraphStore) -> None:
    assert store.communities() == []
    load_all(store, doc_a(), doc_b(), doc_c())
    comms = store.communities(min_size=3)
    turing = [c for c in comms if TURING.id in c.entity_ids]
    assert len(turing) == 1 and set(turing[0].entity_ids) == {TURING.id, BLETCHLEY.id, MANCHESTER.id}
    assert turing[0].size == 3
    curie = [c for c in comms if MARIE.id in c.entity_ids]
    assert len(curie) == 1 and curie[0].top_names[0] == "Marie Curie"
    assert all(TURING.id not in c.entity_ids for c in curie)
    assert [c.id for c in comms] == list(range(len(comms)))
    assert sum(c.size for c in store.communities(min_size=1)) == 10


def test_export_graphml_parses(store: GraphStore) -> None:
    load_all(store, doc_a(), doc_b(), doc_c())
    graph = nx.parse_graphml(store.export("graphml"))
    assert graph.number_of_nodes() == 10
    assert graph.nodes[MARIE.id]["name"] == "Marie Curie"
    assert json.loads(graph.nodes[MARIE.id]["aliases"]) == ["Curie", "M. Curie"]
    assert graph.number_of_edges() == 11
    born = [d for _, t, d in graph.out_edges(MARIE.id, data=True) if d["type"] == "born_in"]
    assert born[0]["page"] == 1 and born[0]["sentence"] == "Marie Curie was born in Warsaw."
    with pytest.raises(ValueError, match="fmt must be"):
        store.export("csv")  # type: ignore[arg-type]


def test_export_cypher_loads_into_bolt_server(store: GraphStore, arcadedb: ArcadeDBServer) -> None:
    from neo4j import GraphDatabase

    load_all(store, doc_a(), doc_b(), doc_c())
    store.upsert_document(_quoted_doc())
    script = store.export("cypher")
    name = arcadedb.create_database(f"cypher_{abs(hash(script)) % 10**8}")
    try:
        auth = (arcadedb.user, arcadedb.password)
        with (
            GraphDatabase.driver(arcadedb.bolt_uri, auth=auth) as driver,
            driver.session(database=name) as session,
        ):
            for line in script.splitlines():
                session.run(line.rstrip(";")).consume()  # type: ignore[arg-type]
            n_ent = session.run("MATCH (e:Entity) RETURN count(e) AS n").single()["n"]  # type: ignore[index]
            n_rel = session.run("MATCH ()-[r:RELATED]->() RETURN count(r) AS n").single()["n"]  # type: ignore[index]
            odd = session.run(
                "MATCH (e:Entity {name: $n}) RETURN e.aliases AS a", n="O'Brien \\ Sons"
            ).single()
    finally:
        arcadedb.drop_database(name)
    assert (n_ent, n_rel) == (12, 12)
    assert odd is not None and list(odd["a"]) == ['The "Sons"']


def _quoted_doc() -> DocumentGraph:
    from tests.contract.graph_data import ent, rel

    odd = ent("O'Brien \\ Sons", "ORG", 'The "Sons"')
    line = ent("Line\nBreak", "ORG")
    return DocumentGraph(
        doc_id="q", entities=[odd, line], relations=[rel(odd, line, "own", "q", "q:0", "It's\n odd.", None)]
    )


def test_rejects_undeclared_entities(store: GraphStore) -> None:
    bad = DocumentGraph(doc_id="x", entities=[MARIE], relations=[doc_a().relations[0]])
    with pytest.raises(GraphStoreError, match="undeclared"):
        store.upsert_document(bad)
    assert store.stats()["documents"] == 0


# --- the incremental invariant -------------------------------------------------------------

Op = tuple[str, str, int]
ops_strategy = st.lists(
    st.tuples(st.sampled_from(["upsert", "delete"]), st.sampled_from(sorted(VARIANTS)), st.integers(0, 1)),
    min_size=1,
    max_size=7,
)


def snapshot(store: GraphStore) -> dict[str, Any]:
    """Everything observable about a store through the public API, in canonical form."""
    graph = nx.parse_graphml(store.export("graphml"))
    ids = sorted(graph.nodes)
    return {
        "stats": store.stats(),
        "nodes": sorted((n, tuple(sorted(d.items()))) for n, d in graph.nodes(data=True)),
        "edges": sorted((s, t, tuple(sorted(d.items()))) for s, t, d in graph.edges(data=True)),
        "relations": sorted(store.relations_of(ids, limit=10_000), key=repr),
        "chunks": store.chunks_mentioning(ids),
    }


def apply(store: GraphStore, ops: list[Op]) -> dict[str, DocumentGraph]:
    final: dict[str, DocumentGraph] = {}
    for op, doc, variant in ops:
        if op == "upsert":
            makers = VARIANTS[doc]
            final[doc] = makers[variant % len(makers)]()
            store.upsert_document(final[doc])
        else:
            final.pop(doc, None)
            store.delete_document(doc)
    return final


def check_invariant(make_store: Callable[[], GraphStore], ops: list[Op]) -> None:
    incremental = make_store()
    final = apply(incremental, ops)
    scratch = load_all(make_store(), *(final[d] for d in sorted(final)))
    assert snapshot(incremental) == snapshot(scratch)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops_strategy)
def test_incremental_equals_from_scratch_sqlite(
    sqlite_factory: Callable[[], GraphStore], ops: list[Op]
) -> None:
    check_invariant(sqlite_factory, ops)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops_strategy)
def test_incremental_equals_from_scratch_neo4j(
    neo4j_factory: Callable[[], GraphStore], ops: list[Op]
) -> None:
    check_invariant(neo4j_factory, ops)


def test_incremental_fixed_sequence(make_store: Callable[[], GraphStore]) -> None:
    ops: list[Op] = [("upsert", "a", 0), ("upsert", "b", 0), ("upsert", "c", 0), ("upsert", "a", 1),
                     ("delete", "c", 0), ("upsert", "a", 0), ("delete", "b", 0), ("upsert", "c", 0)]  # fmt: skip
    check_invariant(make_store, ops)


def test_sqlite_reader_caches_follow_writes_of_another_handle(tmp_path: Path) -> None:
    """Name keys and adjacency are cached per reader; a commit by another handle invalidates them."""
    from graph.stores.sqlite_store import SQLiteGraphStore

    writer, reader = SQLiteGraphStore(tmp_path / "g.sqlite"), SQLiteGraphStore(tmp_path / "g.sqlite")
    try:
        writer.upsert_document(doc_a())
        assert reader.shortest_path(WARSAW.id, STOCKHOLM.id).entities == ()
        assert names(reader.find_entities("Bletchly Prak", limit=1)) == []
        writer.upsert_document(doc_b())
        writer.upsert_document(doc_c())
        path = reader.shortest_path(WARSAW.id, STOCKHOLM.id)
        assert [e.id for e in path.entities] == [WARSAW.id, MARIE.id, NOBEL.id, STOCKHOLM.id]
        assert names(reader.find_entities("Bletchly Prak", limit=1)) == ["Bletchley Park"]
        writer.delete_document("b")
        assert reader.shortest_path(WARSAW.id, STOCKHOLM.id).entities == ()
        # the reader's own writes invalidate its caches too
        reader.upsert_document(doc_b())
        assert len(reader.shortest_path(WARSAW.id, STOCKHOLM.id).entities) == 4
    finally:
        writer.close()
        reader.close()
