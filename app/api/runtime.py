"""What the running API holds: the one service, the generation queue, readiness and the folder watcher."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.service import Citewise
    from app.watch import FolderWatcher

log = logging.getLogger(__name__)


class QueueFullError(Exception):
    """More generation requests are waiting than ``api.max_queued`` allows."""


class GenerationQueue:
    """Admits ``slots`` answer generations at a time; the rest wait in arrival order.

    The local llama.cpp model has one slot (it generates one answer at a time in-process); the
    ``openai_compat`` backend has ``api.remote_generations``. Waiting happens on the event loop,
    so queued requests hold no worker thread and searches keep being served.
    """

    def __init__(self, slots: int, *, max_waiting: int) -> None:
        if slots < 1 or max_waiting < 0:
            raise ValueError(f"need slots >= 1 and max_waiting >= 0, got {slots}, {max_waiting}")
        self.slots = slots
        self.max_waiting = max_waiting
        self.running = 0
        self.waiting = 0
        self.served = 0
        self._sem: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a free slot and hold it for the block.

        Raises:
            QueueFullError: ``max_waiting`` requests are already waiting.
        """
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.slots)
        if self.full():
            raise QueueFullError(
                f"{self.waiting} answers are already waiting for the model; retry in a few seconds"
            )
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self.served += 1
            self._sem.release()

    def full(self) -> bool:
        """Whether one more request would exceed ``max_waiting``."""
        return self.waiting >= self.max_waiting and self.running >= self.slots

    def status(self) -> dict[str, int]:
        return {"slots": self.slots, "running": self.running, "waiting": self.waiting, "served": self.served}


class Runtime:
    """The API's state: built by :func:`app.api.app.create_app`, warmed up in the background.

    Args:
        service: The index every route reads and writes (shared by all requests).
        watch: Folders to keep in sync (``citewise serve --watch``).
        warm: Load the embedder, the indexes and the LLM before reporting ready.
    """

    def __init__(self, service: Citewise, *, watch: Sequence[Path] = (), warm: bool = True) -> None:
        settings = service.settings
        self.service = service
        self.settings = settings
        self.started = time.time()
        local = settings.llm.backend != "openai_compat"
        self.generation_backend = settings.llm.backend
        self.queue = GenerationQueue(
            1 if local else settings.api.remote_generations, max_waiting=settings.api.max_queued
        )
        self.watch_folders = list(watch)
        self.watcher: FolderWatcher | None = None
        self.warm = warm
        self.ready = threading.Event()
        self.warm_error = ""
        self._thread: threading.Thread | None = None

    def generates(self, mode: str | None) -> bool:
        """Whether an answer in ``mode`` calls the LLM (and so takes a generation slot)."""
        return (mode or self.settings.llm.answer_mode) == "llm"

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Warm up (and start the watcher) on a background thread; ``ready`` is set when done."""
        self._thread = threading.Thread(target=self._warm_up, name="citewise-warmup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.service.close()

    def _warm_up(self) -> None:
        t0 = time.perf_counter()
        try:
            if self.warm:
                self._load_components()
            if self.watch_folders:
                self._start_watcher()
        except Exception as e:  # reported by /ready; the process stays up to say why
            log.exception("warm-up failed")
            self.warm_error = f"{type(e).__name__}: {e}"
            return
        log.info("ready in %.1fs", time.perf_counter() - t0)
        self.ready.set()

    def _load_components(self) -> None:
        service = self.service
        service.embedder.embed(["warm up"])
        service.stats()  # opens the docstore and FAISS
        _ = service.retriever  # BM25, the graph store, the retriever
        if service.settings.llm.answer_mode == "llm":
            llm = service.chain.llm  # None when no model can be loaded: answers are then extractive
            if llm is not None and service.settings.llm.backend == "llamacpp":
                llm.count_tokens("warm up")  # reads the GGUF now rather than in the first answer

    def _start_watcher(self) -> None:
        from app.watch import FolderWatcher

        self.watcher = FolderWatcher(
            self.service,
            self.watch_folders,
            debounce_s=self.settings.api.watch_debounce_s,
            on_sync=_log_sync,
        )
        self.watcher.start()

    # -- reports ------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Liveness and load: the generation queue, readers and writers of the index, the watcher."""
        return {
            "status": "ok",
            "ready": self.ready.is_set(),
            "uptime_s": round(time.time() - self.started, 1),
            "generation": {
                "backend": self.generation_backend,
                "parallel": self.generation_backend == "openai_compat",
                **self.queue.status(),
            },
            "index": self.service.gate.status(),
            "watch": self.watcher.status() if self.watcher is not None else None,
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether requests can be served now, and why not."""
        if self.ready.is_set():
            return True, {"ready": True}
        if self.warm_error:
            return False, {"ready": False, "reason": f"warm-up failed: {self.warm_error}"}
        return False, {"ready": False, "reason": "loading the models and indexes"}


def _log_sync(report: Any) -> None:
    ingested = report.ingested
    changed = [o for o in (ingested.outcomes if ingested else []) if o.status != "unchanged"]
    for outcome in changed:
        log.info("watch %s path=%s reason=%s", outcome.status, outcome.path, outcome.reason)
    for source in report.forgotten:
        log.info("watch removed path=%s", source)
    if report.error:
        log.warning("watch sync failed: %s", report.error)
