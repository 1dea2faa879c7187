"""Parse untrusted files in a separate worker process with a time limit and a memory cap.

A hostile or broken PDF can make a parser loop for hours or allocate gigabytes. The parser
therefore runs in a persistent worker process (a plain ``subprocess`` running this module's
:func:`_worker_main`) that speaks one JSON line per request and per reply over its
stdin/stdout. Before each job the worker lowers its own address-space limit
(``RLIMIT_AS``, plus a CPU-time backstop for when the parent is gone); the parent waits at
most ``timeout_s`` for the reply and kills the worker when it does not come. A dead or killed worker is replaced on the next request, so the
start-up cost (about a third of a second) is paid once, not per file.

Small text-like files (plain text, Markdown, HTML) are read in-process: their parsers are
pure Python, linear in the input, hold no native code and cannot decompress anything, so
a process hop would cost more than the parse (CSV too: the standard library's reader). PDF
(with its OCR and table steps), DOCX, PPTX, XLSX, EPUB (zip archives) and e-mail (whose
attachments may be any of these) always go to the worker, as does any suffix registered by a user.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import logging
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from ingest.base import (
    ExtractOptions,
    IngestError,
    LoadedDocument,
    LoaderError,
    TextBlock,
    UnsupportedFileError,
)
from ingest.loaders import check_readable_file, load_with, loader_for

__all__ = ["ParserPool", "check_file_size", "load_isolated", "shutdown_default_pool"]

logger = logging.getLogger(__name__)

IN_PROCESS_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".html", ".htm", ".csv"})
IN_PROCESS_MAX_BYTES = 2 * 1024 * 1024
_MB = 1024 * 1024
_READY = "ready"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent

_default_pool: ParserPool | None = None
_default_lock = threading.Lock()


def load_isolated(
    path: Path | str,
    *,
    timeout_s: float,
    memory_mb: int,
    max_pages: int | None = None,
    max_chars: int | None = None,
    max_file_mb: float | None = None,
    options: ExtractOptions | None = None,
    pool: ParserPool | None = None,
) -> LoadedDocument:
    """Read one file like :func:`ingest.loaders.load_document`, but safely.

    Args:
        path: The file to read.
        timeout_s: Wall-clock limit for parsing, in seconds.
        memory_mb: Address-space cap of the worker process while it parses, in MiB.
        max_pages: Read at most this many pages (PDF).
        max_chars: Keep at most this many characters.
        max_file_mb: Refuse files larger than this before parsing (None: no limit).
        options: OCR and table extraction switches and limits (None: the defaults). OCR runs
            within ``timeout_s``: give it room (``app.container`` adds ``ocr_timeout_s``).
        pool: The worker pool to use; None uses a shared pool of one worker.

    Raises:
        UnsupportedFileError: no loader for the suffix.
        LoaderError: "timed out after Ns", "exceeded memory cap (N MB)", "parser worker
            crashed ...", over ``max_file_mb``, or the loader's own reason.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    if memory_mb < 64:
        raise ValueError(f"memory_mb must be >= 64, got {memory_mb!r}")
    path = Path(path)
    loader = loader_for(path)
    check_readable_file(path)
    size = check_file_size(path, max_file_mb)
    if path.suffix.lower() in IN_PROCESS_SUFFIXES and size <= IN_PROCESS_MAX_BYTES:
        return load_with(loader, path, max_pages=max_pages, max_chars=max_chars, options=options)
    spec = f"{type(loader).__module__}:{type(loader).__qualname__}"
    job = {
        "path": str(path),
        "loader": spec,
        "max_pages": max_pages,
        "max_chars": max_chars,
        "options": asdict(options) if options is not None else None,
    }
    return (pool or _shared_pool()).run(job, timeout_s=timeout_s, memory_mb=memory_mb)


