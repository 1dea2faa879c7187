"""Ingestion types: what a loader returns, and the errors ingestion reports per file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class IngestError(Exception):
    """Base class for ingestion failures. ``path`` names the file at fault when there is one."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)
        self.reason = message


class UnsupportedFileError(IngestError):
    """No loader is registered for the file's suffix."""


class LoaderError(IngestError):
    """A loader could not read the file (corrupt, encrypted, unreadable, over a limit)."""


@dataclass(frozen=True)
class TextBlock:
    """A run of text in a document with where it sits: page (1-based, PDFs) and heading path."""

    text: str
    page: int | None = None
    section: str = ""


@dataclass(frozen=True)
class LoadedDocument:
    """A file read into text blocks plus its metadata."""

    path: Path
    file_type: str
    blocks: tuple[TextBlock, ...]
    title: str = ""
    author: str = ""
    created: str | None = None
    modified: str | None = None
    pages: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """All block texts joined by blank lines."""
        return "\n\n".join(b.text for b in self.blocks)


class Loader(Protocol):
    """Reads one kind of file. Registered in ``ingest.loaders`` by suffix."""

    suffixes: Sequence[str]

    def load(self, path: Path) -> LoadedDocument:
        """Read ``path``; raise :class:`LoaderError` naming the reason when it cannot."""
        ...
