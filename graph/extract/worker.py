"""Graph extraction in a persistent worker process, documents in order.

Ingestion hands a document's chunks to the worker as soon as they are cut and embeds them while
the worker parses them: the embedder and spaCy then run on different cores instead of one after
the other. The worker is a ``spawn``-ed child holding its own copy of the
extractor (its model loads in the child, right after start). A job that outlives its time limit
gets the worker killed; a crashed or killed worker is replaced on the next job. Either way the
caller gets an :class:`ExtractionError` for that document only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any

from graph.base import DocumentGraph, Entity, ExtractionError, GraphExtractor, Mention, Relation, TextUnit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractionUnit:
    """A :class:`graph.base.TextUnit` reduced to what crosses the process boundary."""

    id: str
    doc_id: str
    text: str
    page_start: int | None


@dataclass(frozen=True)
class WorkerResult:
    """A document's graph and the seconds the worker spent extracting it."""

    graph: DocumentGraph
    seconds: float


@dataclass
class _Job:
    doc_id: str
    units: list[ExtractionUnit]
    limit_s: float
    started: float  # when its clock started: submitted, or the job before it was collected


class ExtractionWorker:
    """Runs a picklable :class:`GraphExtractor` in a child process, documents in submission order.

    Jobs queue in the child, so the next document can be sent while one is still extracted;
    :meth:`result` returns them oldest first. A job's clock starts when it is submitted or when
    the job before it is collected, whichever is later (the child works on one job at a time).

    Args:
        extractor: Pickled into the child (it must not hold a loaded model; the child loads its own).
        timeout_s: Time limit of a job, plus ``per_unit_s`` for each of its units.
        per_unit_s: Extra seconds allowed per unit (spaCy parses about 40 chunks a second).
    """

    def __init__(
        self, extractor: GraphExtractor, *, timeout_s: float = 120.0, per_unit_s: float = 1.0
    ) -> None:
        if timeout_s <= 0 or per_unit_s < 0:
            raise ValueError(f"timeout_s must be > 0 and per_unit_s >= 0, got {timeout_s!r}, {per_unit_s!r}")
        try:
            ForkingPickler.dumps(extractor)  # what starting the child does with it; fail here, not there
        except Exception as e:
            raise ExtractionError(
                f"{type(extractor).__name__} cannot be sent to a worker process: {e}"
            ) from e
        self.extractor = extractor
        self.timeout_s, self.per_unit_s = timeout_s, per_unit_s
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._jobs: deque[_Job] = deque()  # sent and not yet collected, oldest first

    @property
    def in_flight(self) -> int:
        """Documents submitted and not yet collected."""
        return len(self._jobs)

    def start(self) -> None:
        """Start the child (and let it load its model) unless it is already running."""
        if self._proc is not None and self._proc.is_alive():
            return
        self._kill()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self.extractor), name="citewise-graph", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        logger.debug("graph worker started pid=%s", proc.pid)

    def submit(self, doc_id: str, units: Sequence[TextUnit]) -> None:
        """Queue one document; collect it (in order) with :meth:`result`."""
        plain = [ExtractionUnit(u.id, u.doc_id, u.text, u.page_start) for u in units]
        job = _Job(doc_id, plain, self.timeout_s + self.per_unit_s * len(plain), time.monotonic())
        self._send(job)
        self._jobs.append(job)

    def result(self) -> WorkerResult:
        """Wait for the oldest job. Raises ExtractionError on its failure, a crash or its time limit."""
        if not self._jobs:
            raise RuntimeError("no document in flight")
        job = self._jobs.popleft()
        try:
            status, value, seconds = self._receive(job)
        finally:
            if self._jobs:
                self._jobs[0].started = max(self._jobs[0].started, time.monotonic())
        if status != "ok":
            raise ExtractionError(str(value))
        if value.doc_id != job.doc_id:  # cannot happen (one ordered pipe); never store a wrong graph
            self._restart()
            raise ExtractionError(f"graph worker answered for {value.doc_id!r}, expected {job.doc_id!r}")
        return WorkerResult(value, seconds)

    def _receive(self, job: _Job) -> tuple[str, Any, float]:
        """The child's reply to ``job``; on a crash or timeout, a new child gets the jobs after it."""
        if self._conn is None:
            raise ExtractionError("graph worker is not running (it could not be restarted)")
        if not self._conn.poll(max(0.0, job.started + job.limit_s - time.monotonic())):
            self._restart()
            raise ExtractionError(
                f"graph extraction timed out after {job.limit_s:.0f} s; the worker was stopped"
            )
        try:
            reply = _reply_from_json(self._conn.recv_bytes())
        except (EOFError, OSError) as e:
            code = None
            if self._proc is not None:
                self._proc.join(timeout=2.0)
                code = self._proc.exitcode
            self._restart()
            raise ExtractionError(f"graph worker crashed (exit code {code})") from e
        return reply

    def _send(self, job: _Job) -> None:
        self.start()
        assert self._conn is not None
        try:
            self._conn.send_bytes(json.dumps([job.doc_id, [asdict(u) for u in job.units]]).encode())
        except (OSError, ValueError) as e:
            self._kill()
            raise ExtractionError(f"graph worker unreachable: {e}") from e

    def _restart(self) -> None:
        """Kill the child; the jobs still queued go to a new one, their clocks restarted."""
        self._kill()
        now = time.monotonic()
        for job in list(self._jobs):
            job.started = now
            try:
                self._send(job)
            except ExtractionError:  # collected as a crash
                logger.warning("graph worker could not be restarted for doc_id=%s", job.doc_id)

    def close(self) -> None:
        """Stop the child (jobs in flight are abandoned)."""
        self._jobs.clear()
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            # Ask politely; a child that already died or closed its end is killed just below.
            with contextlib.suppress(OSError, ValueError):
                self._conn.send_bytes(b"null")
                self._proc.join(timeout=2.0)
        self._kill()

    def _kill(self) -> None:
        """Kill the child if it still runs and forget it."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5.0)
            proc.close()

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Connection, extractor: GraphExtractor) -> None:
    """The child: load the extractor's model, then answer jobs until told to stop.

    Jobs and replies cross the pipe as JSON (the child reads untrusted documents; the parent
    never unpickles what it sends back).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    warm_up = getattr(extractor, "warm_up", None)
    if callable(warm_up):
        try:
            warm_up()
        except Exception:  # reported with the first job, which fails the same way
            logger.debug("graph worker warm-up failed", exc_info=True)
    # A thread reads jobs as they come: the parent may send the next document while we are still
    # sending the last reply, and with both messages larger than the pipe's buffer neither side
    # would ever finish (the ingest hung on the sec10q filings until this).
    jobs: queue.Queue[bytes | None] = queue.Queue()

    def read_jobs() -> None:
        try:
            while True:
                jobs.put(conn.recv_bytes())
        except (EOFError, OSError):
            jobs.put(None)

    threading.Thread(target=read_jobs, name="citewise-graph-jobs", daemon=True).start()
    while True:
        data = jobs.get()
        job = json.loads(data) if data is not None else None
        if job is None:
            return
        doc_id, units = job[0], [ExtractionUnit(**u) for u in job[1]]
        t0 = time.perf_counter()
        try:
            reply: dict[str, Any] = {"status": "ok", "graph": asdict(extractor.extract(doc_id, units))}
        except Exception as e:
            reason = str(e) if isinstance(e, ExtractionError) else f"{type(e).__name__}: {e}"
            reply = {"status": "error", "reason": reason}
        reply["seconds"] = time.perf_counter() - t0
        conn.send_bytes(json.dumps(reply).encode())


def _reply_from_json(data: bytes) -> tuple[str, Any, float]:
    """(status, DocumentGraph or reason, seconds) from the child's JSON reply."""
    reply = json.loads(data)
    if reply["status"] != "ok":
        return reply["status"], reply["reason"], reply["seconds"]
    g = reply["graph"]
    graph = DocumentGraph(
        doc_id=g["doc_id"],
        entities=[Entity(**{**e, "aliases": tuple(e["aliases"])}) for e in g["entities"]],
        relations=[Relation(**r) for r in g["relations"]],
        mentions=[Mention(**m) for m in g["mentions"]],
        notes=list(g["notes"]),
    )
    return "ok", graph, reply["seconds"]


def can_run_in_worker(extractor: object) -> bool:
    """Whether ``extractor`` declares (``worker_safe``) that a pickled copy extracts the same graphs."""
    return bool(getattr(extractor, "worker_safe", False))
