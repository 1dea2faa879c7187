"""A readers-writer lock for sharing one :class:`app.service.Citewise` between threads.

Searches and answers read the indexes; ingest and forget change them in place (the BM25
segments, the FAISS index). Many readers may run at once, a writer runs alone, and a waiting
writer holds back new readers so a stream of searches cannot starve an ingest. The lock is not
owned by a thread: a streamed answer may be resumed on another worker thread than the one that
started it (Starlette iterates generators in a thread pool), and it releases from there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Shared reads, exclusive writes, writers preferred; not reentrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold a shared lock for the block."""
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the exclusive lock for the block."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def status(self) -> dict[str, int | bool]:
        """Readers inside, whether a writer is inside, and writers waiting (for health reports)."""
        with self._cond:
            return {
                "readers": self._readers,
                "writing": self._writing,
                "writers_waiting": self._writers_waiting,
            }
