"""The embedded graph store: one SQLite file in the index directory (WAL mode).

Each document's contribution (its view of an entity, its relations and mentions) is stored in
rows tagged with the document id, so a document is replaced or removed as a whole in one
transaction and an entity lives exactly as long as some document still backs it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from graph.base import DocumentGraph, Entity, GraphStoreError, Relation
from graph.extract.normalize import name_key
from graph.stores.common import BaseGraphStore, merge_entity, relation_sort_key, validate_graph

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (doc_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS entities (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, aliases TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS entity_docs (
    entity_id TEXT NOT NULL, doc_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (entity_id, doc_id)
);
CREATE INDEX IF NOT EXISTS entity_docs_doc ON entity_docs (doc_id);
CREATE TABLE IF NOT EXISTS names (entity_id TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS names_key ON names (key);
CREATE INDEX IF NOT EXISTS names_entity ON names (entity_id);
CREATE TABLE IF NOT EXISTS relations (
    source_id TEXT NOT NULL, target_id TEXT NOT NULL, type TEXT NOT NULL, kind TEXT NOT NULL,
    weight REAL NOT NULL, doc_id TEXT NOT NULL, chunk_id TEXT NOT NULL, sentence TEXT NOT NULL, page INTEGER
);
CREATE INDEX IF NOT EXISTS relations_source ON relations (source_id);
CREATE INDEX IF NOT EXISTS relations_target ON relations (target_id);
CREATE INDEX IF NOT EXISTS relations_doc ON relations (doc_id);
CREATE TABLE IF NOT EXISTS mentions (
    entity_id TEXT NOT NULL, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL, surface TEXT NOT NULL,
    page INTEGER, count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_entity ON mentions (entity_id);
CREATE INDEX IF NOT EXISTS mentions_doc ON mentions (doc_id);
"""

REL_COLUMNS = "source_id, target_id, type, kind, weight, doc_id, chunk_id, sentence, page"
MAX_PARAMS = 900


