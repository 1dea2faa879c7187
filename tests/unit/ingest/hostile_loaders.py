"""Loaders that misbehave on purpose, for the isolation tests.

They live in an importable module (``tests.unit.ingest.hostile_loaders``) because the parser
worker rebuilds a loader from its class's import path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from ingest.base import LoadedDocument, TextBlock


class SleepyLoader:
    """Never finishes in reasonable time, like a parser stuck in a loop.

    It first writes ``<file>.started`` beside its input, so a test can tell whether it ran.
    """

    suffixes: Sequence[str] = (".sleepy",)

    def load(self, path: Path) -> LoadedDocument:
        started_marker(path).write_text(str(os.getpid()))
        time.sleep(120)
        return LoadedDocument(path=path, file_type="sleepy", blocks=(TextBlock(text="woke up"),))


def started_marker(path: Path) -> Path:
    """The file :class:`SleepyLoader` writes when it starts on ``path``."""
    return path.with_name(path.name + ".started")


class GreedyLoader:
    """Allocates memory in 64 MiB steps until the allocator refuses (4 GiB at most)."""

    suffixes: Sequence[str] = (".greedy",)

    def load(self, path: Path) -> LoadedDocument:
        hoard = []
        for _ in range(64):
            hoard.append(bytearray(64 * 1024 * 1024))
        return LoadedDocument(path=path, file_type="greedy", blocks=(TextBlock(text=str(len(hoard))),))


class CrashingLoader:
    """Kills its own process, like a segfault in native parser code."""

    suffixes: Sequence[str] = (".crashy",)

    def load(self, path: Path) -> LoadedDocument:
        os._exit(7)


class ChattyLoader:
    """Prints to stdout (which must not corrupt the worker's reply) and reports its process id."""

    suffixes: Sequence[str] = (".chatty",)

    def load(self, path: Path) -> LoadedDocument:
        print("noise on stdout\n{not json}")
        return LoadedDocument(path=path, file_type="chatty", blocks=(TextBlock(text=f"pid {os.getpid()}"),))
