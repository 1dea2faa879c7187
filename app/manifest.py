"""The index manifest: what a finished write session left behind, and a journal of the one under way.

``<index>/manifest.json`` holds, per store, counts and checksums (``docstore``, ``faiss``,
``bm25``, ``graph``) taken when the last write session finished, and ``state``: ``clean`` after a
finished session, ``writing`` while one runs. A ``writing`` manifest found by the next writer
(which holds the write lock, so the old one is gone) means that session was killed; its
``session`` entry (start time, whether it built the graph) tells reconciliation how to finish
its work. The file is replaced atomically (temp file, fsync, ``os.replace``, directory fsync).

Checksums are logical for the SQLite stores (sorted ids and content hashes: SQLite rewrites its
pages on checkpoints without changing content) and byte checksums for the files the other stores
write once per save (``vectors.faiss``, the BM25 manifest and segments).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from retrieval.durable import atomic_write_bytes

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class ManifestError(Exception):
    """The manifest exists but cannot be read."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum(items: Iterable[str]) -> str:
    """Order-independent SHA-256 of a collection of strings (sorted, newline-joined)."""
    digest = hashlib.sha256()
    for item in sorted(items):
        digest.update(item.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()


def manifest_path(index_dir: Path) -> Path:
    """Where the manifest of ``index_dir`` lives."""
    return Path(index_dir) / MANIFEST_NAME


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The manifest of ``index_dir``; None when there is none yet.

    Raises:
        ManifestError: the file exists but is not a manifest this version can read.
    """
    path = manifest_path(index_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ManifestError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ManifestError(f"{path} is not a version {FORMAT_VERSION} citewise manifest")
    return data


def write_manifest(index_dir: Path, data: dict[str, Any]) -> None:
    """Replace the manifest atomically: temp file in the same folder, fsync, rename, fsync the folder."""
    path = manifest_path(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({**data, "version": FORMAT_VERSION}, indent=1, sort_keys=True).encode()
    atomic_write_bytes(path, payload)


def begin_session(index_dir: Path, *, graph: bool, operation: str) -> dict[str, Any]:
    """Journal a write session before it changes anything; returns the session entry.

    The last clean snapshot (``stores``) is kept, so a reader of a ``writing`` manifest still
    sees what the index held before.
    """
    try:
        previous = read_manifest(index_dir) or {}
    except ManifestError as e:
        log.warning("manifest unreadable, starting a new one: %s", e)
        previous = {}
    session = {"pid": os.getpid(), "started_at": time.time(), "graph": graph, "operation": operation}
    write_manifest(index_dir, {**previous, "state": "writing", "session": session})
    return session


def finish_session(index_dir: Path, stores: dict[str, Any]) -> None:
    """Record the stores' counts and checksums and mark the index clean."""
    write_manifest(
        index_dir, {"state": "clean", "session": None, "written_at": time.time(), "stores": stores}
    )


def interrupted_session(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The journal entry of a session that never finished, or None."""
    if manifest and manifest.get("state") == "writing" and isinstance(manifest.get("session"), dict):
        return manifest["session"]  # type: ignore[no-any-return]
    return None


def file_checksums(index_dir: Path, store: str) -> dict[str, str]:
    """SHA-256 of each file a file-based store (``faiss`` or ``bm25``) has written."""
    index_dir = Path(index_dir)
    if store == "faiss":
        files = [index_dir / "vectors.faiss", index_dir / "vectors.json"]
    elif store == "bm25":
        folder = index_dir / "bm25"
        files = sorted(p for p in folder.glob("*") if not p.name.startswith(".")) if folder.is_dir() else []
    else:
        raise ValueError(f"no file checksums for store {store!r}: use faiss or bm25")
    return {p.name: sha256_file(p) for p in files if p.is_file()}


def snapshot_stores(
    index_dir: Path, *, docstore: Any, bm25: Any, graph_store: Any | None, graph_docs: set[str] | None
) -> dict[str, Any]:
    """Counts and checksums per store, as recorded in a clean manifest.

    Args:
        index_dir: The index directory.
        docstore: The ``SQLiteDocStore``.
        bm25: The ``BM25Index``.
        graph_store: The graph store, or None when the graph is off.
        graph_docs: The graph's document ids when the backend can list them.
    """
    records = docstore.documents()
    stamp_path = Path(index_dir) / "vectors.json"
    stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    stores: dict[str, Any] = {
        "docstore": {
            **docstore.counts(),
            "generation": docstore.generation,
            "checksum": checksum(
                f"{r.doc_id}:{r.content_hash}:{r.n_children}:{r.n_parents}" for r in records
            ),
        },
        "faiss": {
            "vectors": stamp.get("ntotal"),
            "generation": stamp.get("generation"),
            "files": file_checksums(index_dir, "faiss"),
        },
        "bm25": {
            "chunks": len(bm25),
            "documents": len(bm25.doc_ids()),
            "checksum": checksum(bm25.doc_ids()),
            "files": file_checksums(index_dir, "bm25"),
        },
    }
    if graph_store is not None:
        stores["graph"] = {**graph_store.stats()}
        if graph_docs is not None:
            stores["graph"]["checksum"] = checksum(graph_docs)
    return stores
