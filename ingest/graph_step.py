"""The graph step of ingestion: extract a stored document's graph, write it, record its status.

A document is committed to the docstore with its graph status ``pending`` (or ``off`` when the run
builds no graph), in the same transaction as its chunks. The status becomes ``done`` only once
its graph is written, so a document whose extraction did not happen (the worker crashed or hung
on it, the extractor raised, the process was killed) stays ``pending``, with the reason, across
restarts: ``citewise doctor`` reports it and ``doctor --repair`` builds it from the stored chunks.

Extraction runs in the worker process (:mod:`graph.extract.worker`) for runs of at least
``graph.worker_min_mb`` when the extractor allows it, else here. A worker that cannot be started
is no fault of the document: that document and the rest of the run are extracted here instead.
A worker that crashes or hangs on a document costs that document's graph only (it is not retried
here, where a crash would take the ingest down with it).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.base import DocumentGraph, ExtractionError, GraphExtractor, GraphStore
from graph.extract.worker import ExtractionWorker, WorkerUnavailableError, can_run_in_worker
from retrieval.base import Chunk
from retrieval.vectorstores.docstore import GRAPH_DONE, GRAPH_OFF, GRAPH_PENDING, SQLiteDocStore

log = logging.getLogger(__name__)

AddTime = Callable[[str, float], None]


@dataclass(frozen=True)
class GraphWrite:
    """What became of one document's graph: written with ``entities`` and ``notes``, or pending."""

    entities: int = 0
    notes: list[str] = field(default_factory=list)
    pending: str | None = None  # why the graph was not built; None when it was (or is not wanted)


class GraphStep:
    """One ingest run's graph extraction and writes, in a worker process or in-process.

    Args:
        extractor / graph_store: The extractor and the store, or None when the index has no graph.
        docstore: Where each document's graph status is recorded.
        build: Whether this run builds graphs (False: documents are stored ``off``, older graphs dropped).
        worker: A started extraction worker for this run, or None to extract in-process.
        add_time: Accumulates stage timings into the run's report.
    """

    def __init__(
        self,
        *,
        extractor: GraphExtractor | None,
        graph_store: GraphStore | None,
        docstore: SQLiteDocStore,
        build: bool,
        worker: ExtractionWorker | None,
        add_time: AddTime,
    ) -> None:
        self.extractor, self.graph_store, self.docstore = extractor, graph_store, docstore
        self.build = build and extractor is not None and graph_store is not None
        self.worker = worker if self.build else None
        self.add_time = add_time

    @property
    def new_status(self) -> str:
        """The status a document is committed with: ``pending`` when this run builds its graph."""
        return GRAPH_PENDING if self.build else GRAPH_OFF

    def submit(self, doc_id: str, children: Sequence[Chunk]) -> bool:
        """Hand a chunked document to the worker; False (extract in-process later) when it cannot take it."""
        if self.worker is None:
            return False
        try:
            self.worker.submit(doc_id, children)
        except ExtractionError as e:
            log.warning("graph worker unavailable, extracting in-process doc_id=%s: %s", doc_id, e)
            return False
        return True

    def discard(self) -> None:
        """Collect and drop the worker's oldest result (its document failed before it was stored)."""
        assert self.worker is not None
        with contextlib.suppress(ExtractionError):
            self.worker.result()

    def write(self, doc_id: str, children: Sequence[Chunk], *, in_worker: bool) -> GraphWrite:
        """Extract (or collect from the worker) a stored document's graph, write it, mark it done.

        A failed extraction leaves the document ``pending`` with the reason, and a note saying
        so; a failing graph store raises (the status stays ``pending``).
        """
        if self.graph_store is None:
            return GraphWrite()
        if not self.build:
            self.graph_store.delete_document(doc_id)  # a stale graph of an older version must not stay
            return GraphWrite()
        try:
            graph = self._extract(doc_id, children, in_worker)
        except Exception as e:  # this document's graph stays pending (and says why); the run goes on
            reason = str(e) if isinstance(e, ExtractionError) else f"{type(e).__name__}: {e}"
            log.warning("graph extraction failed doc_id=%s: %s", doc_id, reason)
            self.graph_store.delete_document(doc_id)  # an older version's graph must not stand in
            self.docstore.set_graph_status(doc_id, GRAPH_PENDING, reason=reason)
            note = f"graph extraction failed: {reason}; the graph is pending (`citewise doctor --repair` builds it)"
            return GraphWrite(notes=[note], pending=reason)
        t0 = time.perf_counter()
        self.graph_store.upsert_document(graph)  # also drops an older version's graph
        self.add_time("graph_store", time.perf_counter() - t0)
        self.docstore.set_graph_status(doc_id, GRAPH_DONE, entities=len(graph.entities), notes=graph.notes)
        return GraphWrite(len(graph.entities), list(graph.notes))

    def _extract(self, doc_id: str, children: Sequence[Chunk], in_worker: bool) -> DocumentGraph:
        t0 = time.perf_counter()
        if in_worker and self.worker is not None:
            try:
                result = self.worker.result()
            except WorkerUnavailableError as e:  # no child to run it: no fault of the document
                log.warning("graph worker unavailable, extracting in-process doc_id=%s: %s", doc_id, e)
            else:
                self.add_time("graph_wait", time.perf_counter() - t0)
                self.add_time("graph_extract", result.seconds)
                return result.graph
            t0 = time.perf_counter()
        assert self.extractor is not None
        graph = self.extractor.extract(doc_id, children)
        self.add_time("graph_extract", time.perf_counter() - t0)
        return graph


def open_worker(
    extractor: GraphExtractor | None,
    size_bytes: int,
    *,
    min_bytes: int = 0,
    timeout_s: float = 120.0,
    per_unit_s: float = 1.0,
) -> Any:
    """A started extraction worker, or a null context to extract in-process.

    Args:
        extractor: The extractor to run there; None (or one not ``worker_safe``) stays in-process.
        size_bytes: How much there is to extract (the bytes of a run's files).
        min_bytes: Below this, starting the worker costs more than it saves: stay in-process.
        timeout_s / per_unit_s: A document's time limit in the worker (see ExtractionWorker).
    """
    if extractor is None or not can_run_in_worker(extractor) or size_bytes < min_bytes:
        return contextlib.nullcontext(None)
    try:
        worker = ExtractionWorker(extractor, timeout_s=timeout_s, per_unit_s=per_unit_s)
        worker.start()  # its model loads while the first file is parsed and embedded
    except (ExtractionError, OSError) as e:
        log.warning("graph extraction stays in-process: %s", e)
        return contextlib.nullcontext(None)
    log.info("graph extraction in a worker process pid=%s mb=%.2f", worker.pid, size_bytes / 2**20)
    return worker


def total_bytes(files: Sequence[Path]) -> int:
    """Bytes of the files of a run (files that vanished count 0: they will fail on their own)."""
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total
