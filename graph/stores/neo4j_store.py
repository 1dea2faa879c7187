"""The Neo4j graph store, through the official ``neo4j`` driver (also runs on ArcadeDB's Bolt).

Model: ``(:Entity {id, name, type, key, keys, aliases})``, ``(:Document {id})-[:HAS_ENTITY {name,
type, aliases}]->(:Entity)`` (the per-document view that ref-counts entities),
``(:Entity)-[:RELATED {type, kind, weight, doc_id, chunk_id, sentence, page}]->(:Entity)`` (the
relation type is a property: labels and relationship types never come from data) and
``(:Chunk {id, doc_id})-[:MENTIONS {doc_id, surface, page, count}]->(:Entity)``.
All Cypher is parameterized; writes are batched ``UNWIND $rows AS r ...``; reads run in read
transactions; a document is replaced in one write transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from graph.base import DocumentGraph, Entity, GraphStoreError, Relation
from graph.extract.normalize import name_key
from graph.stores.common import BaseGraphStore, merge_entity, relation_sort_key, validate_graph

if TYPE_CHECKING:
    from neo4j import Driver, ManagedTransaction

logger = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 1000

SCHEMA = (
    "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
    "CREATE CONSTRAINT document_id IF NOT EXISTS FOR (d:Document) REQUIRE d.id IS UNIQUE",
    "CREATE CONSTRAINT chunk_id IF NOT EXISTS FOR (c:Chunk) REQUIRE c.id IS UNIQUE",
    "CREATE INDEX entity_key IF NOT EXISTS FOR (e:Entity) ON (e.key)",
    "CREATE INDEX chunk_doc IF NOT EXISTS FOR (c:Chunk) ON (c.doc_id)",
    "CREATE INDEX related_doc IF NOT EXISTS FOR ()-[r:RELATED]-() ON (r.doc_id)",
)

REL_RETURN = (
    "a.id AS source_id, b.id AS target_id, r.type AS type, r.kind AS kind, r.weight AS weight, "
    "r.doc_id AS doc_id, r.chunk_id AS chunk_id, r.sentence AS sentence, r.page AS page"
)


class Neo4jGraphStore(BaseGraphStore):
    """A :class:`graph.base.GraphStore` on a Neo4j 5 server (or any Bolt server speaking its Cypher).

    Args:
        uri: Bolt URI, e.g. ``bolt://127.0.0.1:7687``.
        user: User name.
        password: Password.
        database: Database name; ``None`` uses the server's default.
    """

    def __init__(self, uri: str, user: str, password: str, database: str | None = None) -> None:
        if not uri or "://" not in uri:
            raise ValueError(f"uri must look like bolt://host:7687, got {uri!r}")
        self.uri = uri
        self._auth = (user, password)
        self.database = database
        self.notes: list[str] = []
        self._driver_obj: Driver | None = None
        self._names: list[tuple[str, str]] | None = None

    @property
    def _driver(self) -> Driver:
        """The driver, connected and with the schema in place on first use."""
        if self._driver_obj is None:
            try:
                from neo4j import GraphDatabase
            except ImportError as e:
                raise GraphStoreError(
                    "the neo4j backend needs the driver: pip install 'citewise[neo4j]'"
                ) from e
            driver = GraphDatabase.driver(self.uri, auth=self._auth)
            try:
                driver.verify_connectivity()
                self._driver_obj = driver
                self._create_schema()
            except Exception as e:
                driver.close()
                self._driver_obj = None
                raise GraphStoreError(f"cannot open Neo4j graph store at {self.uri}: {e}") from e
        return self._driver_obj

    @property
    def server_agent(self) -> str:
        """The server's agent string (``Neo4j/5.x`` or ArcadeDB's Neo4j-compatible one)."""
        return str(self._driver.get_server_info().agent)

    def _create_schema(self) -> None:
        """Create constraints and indexes; a server lacking a statement gets a note, not a failure."""
        from neo4j.exceptions import Neo4jError

        assert self._driver_obj is not None
        for statement in SCHEMA:
            try:
                with self._driver_obj.session(database=self.database) as session:
                    session.run(statement).consume()
            except Neo4jError as e:
                note = f"schema statement not supported by the server, skipped: {statement} ({e.code})"
                self.notes.append(note)
                logger.warning("neo4j schema skipped statement=%s code=%s", statement, e.code)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return self._run("execute_read", fn, *args)

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        self._names = None
        return self._run("execute_write", fn, *args)

    def _run(self, mode: str, fn: Callable[..., T], *args: Any) -> T:
        from neo4j.exceptions import DriverError, Neo4jError

        try:
            with self._driver.session(database=self.database) as session:
                result: T = getattr(session, mode)(fn, *args)
                return result
        except (Neo4jError, DriverError, OSError) as e:
            raise GraphStoreError(f"Neo4j graph store at {self.uri}: {e}") from e

    def upsert_document(self, graph: DocumentGraph) -> None:
        """Replace ``graph.doc_id``'s contribution in one write transaction."""
        validate_graph(graph)
        self._write(_upsert_tx, graph)
        logger.debug("graph upsert doc_id=%s entities=%s", graph.doc_id, len(graph.entities))

    def delete_document(self, doc_id: str) -> None:
        """Remove ``doc_id``'s contribution; entities no other document backs are removed."""
        self._write(_delete_tx, doc_id)

    def chunks_mentioning(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        query = (
            "MATCH (c:Chunk)-[:MENTIONS]->(e:Entity) WHERE e.id IN $ids "
            "RETURN DISTINCT c.id AS chunk_id, e.id AS entity_id"
        )
        rows = self._read(_fetch, query, {"ids": list(dict.fromkeys(entity_ids))})
        out: dict[str, set[str]] = {}
        for row in rows:
            out.setdefault(row["chunk_id"], set()).add(row["entity_id"])
        return {c: sorted(ids) for c, ids in sorted(out.items())}

    def relations_of(self, entity_ids: Sequence[str], limit: int = 200) -> list[Relation]:
        return sorted(self._edges(list(entity_ids)), key=relation_sort_key)[:limit]

    def stats(self) -> dict[str, int]:
        queries = {
            "entities": "MATCH (e:Entity) RETURN count(e) AS n",
            "relations": "MATCH (:Entity)-[r:RELATED]->(:Entity) RETURN count(r) AS n",
            "mentions": "MATCH (:Chunk)-[m:MENTIONS]->(:Entity) RETURN count(m) AS n",
            "documents": "MATCH (d:Document) RETURN count(d) AS n",
        }
        return {name: int(self._read(_fetch, q, {})[0]["n"]) for name, q in queries.items()}

    def close(self) -> None:
        if self._driver_obj is not None:
            self._driver_obj.close()
            self._driver_obj = None

    def _entities(self, ids: Sequence[str] | None = None) -> list[Entity]:
        ret = "RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases"
        if ids is None:
            rows = self._read(_fetch, f"MATCH (e:Entity) {ret}", {})
        else:
            rows = self._read(_fetch, f"MATCH (e:Entity) WHERE e.id IN $ids {ret}", {"ids": list(ids)})
        ents = [Entity(r["id"], r["name"], r["type"], tuple(r["aliases"] or ())) for r in rows]
        return sorted(ents, key=lambda e: e.id)

    def _edges(self, ids: Sequence[str] | None = None) -> list[Relation]:
        base = "MATCH (a:Entity)-[r:RELATED]->(b:Entity)"
        if ids is None:
            rows = self._read(_fetch, f"{base} RETURN {REL_RETURN}", {})
        else:
            params = {"ids": list(dict.fromkeys(ids))}
            rows = self._read(_fetch, f"{base} WHERE a.id IN $ids RETURN {REL_RETURN}", params)
            rows += self._read(
                _fetch, f"{base} WHERE b.id IN $ids AND NOT a.id IN $ids RETURN {REL_RETURN}", params
            )
        return [_relation(r) for r in rows]

    def _ids_by_key(self, key: str) -> list[str]:
        query = "MATCH (e:Entity) WHERE e.key = $key OR $key IN e.keys RETURN e.id AS id"
        return sorted(r["id"] for r in self._read(_fetch, query, {"key": key}))

    def _name_index(self) -> list[tuple[str, str]]:
        if self._names is None:
            query = "MATCH (e:Entity) RETURN e.id AS id, e.name AS name, e.aliases AS aliases"
            rows = self._read(_fetch, query, {})
            index = [(n, r["id"]) for r in rows for n in [r["name"], *(r["aliases"] or [])]]
            self._names = sorted(index, key=lambda x: (x[1], x[0]))
        return self._names


def _fetch(tx: ManagedTransaction, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [record.data() for record in tx.run(query, params)]


def _batched(tx: ManagedTransaction, query: str, rows: list[dict[str, Any]], **params: Any) -> None:
    for i in range(0, len(rows), BATCH):
        tx.run(query, {"rows": rows[i : i + BATCH], **params}).consume()


def _remove_doc(tx: ManagedTransaction, doc_id: str) -> set[str]:
    """Delete a document's relations, chunks and node; return the ids of entities it backed."""
    query = "MATCH (:Document {id: $doc_id})-[:HAS_ENTITY]->(e:Entity) RETURN e.id AS id"
    touched = {r["id"] for r in _fetch(tx, query, {"doc_id": doc_id})}
    tx.run(
        "MATCH (:Entity)-[r:RELATED]->(:Entity) WHERE r.doc_id = $doc_id DELETE r", doc_id=doc_id
    ).consume()
    tx.run("MATCH (c:Chunk {doc_id: $doc_id}) DETACH DELETE c", doc_id=doc_id).consume()
    tx.run("MATCH (d:Document {id: $doc_id}) DETACH DELETE d", doc_id=doc_id).consume()
    return touched


def _delete_tx(tx: ManagedTransaction, doc_id: str) -> None:
    _refresh(tx, _remove_doc(tx, doc_id))


def _upsert_tx(tx: ManagedTransaction, graph: DocumentGraph) -> None:
    doc = graph.doc_id
    touched = _remove_doc(tx, doc)
    entities = list({e.id: e for e in graph.entities}.values())
    tx.run("CREATE (:Document {id: $doc_id})", doc_id=doc).consume()
    ent_rows = [{"id": e.id, "name": e.name, "type": e.type, "aliases": sorted(e.aliases)} for e in entities]
    _batched(
        tx,
        "UNWIND $rows AS r MERGE (e:Entity {id: r.id}) ON CREATE SET e.name = r.name, e.type = r.type",
        ent_rows,
    )
    _batched(
        tx,
        "UNWIND $rows AS r MATCH (d:Document {id: $doc_id}), (e:Entity {id: r.id}) "
        "CREATE (d)-[:HAS_ENTITY {name: r.name, type: r.type, aliases: r.aliases}]->(e)",
        ent_rows,
        doc_id=doc,
    )
    chunk_rows = [{"id": c} for c in sorted({m.chunk_id for m in graph.mentions})]
    _batched(
        tx, "UNWIND $rows AS r MERGE (c:Chunk {id: r.id}) SET c.doc_id = $doc_id", chunk_rows, doc_id=doc
    )
    mention_rows = [
        {
            "entity_id": m.entity_id,
            "chunk_id": m.chunk_id,
            "surface": m.surface,
            "page": m.page,
            "count": m.count,
        }
        for m in graph.mentions
    ]
    _batched(
        tx,
        "UNWIND $rows AS r MATCH (c:Chunk {id: r.chunk_id}), (e:Entity {id: r.entity_id}) "
        "CREATE (c)-[:MENTIONS {doc_id: $doc_id, surface: r.surface, page: r.page, count: r.count}]->(e)",
        mention_rows,
        doc_id=doc,
    )
    _batched(tx, _CREATE_RELATED, [_relation_row(r, doc) for r in graph.relations])
    _refresh(tx, touched | {e.id for e in entities})


_CREATE_RELATED = (
    "UNWIND $rows AS r MATCH (a:Entity {id: r.source_id}), (b:Entity {id: r.target_id}) "
    "CREATE (a)-[:RELATED {type: r.type, kind: r.kind, weight: r.weight, doc_id: r.doc_id, "
    "chunk_id: r.chunk_id, sentence: r.sentence, page: r.page}]->(b)"
)


def _relation_row(r: Relation, doc_id: str) -> dict[str, Any]:
    return {
        "source_id": r.source_id, "target_id": r.target_id, "type": r.type, "kind": r.kind,
        "weight": float(r.weight), "doc_id": doc_id, "chunk_id": r.chunk_id, "sentence": r.sentence,
        "page": r.page,
    }  # fmt: skip


def _refresh(tx: ManagedTransaction, ids: set[str]) -> None:
    """Recompute merged entity properties from the documents' views; drop unbacked entities."""
    if not ids:
        return
    query = (
        "MATCH (d:Document)-[h:HAS_ENTITY]->(e:Entity) WHERE e.id IN $ids "
        "RETURN e.id AS id, d.id AS doc, h.name AS name, h.type AS type, h.aliases AS aliases"
    )
    grouped: dict[str, list[tuple[str, str, list[str]]]] = {}
    types: dict[str, str] = {}
    for r in _fetch(tx, query, {"ids": sorted(ids)}):
        grouped.setdefault(r["id"], []).append((r["doc"], r["name"], list(r["aliases"] or [])))
        types[r["id"]] = r["type"]
    orphans = sorted(ids - grouped.keys())
    if orphans:
        tx.run("UNWIND $ids AS i MATCH (e:Entity {id: i}) DETACH DELETE e", ids=orphans).consume()
    rows = []
    for eid, contributions in sorted(grouped.items()):
        ent = merge_entity(contributions, eid, types[eid])
        keys = sorted({name_key(n) for n in (ent.name, *ent.aliases)})
        rows.append({"id": eid, "name": ent.name, "type": ent.type, "key": name_key(ent.name), "keys": keys,
                     "aliases": list(ent.aliases)})  # fmt: skip
    _batched(
        tx,
        "UNWIND $rows AS r MATCH (e:Entity {id: r.id}) "
        "SET e.name = r.name, e.type = r.type, e.key = r.key, e.keys = r.keys, e.aliases = r.aliases",
        rows,
    )


def _relation(r: dict[str, Any]) -> Relation:
    page = r["page"]
    return Relation(
        r["source_id"], r["target_id"], r["type"], r["kind"], float(r["weight"]), r["doc_id"] or "",
        r["chunk_id"] or "", r["sentence"] or "", None if page is None else int(page),
    )  # fmt: skip
