"""Graph extraction in a persistent worker process, documents in order.

Ingestion hands a document's chunks to the worker as soon as they are cut and embeds them while
the worker parses them: the embedder and spaCy then run on different cores instead of one after
the other. A job that outlives its time limit gets the worker killed; a crashed or killed worker
is replaced on the next job. Either way the caller gets an :class:`ExtractionError` for that
document only.

The worker is a plain child process, ``python -c "from graph.extract.worker import _worker_main;
_worker_main()"``, like the parser worker of :mod:`ingest.isolation`. It imports this module and
the extractor's, never the caller's program: multiprocessing's ``spawn`` start re-imports the
caller's ``__main__`` in the child, so a library user's script without an
``if __name__ == "__main__":`` guard ran again from the top at every worker start (issue 21).

The two processes talk over a socket pair in multiprocessing's length-prefixed frames. The parent
sends a JSON hello (its ``sys.path``, so the child imports what the parent can), then the
extractor as a JSON recipe (:mod:`graph.extract.transfer`: named classes and plain data), then
one JSON job per document and ``null`` to stop. The child answers in JSON only (the parent reads
untrusted documents through it): ``ready`` or the reason it
could not load the extractor, ``loaded`` once its model is (job clocks start there), then one
reply per job. A worker that cannot start or load its model raises
:class:`WorkerUnavailableError`: the document is not at fault, and the caller extracts it in-process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from graph.base import DocumentGraph, Entity, ExtractionError, GraphExtractor, Mention, Relation, TextUnit
from graph.extract import transfer

logger = logging.getLogger(__name__)

_ENTRY = "from graph.extract.worker import _worker_main; _worker_main()"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class WorkerUnavailableError(ExtractionError):
    """The worker process could not be started (or restarted); the document itself is not at fault."""


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
    :meth:`result` returns them oldest first. A job's clock starts when it is submitted, when
    the job before it is collected or when the child's model is loaded, whichever is latest (the
    child works on one job at a time, and only once its model is loaded).

    Args:
        extractor: Pickled into the child (it must not hold a loaded model; the child loads its own).
        timeout_s: Time limit of a job, plus ``per_unit_s`` for each of its units.
        per_unit_s: Extra seconds allowed per unit (spaCy parses about 40 chunks a second).
        startup_timeout_s: How long a new child may take to load the extractor and say ``ready``,
            and then to load its model. Job clocks start once the model is loaded: a restart
            under a heavy load never times out the innocent documents queued behind a crash.
    """

    def __init__(
        self,
        extractor: GraphExtractor,
        *,
        timeout_s: float = 120.0,
        per_unit_s: float = 1.0,
        startup_timeout_s: float = 120.0,
    ) -> None:
        if timeout_s <= 0 or per_unit_s < 0 or startup_timeout_s <= 0:
            raise ValueError(
                "timeout_s and startup_timeout_s must be > 0 and per_unit_s >= 0, got "
                f"{timeout_s!r}, {startup_timeout_s!r}, {per_unit_s!r}"
            )
        name = type(extractor).__name__
        if type(extractor).__module__ == "__main__":
            raise ExtractionError(
                f"{name} is defined in the running script, which a worker process cannot import"
            )
        try:
            self._payload = transfer.encode(extractor)  # what starting a child sends; fail here, not there
        except Exception as e:
            raise ExtractionError(f"{name} cannot be sent to a worker process: {e}") from e
        self.extractor = extractor
        self.timeout_s, self.per_unit_s = timeout_s, per_unit_s
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._jobs: deque[_Job] = deque()  # sent and not yet collected, oldest first
        self._loaded = False  # whether the running child has said its model is loaded
        self._unavailable: str | None = None  # why a child could not start; no other start is tried

    @property
    def pid(self) -> int | None:
        """The child's process id while one is running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def in_flight(self) -> int:
        """Documents submitted and not yet collected."""
        return len(self._jobs)

    def start(self) -> None:
        """Start the child unless it is running; returns once it has loaded the extractor.

        Raises:
            WorkerUnavailableError: the child could not start or load the extractor (then, or on
                an earlier start of this worker).
        """
        if self._proc is not None and (self._proc.poll() is None or self._jobs):
            return  # running, or dead with jobs still to collect from it (as a crash)
        self._kill()
        if self._unavailable is not None:
            raise WorkerUnavailableError(self._unavailable)
        try:
            self._proc, self._conn = _launch(self._payload, self.startup_timeout_s)
        except WorkerUnavailableError as e:
            self._unavailable = str(e)
            raise
        self._loaded = False
        logger.debug("graph worker started pid=%s", self._proc.pid)

    def submit(self, doc_id: str, units: Sequence[TextUnit]) -> None:
        """Queue one document; collect it (in order) with :meth:`result`."""
        plain = [ExtractionUnit(u.id, u.doc_id, u.text, u.page_start) for u in units]
        job = _Job(doc_id, plain, self.timeout_s + self.per_unit_s * len(plain), time.monotonic())
        try:
            self._send(job)
        except WorkerUnavailableError:
            raise
        except ExtractionError:
            if not (self._jobs and self._exited()):
                raise
            # The child died on a job before this one: collecting that one (as a crash) restarts
            # the child, and this job goes to the new one with the others, still isolated.
            logger.debug("graph worker died before doc_id=%s was sent; it is sent after the restart", doc_id)
        self._jobs.append(job)

    def result(self) -> WorkerResult:
        """Wait for the oldest job.

        Raises:
            ExtractionError: the job failed, crashed the child or ran over its time limit.
            WorkerUnavailableError: no child could be started to run the job.
        """
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
            raise WorkerUnavailableError(self._unavailable or "graph worker is not running")
        if not self._loaded:
            self._await_model(job)
        assert self._conn is not None
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
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = self._proc.wait(timeout=2.0)
            self._restart()
            raise ExtractionError(f"graph worker crashed (exit code {code})") from e
        return reply

    def _await_model(self, job: _Job) -> None:
        """Wait for a new child's model; the clocks of ``job`` and those after it start now.

        Nothing is extracted before the model is loaded, so a child that dies or stalls while
        loading it fails no document: the worker becomes unavailable and they go in-process.
        """
        assert self._conn is not None
        reason = f"graph worker did not load its model within {self.startup_timeout_s:g} s"
        message: Any = None
        try:
            if self._conn.poll(self.startup_timeout_s):
                message = json.loads(self._conn.recv_bytes())
        except (EOFError, OSError, ValueError):
            code = None
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = self._proc.wait(timeout=5.0)
            reason = f"graph worker exited while loading its model (exit code {code})"
        if not isinstance(message, dict) or message.get("status") != "loaded":
            self._unavailable = reason
            self._kill()
            raise WorkerUnavailableError(reason)
        self._loaded = True
        now = time.monotonic()
        for waiting in (job, *self._jobs):
            waiting.started = max(waiting.started, now)

    def _exited(self) -> bool:
        """Whether the child has exited (waiting a moment for one that is closing its end)."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _send(self, job: _Job) -> None:
        """Send one job, starting a child if needed.

        A send that fails leaves a child with jobs as it is: the oldest of them, which is what
        killed it, is then collected as a crash, and the others go to a new child.
        """
        self.start()
        assert self._conn is not None
        try:
            self._conn.send_bytes(json.dumps([job.doc_id, [asdict(u) for u in job.units]]).encode())
        except (OSError, ValueError) as e:
            if not self._jobs:
                self._kill()  # nothing to collect from it: the next job starts a new one
            raise ExtractionError(f"graph worker unreachable: {e}") from e

    def _restart(self) -> None:
        """Kill the child; the jobs still queued go to a new one, their clocks restarted."""
        self._kill()
        now = time.monotonic()
        for job in list(self._jobs):
            job.started = now
            try:
                self._send(job)
            except ExtractionError as e:  # collected as unavailable (no child) or as a crash
                logger.warning("graph worker could not take doc_id=%s again: %s", job.doc_id, e)

    def close(self) -> None:
        """Stop the child (jobs in flight are abandoned)."""
        self._jobs.clear()
        if self._conn is not None and self._proc is not None and self._proc.poll() is None:
            # Ask politely; a child that already died or closed its end is killed just below.
            with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
                self._conn.send_bytes(b"null")
                self._proc.wait(timeout=2.0)
        self._kill()

    def _kill(self) -> None:
        """Kill the child if it still runs, reap it and forget it."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _launch(payload: bytes, startup_timeout_s: float) -> tuple[subprocess.Popen[bytes], Connection]:
    """Start a child, hand it ``payload`` (the extractor's recipe) and wait for its ``ready``."""
    parent_end, child_end = socket.socketpair()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, str(child_end.fileno())],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except OSError as e:
        parent_end.close()
        raise WorkerUnavailableError(f"graph worker could not be started: {e}") from e
    finally:
        child_end.close()  # the child holds its own copy; ours would hide its exit from us
    conn = Connection(parent_end.detach())
    try:
        hello = {"sys_path": [p for p in sys.path if isinstance(p, str)]}
        conn.send_bytes(json.dumps(hello).encode())
        conn.send_bytes(payload)
        if not conn.poll(startup_timeout_s):
            raise WorkerUnavailableError(f"graph worker did not start within {startup_timeout_s:g} s")
        greeting = json.loads(conn.recv_bytes())
        if greeting.get("status") != "ready":
            raise WorkerUnavailableError(
                f"graph worker could not load the extractor: {greeting.get('reason')}"
            )
    except (EOFError, OSError, ValueError, WorkerUnavailableError) as e:
        conn.close()
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)
        if isinstance(e, WorkerUnavailableError):
            raise
        raise WorkerUnavailableError(
            f"graph worker exited while starting (exit code {proc.returncode})"
        ) from e
    return proc, conn