def check_file_size(path: Path, max_file_mb: float | None) -> int:
    """Return the file's size in bytes; raise :class:`LoaderError` when it is over ``max_file_mb``."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LoaderError(f"cannot access file: {e.strerror or e}", path) from e
    if max_file_mb is not None and size > max_file_mb * _MB:
        raise LoaderError(f"file is {size / _MB:.1f} MB, over the {max_file_mb:g} MB limit", path)
    return size


def shutdown_default_pool() -> None:
    """Stop the shared worker pool (it restarts on the next :func:`load_isolated`)."""
    global _default_pool
    with _default_lock:
        if _default_pool is not None:
            _default_pool.close()
            _default_pool = None


def _shared_pool() -> ParserPool:
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = ParserPool(size=1)
            atexit.register(shutdown_default_pool)
        return _default_pool


class ParserPool:
    """A few persistent parser worker processes, started on demand and replaced when they die.

    Args:
        size: How many files may be parsed at the same time (one worker each).
        startup_timeout_s: How long a new worker may take to report ready.

    Thread-safe: each call borrows one idle worker. Use as a context manager or call
    :meth:`close` to stop the workers.
    """

    def __init__(self, *, size: int = 1, startup_timeout_s: float = 60.0) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size!r}")
        if startup_timeout_s <= 0:
            raise ValueError(f"startup_timeout_s must be > 0, got {startup_timeout_s!r}")
        self.size = size
        self.startup_timeout_s = startup_timeout_s
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)  # a slot whose worker is started on first use
        self._closed = False

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warm_up(self) -> None:
        """Start every worker now instead of on the first file."""
        slots = [self._idle.get() for _ in range(self.size)]
        try:
            slots = [w if w is not None and w.alive else self._start() for w in slots]
        finally:
            for worker in slots:
                self._idle.put(worker)

    def run(self, job: dict[str, Any], *, timeout_s: float, memory_mb: int) -> LoadedDocument:
        """Send one job to a worker and turn its reply into a document or a :class:`LoaderError`."""
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        path = Path(job["path"])
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive:
                worker = self._start()
            reply = worker.request({**job, "memory_mb": memory_mb, "timeout_s": timeout_s}, timeout_s)
            if reply.get("recycle"):
                worker.stop()
            return _document_from_reply(reply, path, memory_mb)
        except _WorkerTimeout:
            assert worker is not None
            worker.stop()
            raise LoaderError(f"timed out after {timeout_s:g}s", path) from None
        except _WorkerDied as e:
            assert worker is not None
            worker.stop()
            raise LoaderError(f"parser worker crashed ({e})", path) from None
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop all workers (waits for busy ones to finish their current file)."""
        self._closed = True
        for _ in range(self.size):
            worker = self._idle.get()
            if worker is not None:
                worker.stop()
        for _ in range(self.size):
            self._idle.put(None)

    def _start(self) -> _Worker:
        worker = _Worker()
        worker.wait_ready(self.startup_timeout_s)
        return worker


class _WorkerTimeout(Exception):
    """The worker did not answer in time."""


class _WorkerDied(Exception):
    """The worker exited or closed its pipe."""


