"""SQLite docstore: documents, chunks and their vectors; the source of truth of an index.

The FAISS file is a derived cache of the vectors kept here, stamped with this store's
``generation``. A crash between a SQLite commit and the FAISS write is repaired on the next open by
rebuilding FAISS from the stored vectors, without embedding anything again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.base import Chunk, VectorStoreError
from retrieval.vectorstores.filters import SQL_CONTAINS, sql_contains

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    file_type TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    pages INTEGER,
    title TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    created TEXT,
    modified TEXT,
    n_parents INTEGER NOT NULL DEFAULT 0,
    n_children INTEGER NOT NULL DEFAULT 0,
    n_entities INTEGER NOT NULL DEFAULT 0,
    ingested_at REAL NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    parent_id TEXT,
    chunk_index INTEGER NOT NULL,
    page_start INTEGER,
    page_end INTEGER,
    section TEXT NOT NULL DEFAULT '',
    n_tokens INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL,
    vector BLOB,
    ocr INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS profiles (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""

# A document's graph status, in ``extra["graph"]``: committed as "pending" with its chunks when a
# graph is wanted, "done" once the graph is written (it may hold no entity at all: "no entities
# found" is a result), "off" when the document was ingested without a graph.
GRAPH_PENDING, GRAPH_DONE, GRAPH_OFF = "pending", "done", "off"

_CHUNK_COLUMNS = (
    "c.rowid, c.id, c.doc_id, c.kind, c.parent_id, c.chunk_index, c.page_start, c.page_end, c.section, "
    "c.n_tokens, c.text, d.source, d.file_name, d.file_type, d.content_hash, d.title, d.created, d.modified, "
    "{ocr}"
)
# Columns added after the first release: name -> declaration (added to an older index on open).
_ADDED_CHUNK_COLUMNS = {"ocr": "ocr INTEGER NOT NULL DEFAULT 0"}


@dataclass(frozen=True)
class DocumentRecord:
    """One ingested file as the docstore knows it."""

    doc_id: str
    source: str
    file_name: str
    file_type: str
    content_hash: str
    size: int = 0
    mtime: float = 0.0
    pages: int | None = None
    title: str = ""
    author: str = ""
    created: str | None = None
    modified: str | None = None
    n_parents: int = 0
    n_children: int = 0
    n_entities: int = 0
    ingested_at: float = 0.0
    extra: str = "{}"

    def extra_data(self) -> dict[str, Any]:
        """The free-form ``extra`` JSON (graph status, notes, reason) as a dict."""
        data: dict[str, Any] = json.loads(self.extra or "{}")
        return data

    @property
    def graph_status(self) -> str | None:
        """``pending``, ``done`` or ``off`` (see ``GRAPH_*``); None in indexes written before it was kept."""
        status = self.extra_data().get("graph")
        return str(status) if status is not None else None


def graph_extra(status: str, *, notes: Sequence[str] = (), reason: str = "") -> str:
    """The ``extra`` JSON of a document whose graph is in ``status``.

    ``notes`` are the extractor's notes of a graph that is done (kept under ``graph_notes``, where
    the doctor of older versions looks for a confirmed graph); ``reason`` says why one is pending.
    """
    if status not in (GRAPH_PENDING, GRAPH_DONE, GRAPH_OFF):
        raise ValueError(f"unknown graph status {status!r}")
    data: dict[str, Any] = {"graph": status}
    if status == GRAPH_DONE:
        data["graph_notes"] = list(notes)
    elif reason:
        data["graph_reason"] = reason
    return json.dumps(data)


class SQLiteDocStore:
    """Documents, chunks and vectors in one SQLite file (WAL mode; safe for concurrent readers).

    Args:
        path: The database file; created with its schema when missing.
        read_only: Open without write access (UI and ``ask`` while an ingest runs).
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            if read_only:
                uri = f"file:{self.path}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(_SCHEMA)
                self._add_missing_columns()
            self._conn.execute("PRAGMA foreign_keys=ON")
            columns = {r[1] for r in self._conn.execute("PRAGMA table_info(chunks)")}
            # A read-only index written before the ocr column existed reads as having no OCR text.
            self._chunk_columns = _CHUNK_COLUMNS.format(ocr="c.ocr" if "ocr" in columns else "0")
            self._conn.create_function(SQL_CONTAINS, 2, sql_contains, deterministic=True)
        except sqlite3.Error as e:
            raise VectorStoreError(f"cannot open docstore {self.path}: {e}") from e

    def _add_missing_columns(self) -> None:
        """Bring an index written by an older release up to the current chunk columns (data kept)."""
        have = {r[1] for r in self._conn.execute("PRAGMA table_info(chunks)")}
        for name, declaration in _ADDED_CHUNK_COLUMNS.items():
            if name not in have:
                self._conn.execute(f"ALTER TABLE chunks ADD COLUMN {declaration}")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self, *, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together.

        Args:
            bump: Advance the generation (the FAISS cache's freshness stamp). Writes that do not
                change chunks or vectors (metadata, counters) pass False.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                if bump:
                    self._conn.execute(
                        "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A value of the meta table, None when unset."""
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0][0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value in its own transaction."""
        with self.transaction(bump=False) as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def generation(self) -> int:
        """Counter bumped by every committed write."""
        return int(self.get_meta("generation") or 0)

    # -- writes -----------------------------------------------------------------------------------
    def replace_document(
        self,
        conn: sqlite3.Connection,
        record: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        profile: tuple[str, np.ndarray] | None = None,
    ) -> tuple[list[int], list[int]]:
        """Inside ``conn``'s transaction, swap a document's rows for new ones.

        ``vectors`` rows belong to the child chunks in order; ``profile`` is the document's profile
        text and its vector (see ``retrieval.documents``). Returns (removed rowids, new child rowids).
        """
        removed = self.delete_document(conn, record.doc_id)
        conn.execute(
            "INSERT INTO documents VALUES (:doc_id, :source, :file_name, :file_type, :content_hash, :size, "
            ":mtime, :pages, :title, :author, :created, :modified, :n_parents, :n_children, :n_entities, "
            ":ingested_at, :extra)",
            record.__dict__,
        )
        child_rows: list[int] = []
        vec_iter = iter(vectors)
        for c in chunks:
            blob = np.asarray(next(vec_iter), dtype=np.float32).tobytes() if c.kind == "child" else None
            cur = conn.execute(
                "INSERT INTO chunks(id, doc_id, kind, parent_id, chunk_index, page_start, page_end, section, "
                "n_tokens, text, vector, ocr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    c.id,
                    c.doc_id,
                    c.kind,
                    c.parent_id,
                    c.chunk_index,
                    c.page_start,
                    c.page_end,
                    c.section,
                    c.n_tokens,
                    c.text,
                    blob,
                    int(c.ocr),
                ),
            )
            if c.kind == "child":
                child_rows.append(int(cur.lastrowid or 0))
        if profile is not None:
            text, vector = profile
            conn.execute(
                "INSERT INTO profiles(doc_id, text, vector) VALUES (?,?,?)",
                (record.doc_id, text, np.asarray(vector, dtype=np.float32).tobytes()),
            )
        return removed, child_rows

    def delete_document(self, conn: sqlite3.Connection, doc_id: str) -> list[int]:
        """Inside ``conn``'s transaction, delete a document; returns the rowids of its child chunks."""
        rows = [
            r[0]
            for r in conn.execute("SELECT rowid FROM chunks WHERE doc_id = ? AND kind = 'child'", (doc_id,))
        ]
        conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM profiles WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return rows

    def set_entity_count(self, doc_id: str, n_entities: int, extra: dict[str, Any] | None = None) -> None:
        """Record how many graph entities a document contributed (and notes) after extraction."""
        with self.transaction(bump=False) as conn:
            conn.execute("UPDATE documents SET n_entities = ? WHERE doc_id = ?", (n_entities, doc_id))
            if extra is not None:
                conn.execute("UPDATE documents SET extra = ? WHERE doc_id = ?", (json.dumps(extra), doc_id))

    def set_graph_status(
        self, doc_id: str, status: str, *, entities: int = 0, notes: Sequence[str] = (), reason: str = ""
    ) -> None:
        """Record a document's graph status (and entity count, notes or reason; see :func:`graph_extra`)."""
        extra = graph_extra(status, notes=notes, reason=reason)
        with self.transaction(bump=False) as conn:
            conn.execute(
                "UPDATE documents SET n_entities = ?, extra = ? WHERE doc_id = ?", (entities, extra, doc_id)
            )

    # -- reads ------------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, params))

    def document(self, doc_id: str) -> DocumentRecord | None:
        """The record of ``doc_id``, or None."""
        rows = self._query("SELECT * FROM documents WHERE doc_id = ?", (doc_id,))
        return DocumentRecord(*rows[0]) if rows else None

    def documents(self) -> list[DocumentRecord]:
        """Every ingested document, by source path."""
        return [DocumentRecord(*r) for r in self._query("SELECT * FROM documents ORDER BY source")]

    def profiles(self) -> list[tuple[str, str | None, np.ndarray | None]]:
        """``(doc_id, profile text, profile vector)`` of every document, None where no profile is stored.

        An index written before profiles existed has none (and, opened read-only, not even the table).
        """
        try:
            rows = self._query(
                "SELECT d.doc_id, p.text, p.vector FROM documents d LEFT JOIN profiles p USING(doc_id) "
                "ORDER BY d.doc_id"
            )
        except sqlite3.OperationalError:  # a read-only legacy index: no profiles table
            rows = [(r[0], None, None) for r in self._query("SELECT doc_id FROM documents ORDER BY doc_id")]
        return [
            (doc_id, text, np.frombuffer(blob, dtype=np.float32) if blob is not None else None)
            for doc_id, text, blob in rows
        ]

    def child_rowids_where(self, condition: str, params: Sequence[Any]) -> dict[int, str]:
        """``{rowid: chunk id}`` of the child chunks satisfying a condition from ``filters.to_sql``."""
        sql = (
            "SELECT c.rowid, c.id FROM chunks c JOIN documents d USING(doc_id) "
            f"WHERE c.kind = 'child' AND ({condition})"
        )
        return {int(rowid): cid for rowid, cid in self._query(sql, list(params))}

    def chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks for FAISS ids (missing ids are absent from the result)."""
        return {row: chunk for row, chunk in self._select_chunks("c.rowid", list(rowids))}

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by chunk id (missing ids are absent from the result)."""
        return {chunk.id: chunk for _, chunk in self._select_chunks("c.id", list(ids))}

    def _select_chunks(self, column: str, keys: list[Any]) -> Iterator[tuple[int, Chunk]]:
        for start in range(0, len(keys), 900):  # stay under SQLite's bound-parameter limit
            part = keys[start : start + 900]
            marks = ",".join("?" * len(part))
            sql = f"SELECT {self._chunk_columns} FROM chunks c JOIN documents d USING(doc_id) WHERE {column} IN ({marks})"
            for row in self._query(sql, part):
                yield int(row[0]), _row_to_chunk(row)

    def iter_chunks(self, kind: str | None = "child", doc_id: str | None = None) -> Iterator[Chunk]:
        """All chunks of ``kind`` (None: every kind), optionally of one document, in insertion order."""
        clauses, params = [], []
        if kind is not None:
            clauses.append("c.kind = ?")
            params.append(kind)
        if doc_id is not None:
            clauses.append("c.doc_id = ?")
            params.append(doc_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        for row in self._query(
            f"SELECT {self._chunk_columns} FROM chunks c JOIN documents d USING(doc_id) {where} ORDER BY c.rowid",
            params,
        ):
            yield _row_to_chunk(row)

    def vectors(self, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, vectors) of child chunks, all of them or the given ones."""
        if rowids is None:
            rows = self._query("SELECT rowid, vector FROM chunks WHERE kind = 'child' ORDER BY rowid")
        else:
            rows = []
            keys = list(rowids)
            for start in range(0, len(keys), 900):
                part = keys[start : start + 900]
                rows += self._query(
                    f"SELECT rowid, vector FROM chunks WHERE rowid IN ({','.join('?' * len(part))})", part
                )
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        dim = vecs.size // max(len(rows), 1)
        return ids, vecs.reshape(len(rows), dim) if rows else np.zeros((0, 0), dtype=np.float32)

    def rowids_for_ids(self, ids: Sequence[str]) -> dict[str, int]:
        """Map chunk ids to FAISS ids."""
        out: dict[str, int] = {}
        keys = list(ids)
        for start in range(0, len(keys), 900):
            part = keys[start : start + 900]
            for cid, row in self._query(
                f"SELECT id, rowid FROM chunks WHERE id IN ({','.join('?' * len(part))})", part
            ):
                out[cid] = int(row)
        return out

    def counts(self) -> dict[str, int]:
        """Numbers of documents, parent chunks and child chunks."""
        docs = self._query("SELECT COUNT(*) FROM documents")[0][0]
        kinds = dict(self._query("SELECT kind, COUNT(*) FROM chunks GROUP BY kind"))
        return {
            "documents": int(docs),
            "parents": int(kinds.get("parent", 0)),
            "children": int(kinds.get("child", 0)),
        }


def _row_to_chunk(row: tuple[Any, ...]) -> Chunk:
    (
        _,
        cid,
        doc_id,
        kind,
        parent_id,
        index,
        p0,
        p1,
        section,
        n_tokens,
        text,
        source,
        file_name,
        file_type,
        content_hash,
        title,
        created,
        modified,
        ocr,
    ) = row
    return Chunk(
        id=cid,
        doc_id=doc_id,
        text=text,
        source=source,
        file_name=file_name,
        file_type=file_type,
        page_start=p0,
        page_end=p1,
        section=section,
        chunk_index=index,
        parent_id=parent_id,
        content_hash=content_hash,
        title=title,
        created=created,
        modified=modified,
        kind=kind,
        n_tokens=n_tokens,
        ocr=bool(ocr),
    )


def now() -> float:
    """Wall-clock time for ``ingested_at``."""
    return time.time()
