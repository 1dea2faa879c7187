from __future__ import annotations

from pathlib import Path

import pytest

import graph.stores as stores
from graph.base import GraphStoreError
from graph.stores import open_graph_store
from graph.stores.sqlite_store import SQLiteGraphStore


def test_open_sqlite_by_name(tmp_path: Path) -> None:
    store = open_graph_store("sqlite", path=tmp_path / "g" / "graph.sqlite")
    try:
        assert isinstance(store, SQLiteGraphStore)
        assert store.stats() == {"entities": 0, "relations": 0, "mentions": 0, "documents": 0}
        assert (tmp_path / "g" / "graph.sqlite").exists()
    finally:
        store.close()


def test_unknown_backend_lists_choices() -> None:
    with pytest.raises(GraphStoreError, match=r"unknown graph backend 'neo5j'; choices: neo4j, sqlite"):
        open_graph_store("neo5j")


def test_missing_optional_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stores.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GraphStoreError, match=r"pip install 'citewise\[neo4j\]'"):
        open_graph_store("neo4j", uri="bolt://127.0.0.1:1", user="u", password="p")


def test_neo4j_store_is_lazy_and_reports_unreachable_server() -> None:
    store = open_graph_store("neo4j", uri="bolt://127.0.0.1:9", user="u", password="p")
    with pytest.raises(GraphStoreError, match="cannot open Neo4j graph store at bolt://127.0.0.1:9"):
        store.stats()
    with pytest.raises(ValueError, match="uri must look like"):
        open_graph_store("neo4j", uri="localhost", user="u", password="p")
