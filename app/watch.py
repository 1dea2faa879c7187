"""Folder sync: keep the index following folders as files are created, edited, renamed and deleted.

``watchdog`` reports file-system events; :class:`FolderWatcher` only remembers *which paths*
changed and, once the folders have been quiet for ``debounce_s`` (or ``max_delay_s`` after the
first change, so a file saved every second still gets in), syncs them in one go. What happens
to a path is decided then, from the disk, not from the events: a path that exists is ingested
(the pipeline skips it when size and time, or failing that its hash, are unchanged), a path that
is gone is forgotten. A burst of saves to one file therefore costs one ingest, an edit-then-delete
costs one forget, and a rename is a forget of the old name plus an ingest of the new.

Writes go through :class:`app.service.Citewise`, which holds the index's single-writer lock. When
another process holds it (a CLI ``ingest``), the batch waits and is retried: nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.service import Citewise
    from ingest.pipeline import IngestReport

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one sync did: the ingest report of the paths that exist, the sources forgotten."""

    ingested: IngestReport | None = None
    forgotten: list[str] = field(default_factory=list)
    error: str = ""


class ChangeSet:
    """Paths changed since the last sync, and when the folders were last and first touched.

    Args:
        debounce_s: Quiet time after the last change before the set is due.
        max_delay_s: A set is due this long after its first change, however busy the folders.
    """

    def __init__(self, *, debounce_s: float, max_delay_s: float) -> None:
        if debounce_s <= 0 or max_delay_s < debounce_s:
            raise ValueError(f"need 0 < debounce_s <= max_delay_s, got {debounce_s!r}, {max_delay_s!r}")
        self.debounce_s = debounce_s
        self.max_delay_s = max_delay_s
        self._paths: set[Path] = set()
        self._first = 0.0
        self._last = 0.0

    def __len__(self) -> int:
        return len(self._paths)

    def add(self, path: Path, now: float) -> None:
        """Note that ``path`` changed at time ``now``."""
        if not self._paths:
            self._first = now
        self._paths.add(path)
        self._last = now

    def wait_s(self, now: float) -> float | None:
        """Seconds until the set is due (0: due now), or None when nothing changed."""
        if not self._paths:
            return None
        due = min(self._last + self.debounce_s, self._first + self.max_delay_s)
        return max(0.0, due - now)

    def take(self) -> set[Path]:
        """Hand over the changed paths and start a new set."""
        paths, self._paths = self._paths, set()
        return paths


