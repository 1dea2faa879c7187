"""Finding the files to ingest under the paths a user gives.

Symlinks are followed only when they stay inside the root being walked, and a directory reached
twice (a link loop) is walked once.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    """A path left out during discovery, with the reason."""

    path: str
    reason: str


def is_excluded(path: Path, patterns: Sequence[str]) -> bool:
    """Whether ``path`` (full path or any part of it) matches one of the glob ``patterns``."""
    text = path.as_posix()
    return any(
        fnmatch.fnmatch(text, pat)
        or fnmatch.fnmatch(path.name, pat)
        or any(fnmatch.fnmatch(p, pat) for p in path.parts)
        for pat in patterns
    )


def discover(
    paths: Iterable[Path], *, suffixes: Sequence[str], exclude: Sequence[str] = ()
) -> tuple[list[Path], list[Skipped]]:
    """Expand files and folders into the supported files to ingest, and what was left out."""
    wanted = {s.lower() for s in suffixes}
    files: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            skipped.append(Skipped(str(root), "no such file or directory"))
            continue
        candidates = [root.resolve()] if root.is_file() else _walk(root.resolve(), skipped)
        for path in candidates:
            if path in seen or is_excluded(path, exclude):
                continue
            seen.add(path)
            if path.suffix.lower() not in wanted:
                skipped.append(Skipped(str(path), f"unsupported file type {path.suffix or '(no suffix)'!r}"))
                continue
            files.append(path)
    return files, skipped


def _walk(root: Path, skipped: list[Skipped]) -> Iterator[Path]:
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError as e:
            skipped.append(Skipped(str(folder), f"cannot read folder: {e.strerror}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in visited:
            skipped.append(Skipped(str(folder), "symlink loop: folder already visited"))
            continue
        visited.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            skipped.append(Skipped(str(folder), f"cannot list folder: {e.strerror}"))
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):  # hidden files and folders (.git, .venv, editor droppings)
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    skipped.append(Skipped(str(path), f"symlink points outside {root}"))
                    continue
            if entry.is_dir():
                subdirs.append(path)
            elif entry.is_file():
                yield path.resolve() if entry.is_symlink() else path
        stack.extend(reversed(subdirs))
