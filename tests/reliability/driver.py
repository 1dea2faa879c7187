"""A write session run in its own process, for tests that kill it or race it.

    python -m tests.reliability.driver INDEX (hash|real) ingest FOLDER...
    python -m tests.reliability.driver INDEX (hash|real) forget PATH

Prints ``ready`` once imports are done and the service is open, then one ``file <status>`` line
per file, then ``checkpoints {...}`` (how often each write step ran, as JSON) and the report
summary as JSON. ``hash`` uses the deterministic hash embedder (the invariants under test are
about bookkeeping); everything else is real: isolated parser workers, FAISS, BM25, the spaCy
graph extractor, the SQLite stores.

Two switches in the environment let a test synchronise with the session instead of timing it:

- ``CITEWISE_DRIVER_STEP=1``: after each ``file`` line, wait for a line on stdin before going on
  (the write lock stays held); end of input lets the session run freely.
- ``CITEWISE_DRIVER_KILL_AT=STEP#N``: on the N-th time the write step STEP starts (a name of
  :data:`CHECKPOINTS`), print ``kill STEP#N`` and SIGKILL the whole process group, exactly as an
  outside ``kill -9`` would, but at a known point of the session.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Each write step of a session, as (name, "module" or "module:Class", function). They are patched
# on the class or module, so components the doctor's repair reopens are counted too.
CHECKPOINTS: tuple[tuple[str, str, str], ...] = (
    ("parse", "ingest.isolation", "load_isolated"),
    ("chunk", "ingest.chunking:TokenChunker", "split"),
    ("embed", "tests.fakes:HashEmbedder", "embed_batch"),
    ("docstore.delete", "retrieval.vectorstores.docstore:SQLiteDocStore", "delete_document"),
    ("docstore.insert", "retrieval.vectorstores.docstore:SQLiteDocStore", "replace_document"),
    ("bm25.delete", "retrieval.bm25_store:BM25Index", "delete_document"),
    ("bm25.add", "retrieval.bm25_store:BM25Index", "add"),
    ("graph.upsert", "graph.stores.sqlite_store:SQLiteGraphStore", "upsert_document"),
    ("graph.confirm", "retrieval.vectorstores.docstore:SQLiteDocStore", "set_graph_status"),
    ("faiss.persist", "retrieval.vectorstores.faiss_store:FaissVectorStore", "persist"),
    # files replaced through retrieval.durable, by the module that writes them
    ("bm25.file", "retrieval.bm25_store", "atomic_write_bytes"),
    ("faiss.file", "retrieval.vectorstores.faiss_store", "fsync_replace"),
    ("manifest.file", "app.manifest", "atomic_write_bytes"),
)


def open_service(index: Path, embedder: str, *, cache_dir: Path | None = None, **overrides: Any) -> Any:
    """A writable service on ``index`` with the hash or the bundled embedder and the fake LLM.

    ``cache_dir`` defaults to ``CITEWISE_CACHE_DIR`` (the test session's cache), else a folder
    beside the index.
    """
    from app.service import Citewise

    overrides.setdefault("llm", {"backend": "fake", "answer_mode": "extractive"})
    cache = cache_dir or Path(os.environ.get("CITEWISE_CACHE_DIR") or index.parent / "cache")
    service = Citewise.open(index, cache_dir=cache, **overrides)
    if embedder == "hash":
        from tests.fakes import HashEmbedder

        service.__dict__["embedder"] = HashEmbedder()
    return service


class Checkpoints:
    """Counts the write steps as they start; kills the process group at the chosen one."""

    def __init__(self, kill_at: str | None) -> None:
        if kill_at and os.getpgid(0) != os.getpid():  # never kill the test run that started us
            raise SystemExit("CITEWISE_DRIVER_KILL_AT needs its own process group (start_new_session)")
        self.counts: Counter[str] = Counter()
        self.kill_at = kill_at
        self._lock = threading.Lock()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def step(*args: Any, **kwargs: Any) -> Any:
            self.reached(name)
            return fn(*args, **kwargs)

        return step

    def reached(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1
            here = f"{name}#{self.counts[name]}"
            if here == self.kill_at:
                print(f"kill {here}", flush=True)
                os.killpg(os.getpgid(0), signal.SIGKILL)

    def install(self) -> None:
        import importlib

        for name, where, attr in CHECKPOINTS:
            module_name, _, class_name = where.partition(":")
            owner = importlib.import_module(module_name)
            if class_name:
                owner = getattr(owner, class_name)
            setattr(owner, attr, self.wrap(name, getattr(owner, attr)))


def main(argv: list[str]) -> int:
    index, embedder, command, *paths = argv
    checkpoints = Checkpoints(os.environ.get("CITEWISE_DRIVER_KILL_AT"))
    checkpoints.install()
    service = open_service(Path(index), embedder)
    step = os.environ.get("CITEWISE_DRIVER_STEP") == "1"

    def progress(event: str, data: dict[str, Any]) -> None:
        nonlocal step
        if event == "file":
            print(f"file {data['outcome'].status}", flush=True)
            if step and not sys.stdin.readline():
                step = False  # the test closed our input: run on without pausing

    print("ready", flush=True)
    if command == "ingest":
        report = service.ingest(paths, prune=True, progress=progress)
        summary = report.summary()
    elif command == "forget":
        summary = {"forgot": service.forget(paths[0])}
    else:
        raise SystemExit(f"unknown command {command!r}: use ingest or forget")
    service.close()
    print(f"checkpoints {json.dumps(dict(checkpoints.counts))}", flush=True)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