def _worker_main() -> None:
    """The child's entry point: read the hello and the extractor, say ``ready``, serve jobs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    conn = Connection(int(sys.argv[1]))
    try:
        hello = json.loads(conn.recv_bytes())
        parent_path = [p for p in hello["sys_path"] if isinstance(p, str)]
        sys.path[:] = parent_path + [p for p in sys.path if p not in parent_path]
        extractor = transfer.decode(conn.recv_bytes())  # written by our parent, never by a document
    except (EOFError, OSError):
        return
    except Exception as e:  # the extractor's class cannot be imported here, or fails to rebuild
        conn.send_bytes(json.dumps({"status": "error", "reason": f"{type(e).__name__}: {e}"}).encode())
        return
    conn.send_bytes(json.dumps({"status": "ready"}).encode())
    _serve(conn, extractor)


def _serve(conn: Connection, extractor: GraphExtractor) -> None:
    """The child: load the extractor's model, then answer jobs until told to stop.

    Jobs and replies cross the pipe as JSON (the child reads untrusted documents; the parent
    reads back nothing but JSON).
    """
    # A thread reads jobs as they come: the parent may send the next document while we are still
    # sending the last reply, and with both messages larger than the pipe's buffer neither side
    # would ever finish (the ingest hung on the sec10q filings until this). It also takes jobs
    # while the model loads, so the parent never waits on a send.
    jobs: queue.Queue[bytes | None] = queue.Queue()

    def read_jobs() -> None:
        try:
            while True:
                jobs.put(conn.recv_bytes())
        except (EOFError, OSError):
            jobs.put(None)

    threading.Thread(target=read_jobs, name="citewise-graph-jobs", daemon=True).start()
    warm_up = getattr(extractor, "warm_up", None)
    if callable(warm_up):
        try:
            warm_up()
        except Exception:  # reported with the first job, which fails the same way
            logger.debug("graph worker warm-up failed", exc_info=True)
    conn.send_bytes(json.dumps({"status": "loaded"}).encode())  # job clocks start from here
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
    """Whether ``extractor`` declares (``worker_safe``) that a copy rebuilt from its recipe extracts the same graphs."""
    return bool(getattr(extractor, "worker_safe", False))