class FolderWatcher:
    """Watch ``folders`` and keep ``service``'s index in step with them.

    Args:
        service: The index to write to (writable, not read-only).
        folders: Folders to follow (recursively).
        debounce_s: Quiet time after the last change before syncing.
        max_delay_s: Sync at the latest this long after the first unsynced change.
        retry_s: Wait before retrying when another process holds the index's write lock.
        exclude: Glob patterns never ingested (added to ``settings.ingest.exclude``).
        graph: Build the knowledge graph (default ``settings.graph.enabled``).
        on_sync: Called with each :class:`SyncReport` (on the watcher's thread).
    """

    def __init__(
        self,
        service: Citewise,
        folders: Sequence[str | Path],
        *,
        debounce_s: float = 0.5,
        max_delay_s: float = 10.0,
        retry_s: float = 2.0,
        exclude: Sequence[str] = (),
        graph: bool | None = None,
        on_sync: Callable[[SyncReport], None] | None = None,
    ) -> None:
        from ingest.loaders import supported_suffixes

        if not folders:
            raise ValueError("no folder to watch")
        resolved = [Path(f).expanduser().resolve() for f in folders]
        missing = [str(f) for f in resolved if not f.is_dir()]
        if missing:
            raise ValueError(f"not a folder: {', '.join(missing)}")
        self.service = service
        self.folders = resolved
        self.retry_s = retry_s
        self.exclude = [*service.settings.ingest.exclude, *exclude]
        self.graph = graph
        self.on_sync = on_sync
        self._suffixes = {s.lower() for s in supported_suffixes()}
        self._changes = ChangeSet(debounce_s=debounce_s, max_delay_s=max_delay_s)
        self._cond = threading.Condition()
        self._stopping = False
        self._observer: Any = None
        self._thread: threading.Thread | None = None
        self.syncs = 0
        self.last_sync: float | None = None
        self.last_error = ""

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self, *, initial_sync: bool = True) -> SyncReport | None:
        """Start watching; first (by default) ingest the folders and forget files deleted meanwhile."""
        from watchdog.observers import Observer

        report = self._initial_sync() if initial_sync else None
        self._observer = Observer()
        handler = _handler(self)
        for folder in self.folders:
            self._observer.schedule(handler, str(folder), recursive=True)
        self._observer.start()
        self._thread = threading.Thread(target=self._run, name="citewise-watch", daemon=True)
        self._thread.start()
        log.info("watching folders=%s", [str(f) for f in self.folders])
        return report

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; a sync under way finishes first."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> FolderWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def status(self) -> dict[str, Any]:
        """Folders, unsynced changes, syncs done, the last sync's time and error (for /health)."""
        with self._cond:
            pending = len(self._changes)
        return {
            "folders": [str(f) for f in self.folders],
            "pending": pending,
            "syncs": self.syncs,
            "last_sync": self.last_sync,
            "last_error": self.last_error,
        }

    # -- events ---------------------------------------------------------------------------------------
    def wants(self, path: Path, *, is_dir: bool) -> bool:
        """Whether a change at ``path`` matters: not hidden, not excluded, a supported file type."""
        inside = next((path.relative_to(f) for f in self.folders if path.is_relative_to(f)), None)
        if inside is None or any(part.startswith(".") for part in inside.parts):
            return False  # hidden files and folders (.git, editor swap files), as ingest skips them
        if any(fnmatch(str(path), pattern) or fnmatch(path.name, pattern) for pattern in self.exclude):
            return False
        return is_dir or path.suffix.lower() in self._suffixes

    def notice(self, path: Path, *, is_dir: bool = False) -> None:
        """Record a change at ``path`` (called from watchdog's thread)."""
        if not self.wants(path, is_dir=is_dir):
            return
        with self._cond:
            self._changes.add(path, time.monotonic())
            self._cond.notify_all()

    # -- syncing --------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    wait = self._changes.wait_s(time.monotonic())
                    if wait == 0.0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                paths = self._changes.take()
            self._sync(paths)

    def _sync(self, paths: set[Path]) -> None:
        from app.service import IndexBusyError

        report = SyncReport()
        present = sorted(p for p in paths if p.exists())
        gone = sorted(p for p in paths if not p.exists())
        try:
            if present:
                report.ingested = self.service.ingest(present, exclude=self.exclude, graph=self.graph)
            for path in self._indexed(gone):
                report.forgotten += self.service.forget(path)
        except IndexBusyError as e:
            log.info("index busy, sync retried in %ss: %s", self.retry_s, e)
            self._retry(paths)
            return
        except Exception as e:  # a sync that fails must not end the watcher; the next change retries
            log.exception("folder sync failed paths=%s", len(paths))
            report.error = f"{type(e).__name__}: {e}"
        self.syncs += 1
        self.last_sync = time.time()
        self.last_error = report.error
        if self.on_sync is not None:
            self.on_sync(report)

    def _indexed(self, gone: list[Path]) -> list[Path]:
        """The vanished paths that are, or hold, indexed documents (others need no write session)."""
        if not gone:
            return []
        sources = [Path(d.source) for d in self.service.documents()]
        return [p for p in gone if any(s == p or s.is_relative_to(p) for s in sources)]

    def _retry(self, paths: set[Path]) -> None:
        with self._cond:
            if self._cond.wait_for(lambda: self._stopping, timeout=self.retry_s):
                return
            now = time.monotonic()
            for path in paths:
                self._changes.add(path, now - self._changes.debounce_s)

    def _initial_sync(self) -> SyncReport:
        report = SyncReport()
        report.ingested = self.service.ingest(
            self.folders, exclude=self.exclude, prune=True, graph=self.graph
        )
        self.syncs += 1
        self.last_sync = time.time()
        if self.on_sync is not None:
            self.on_sync(report)
        return report


def _handler(watcher: FolderWatcher) -> Any:
    """A watchdog event handler that turns events into :meth:`FolderWatcher.notice` calls."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            kind = event.event_type
            if kind in ("opened", "closed_no_write") or (event.is_directory and kind == "modified"):
                return
            watcher.notice(Path(_text(event.src_path)), is_dir=event.is_directory)
            if event.dest_path:
                watcher.notice(Path(_text(event.dest_path)), is_dir=event.is_directory)

    return Handler()


def _text(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