class _Worker:
    """One parser subprocess and its JSON-lines pipe."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-c", "from ingest.isolation import _worker_main; _worker_main()"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._buffer = b""
        logger.debug("parser worker started pid=%s", self.process.pid)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout_s: float) -> None:
        try:
            reply = self._read_reply(time.monotonic() + timeout_s)
        except (_WorkerTimeout, _WorkerDied) as e:
            self.stop()
            raise LoaderError(f"parser worker failed to start ({type(e).__name__})") from e
        if reply.get("status") != _READY:
            self.stop()
            raise LoaderError(f"parser worker sent an unexpected greeting: {reply!r}")

    def request(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(job).encode("utf-8") + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise _WorkerDied(f"pipe closed: {e}") from e
        return self._read_reply(time.monotonic() + timeout_s)

    def _read_reply(self, deadline: float) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise _WorkerTimeout()
                chunk = os.read(stdout.fileno(), 1 << 20)
                if not chunk:
                    code = self.process.wait()
                    raise _WorkerDied(f"exit code {code}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError as e:
            raise _WorkerDied(f"garbled reply: {line[:80]!r}") from e
        return reply

    def stop(self) -> None:
        """Kill the process and reap it (idempotent)."""
        if self.alive:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _document_from_reply(reply: dict[str, Any], path: Path, memory_mb: int) -> LoadedDocument:
    """Rebuild the document from a worker reply, or raise the error it reports."""
    if reply.get("ok"):
        return _document_from_dict(reply["document"])
    kind, reason = reply.get("kind"), str(reply.get("reason", "unknown error"))
    if kind == "memory":
        raise LoaderError(f"exceeded memory cap ({memory_mb} MB)", path)
    if kind == "UnsupportedFileError":
        raise UnsupportedFileError(reason, path)
    raise LoaderError(reason, path)


def _document_to_dict(document: LoadedDocument) -> dict[str, Any]:
    return {
        "path": str(document.path),
        "file_type": document.file_type,
        "blocks": [[b.text, b.page, b.section, b.kind, b.ocr, b.row_step] for b in document.blocks],
        "title": document.title,
        "author": document.author,
        "created": document.created,
        "modified": document.modified,
        "pages": document.pages,
        "warnings": list(document.warnings),
        "attachments": [_document_to_dict(a) for a in document.attachments],
        "failed_attachments": [list(f) for f in document.failed_attachments],
    }


def _document_from_dict(data: dict[str, Any]) -> LoadedDocument:
    return LoadedDocument(
        path=Path(data["path"]),
        file_type=str(data["file_type"]),
        blocks=tuple(
            TextBlock(text=t, page=p, section=s, kind=k, ocr=bool(o), row_step=int(r))
            for t, p, s, k, o, r in data["blocks"]
        ),
        title=data["title"],
        author=data["author"],
        created=data["created"],
        modified=data["modified"],
        pages=data["pages"],
        warnings=tuple(data["warnings"]),
        attachments=tuple(_document_from_dict(a) for a in data.get("attachments", ())),
        failed_attachments=tuple((str(n), str(r)) for n, r in data.get("failed_attachments", ())),
    )


# --- worker side -------------------------------------------------------------------------


def _worker_main() -> None:
    """Serve jobs from stdin until it closes. Protocol output goes to a private copy of stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    # Parser warnings travel back in LoadedDocument.warnings; only errors reach stderr here.
    logging.basicConfig(level=logging.ERROR, format="citewise-parser[%(process)d] %(name)s: %(message)s")
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the protocol
    _send(protocol, {"status": _READY})
    for line in sys.stdin:
        if line.strip():
            _send(protocol, _run_job(json.loads(line)))


def _send(stream: IO[str], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Load one file under the memory cap; report the outcome as plain data."""
    path = Path(job["path"])
    try:
        with _job_limits(int(job["memory_mb"]), float(job["timeout_s"])):
            loader = _build_loader(str(job["loader"]))
            options = ExtractOptions(**job["options"]) if job.get("options") else None
            document = load_with(
                loader, path, max_pages=job["max_pages"], max_chars=job["max_chars"], options=options
            )
        return {"ok": True, "document": _document_to_dict(document)}
    except MemoryError:
        return {"ok": False, "kind": "memory", "recycle": True}
    except IngestError as e:
        return {"ok": False, "kind": type(e).__name__, "reason": e.reason}
    except Exception as e:  # load_with wraps loader errors; this is a bug in the job itself
        return {"ok": False, "kind": "LoaderError", "reason": f"{type(e).__name__}: {e}"}


def _build_loader(spec: str) -> Any:
    """Instantiate a loader class named ``"package.module:Class"`` without arguments."""
    module_name, _, class_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls()
    except Exception as e:
        raise LoaderError(f"cannot build loader {spec} in the worker: {type(e).__name__}: {e}") from e


@contextlib.contextmanager
def _job_limits(memory_mb: int, timeout_s: float) -> Iterator[None]:
    """Cap the address space, and CPU time as a backstop, for one job; lift both afterwards.

    The parent enforces the wall-clock timeout by killing the worker. The CPU limit only
    matters if the parent has died meanwhile: a parser spinning forever then gets SIGXCPU
    instead of living on as an orphan.
    """
    try:
        import resource
    except ImportError:  # not on POSIX: no caps, the parent's timeout still applies
        yield
        return
    as_soft, as_hard = resource.getrlimit(resource.RLIMIT_AS)
    cpu_soft, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_cap = int(used.ru_utime + used.ru_stime + timeout_s) + 30
    resource.setrlimit(resource.RLIMIT_AS, (_capped(memory_mb * _MB, as_hard), as_hard))
    resource.setrlimit(resource.RLIMIT_CPU, (_capped(cpu_cap, cpu_hard), cpu_hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (as_soft, as_hard))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))


def _capped(value: int, hard: int) -> int:
    """``value``, but never above a finite hard limit."""
    import resource

    return value if hard == resource.RLIM_INFINITY else min(value, hard)