class SQLiteGraphStore(BaseGraphStore):
    """A :class:`graph.base.GraphStore` in one SQLite file.

    Args:
        path: The database file (created with its parent folder when missing), or ``":memory:"``.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise GraphStoreError(f"cannot open graph database {self.path}: {e}") from e
        self._lock = threading.RLock()
        self._writes = 0

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as e:
                self._db.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise GraphStoreError(f"graph database {self.path}: {e}") from e
                raise
            finally:
                self._writes += 1

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise GraphStoreError(f"graph database {self.path}: {e}") from e

    def upsert_document(self, graph: DocumentGraph) -> None:
        """Replace ``graph.doc_id``'s contribution in one transaction."""
        validate_graph(graph)
        with self._tx() as db:
            touched = _remove_doc(db, graph.doc_id)
            db.execute("INSERT INTO documents (doc_id) VALUES (?)", (graph.doc_id,))
            db.executemany(
                "INSERT INTO entity_docs (entity_id, doc_id, name, type, aliases) VALUES (?, ?, ?, ?, ?)",
                [(e.id, graph.doc_id, e.name, e.type, json.dumps(sorted(e.aliases))) for e in _unique(graph)],
            )
            db.executemany(
                f"INSERT INTO relations ({REL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.source_id,
                        r.target_id,
                        r.type,
                        r.kind,
                        r.weight,
                        graph.doc_id,
                        r.chunk_id,
                        r.sentence,
                        r.page,
                    )
                    for r in graph.relations
                ],
            )
            db.executemany(
                "INSERT INTO mentions (entity_id, chunk_id, doc_id, surface, page, count) VALUES (?, ?, ?, ?, ?, ?)",
                [(m.entity_id, m.chunk_id, graph.doc_id, m.surface, m.page, m.count) for m in graph.mentions],
            )
            _refresh_entities(db, touched | {e.id for e in graph.entities})
        logger.debug("graph upsert doc_id=%s entities=%s", graph.doc_id, len(graph.entities))

    def delete_document(self, doc_id: str) -> None:
        """Remove ``doc_id``'s contribution; entities no other document backs are removed."""
        with self._tx() as db:
            _refresh_entities(db, _remove_doc(db, doc_id))

    def chunks_mentioning(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for part in _batches(list(dict.fromkeys(entity_ids))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT DISTINCT chunk_id, entity_id FROM mentions WHERE entity_id IN ({marks})"
            for chunk_id, eid in self._rows(sql, part):
                out.setdefault(str(chunk_id), []).append(str(eid))
        return {c: sorted(ids) for c, ids in sorted(out.items())}

    def relations_of(self, entity_ids: Sequence[str], limit: int = 200) -> list[Relation]:
        return sorted(self._edges(list(entity_ids)), key=relation_sort_key)[:limit]

    def stats(self) -> dict[str, int]:
        counts = {}
        for name, table in (("entities", "entities"), ("relations", "relations"), ("mentions", "mentions")):
            counts[name] = int(self._rows(f"SELECT count(*) FROM {table}")[0][0])  # type: ignore[call-overload]
        counts["documents"] = int(self._rows("SELECT count(*) FROM documents")[0][0])  # type: ignore[call-overload]
        return counts

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _entities(self, ids: Sequence[str] | None = None) -> list[Entity]:
        if ids is None:
            rows = self._rows("SELECT id, name, type, aliases FROM entities ORDER BY id")
        else:
            rows = []
            for part in _batches(list(dict.fromkeys(ids))):
                marks = ",".join("?" * len(part))
                rows += self._rows(
                    f"SELECT id, name, type, aliases FROM entities WHERE id IN ({marks})", part
                )
            rows.sort()
        return [Entity(str(i), str(n), str(t), tuple(json.loads(str(a)))) for i, n, t, a in rows]

    def _edges(self, ids: Sequence[str] | None = None) -> list[Relation]:
        if ids is None:
            return [_relation(r) for r in self._rows(f"SELECT {REL_COLUMNS} FROM relations")]
        rows: set[tuple[object, ...]] = set()
        for part in _batches(list(dict.fromkeys(ids)), MAX_PARAMS // 2):
            marks = ",".join("?" * len(part))
            sql = (
                f"SELECT {REL_COLUMNS} FROM relations WHERE source_id IN ({marks}) OR target_id IN ({marks})"
            )
            rows.update(self._rows(sql, [*part, *part]))
        return [_relation(r) for r in rows]

    def _ids_by_key(self, key: str) -> list[str]:
        return [
            str(r[0])
            for r in self._rows("SELECT DISTINCT entity_id FROM names WHERE key = ? ORDER BY 1", (key,))
        ]

    def _name_index(self) -> list[tuple[str, str]]:
        def build() -> list[tuple[str, str]]:
            rows = self._rows("SELECT name, entity_id FROM names ORDER BY entity_id, name")
            return [(str(n), str(i)) for n, i in rows]

        return self._cached("names", build)

    def _stamp(self) -> object | None:
        """Our own commits, plus ``data_version``, which moves when another connection commits."""
        with self._lock:
            return (self._writes, self._rows("PRAGMA data_version")[0][0])


def _remove_doc(db: sqlite3.Connection, doc_id: str) -> set[str]:
    """Delete a document's rows; return the ids of entities it backed."""
    touched = {str(r[0]) for r in db.execute("SELECT entity_id FROM entity_docs WHERE doc_id = ?", (doc_id,))}
    for table in ("entity_docs", "relations", "mentions", "documents"):
        db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
    return touched


def _refresh_entities(db: sqlite3.Connection, ids: set[str]) -> None:
    """Recompute the merged entity rows (and name index) of ``ids`` from their contributions."""
    for part in _batches(sorted(ids)):
        marks = ",".join("?" * len(part))
        db.execute(f"DELETE FROM entities WHERE id IN ({marks})", part)
        db.execute(f"DELETE FROM names WHERE entity_id IN ({marks})", part)
        rows = db.execute(
            f"SELECT entity_id, doc_id, name, type, aliases FROM entity_docs WHERE entity_id IN ({marks})",
            part,
        ).fetchall()
        grouped: dict[str, list[tuple[str, str, list[str]]]] = {}
        types: dict[str, str] = {}
        for eid, doc, name, type_, aliases in rows:
            grouped.setdefault(eid, []).append((doc, name, json.loads(aliases)))
            types[eid] = type_
        for eid, contributions in grouped.items():
            ent = merge_entity(contributions, eid, types[eid])
            db.execute(
                "INSERT INTO entities (id, name, type, aliases) VALUES (?, ?, ?, ?)",
                (ent.id, ent.name, ent.type, json.dumps(list(ent.aliases))),
            )
            db.executemany(
                "INSERT INTO names (entity_id, name, key) VALUES (?, ?, ?)",
                [(ent.id, n, name_key(n)) for n in (ent.name, *ent.aliases)],
            )


def _unique(graph: DocumentGraph) -> list[Entity]:
    return list({e.id: e for e in graph.entities}.values())


def _relation(row: tuple[object, ...]) -> Relation:
    s, t, typ, kind, w, doc, chunk, sentence, page = row
    return Relation(
        str(s), str(t), str(typ), str(kind), float(w), str(doc), str(chunk), str(sentence),  # type: ignore[arg-type]
        None if page is None else int(page),  # type: ignore[call-overload]
    )  # fmt: skip


def _batches(items: list[str], size: int = MAX_PARAMS) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
