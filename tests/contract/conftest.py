"""Graph-store backends for the contract suite: SQLite on tmp_path, Neo4jGraphStore on ArcadeDB.

The ArcadeDB server (Bolt plugin) is started once per session from the ``arcadedb-embedded``
package; every store gets a fresh database. If the server cannot start the tests error with
its log: they are never skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graph.base import GraphStore
from graph.stores.neo4j_store import Neo4jGraphStore
from graph.stores.sqlite_store import SQLiteGraphStore
from tests.support.arcadedb import ArcadeDBServer

StoreFactory = Callable[[], GraphStore]
_names = itertools.count()


@pytest.fixture(scope="session")
def arcadedb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArcadeDBServer]:
    """A running ArcadeDB server with Bolt on 127.0.0.1, stopped at the end of the session."""
    server = ArcadeDBServer(root=tmp_path_factory.mktemp("arcadedb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _sqlite_factory(tmp_path: Path, opened: list[GraphStore]) -> StoreFactory:
    def make() -> GraphStore:
        store = SQLiteGraphStore(tmp_path / f"graph_{next(_names)}.sqlite")
        opened.append(store)
        return store

    return make


def _neo4j_factory(server: ArcadeDBServer, opened: list[GraphStore], dbs: list[str]) -> StoreFactory:
    def make() -> GraphStore:
        name = server.create_database(f"g{next(_names)}")
        dbs.append(name)
        store = Neo4jGraphStore(server.bolt_uri, server.user, server.password, database=name)
        opened.append(store)
        return store

    return make


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of fresh SQLite stores under ``tmp_path``."""
    opened: list[GraphStore] = []
    yield _sqlite_factory(tmp_path, opened)
    for store in opened:
        store.close()


@pytest.fixture
def neo4j_factory(arcadedb: ArcadeDBServer) -> Iterator[StoreFactory]:
    """A factory of fresh Neo4j stores, each on its own new ArcadeDB database (dropped afterwards)."""
    opened: list[GraphStore] = []
    dbs: list[str] = []
    yield _neo4j_factory(arcadedb, opened, dbs)
    for store in opened:
        store.close()
    for name in dbs:
        arcadedb.drop_database(name)


@pytest.fixture(params=["sqlite", "neo4j"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    """A factory of fresh, empty stores of the backend under test."""
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_factory")
    return factory


@pytest.fixture
def store(make_store: StoreFactory) -> GraphStore:
    """One fresh, empty store of the backend under test."""
    return make_store()
