"""``citewise graph`` commands on a real SQLite store behind a stand-in service."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import pytest
from click.testing import CliRunner

from app.cli_graph import graph
from graph.stores.sqlite_store import SQLiteGraphStore
from tests.contract.graph_data import MARIE, doc_a, doc_b, doc_c


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    for g in (doc_a(), doc_b(), doc_c()):
        store.upsert_document(g)
    service = SimpleNamespace(graph_store=store)

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(graph, list(args), obj=lambda: service)
        return result.exit_code, result.output

    yield invoke
    store.close()


def test_stats_json(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("stats", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["stats"] == {"entities": 10, "relations": 11, "mentions": 14, "documents": 3}
    assert data["top_entities"][0]["name"] == "Marie Curie" and data["top_entities"][0]["degree"] == 5.0


def test_stats_table(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("stats")
    assert code == 0 and "entities" in out and "Marie Curie" in out


def test_entity_by_alias(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("entity", "M. Curie", "--json")
    data = json.loads(out)
    assert code == 0 and data["entities"][0]["id"] == MARIE.id
    assert {r["type"] for r in data["relations"]} >= {"born_in", "win"}
    code, out = run("entity", "Nobody Atall")
    assert code == 1 and "no entity matches 'Nobody Atall'" in out


def test_neighbors_and_path(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("neighbors", "Warsaw", "--hops", "1", "--json")
    assert code == 0 and sorted(e["name"] for e in json.loads(out)["entities"]) == ["Marie Curie", "Warsaw"]
    code, out = run("path", "Warsaw", "Stockholm", "--json")
    assert code == 0 and [e["name"] for e in json.loads(out)["entities"]] == [
        "Warsaw", "Marie Curie", "Nobel Prize", "Stockholm"
    ]  # fmt: skip
    code, out = run("path", "Warsaw", "Alan Turing")
    assert code == 1 and "no path" in out
    code, out = run("neighbors", "Warsaw", "--hops", "9")
    assert code == 2


def test_export_to_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "g.graphml"
    code, _ = run("export", "--format", "graphml", "-o", str(target))
    assert code == 0 and nx.read_graphml(target).number_of_nodes() == 10
    code, out = run("export", "--format", "cypher")
    assert code == 0 and out.count("MERGE (e:Entity") == 10
