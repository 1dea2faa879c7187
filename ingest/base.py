"""Ingestion types: what a loader returns, and the errors ingestion reports per file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol


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


BlockKind = Literal["text", "table"]


@dataclass(frozen=True)
class ExtractOptions:
    """What loaders may do beyond reading a text layer (set from ``Settings.ingest``).

    Args:
        ocr: Recognise text on PDF pages that have no text layer (never on a page that has one).
        ocr_max_pages: OCR at most this many pages per document; the rest are reported.
        ocr_timeout_s: Stop OCR of a document after this many seconds; the rest are reported.
        tables: Extract tables (PDF pages that look tabular, DOCX, HTML) as labelled rows.
        tables_timeout_s: Stop looking for tables in a PDF after this many seconds; later pages
            keep their plain text (named in a warning), so a long filing never times out for it.
    """

    ocr: bool = True
    ocr_max_pages: int = 50
    ocr_timeout_s: float = 300.0
    tables: bool = True
    tables_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.ocr_max_pages < 1:
            raise ValueError(f"ocr_max_pages must be >= 1, got {self.ocr_max_pages!r}")
        if self.ocr_timeout_s <= 0:
            raise ValueError(f"ocr_timeout_s must be > 0, got {self.ocr_timeout_s!r}")
        if self.tables_timeout_s <= 0:
            raise ValueError(f"tables_timeout_s must be > 0, got {self.tables_timeout_s!r}")


@dataclass(frozen=True)
class TextBlock:
    """A run of text in a document with where it sits.

    ``page`` is the 1-based location number: the page of a PDF, the slide of a deck, the chapter
    of an e-book, the first row of a spreadsheet block. ``section`` is the heading path (the
    sheet name of a spreadsheet, the slide title of a deck).

    A ``kind="table"`` block holds one table: its first line is the header (the column names,
    repeated in every chunk made from the table) and every further line is one row, which
    chunking never splits. When ``row_step`` is 1 the rows sit at consecutive locations from
    ``page`` (spreadsheet rows); when 0 they all sit at ``page``. ``ocr`` marks text recognised
    from an image rather than read from a text layer.
    """

    text: str
    page: int | None = None
    section: str = ""
    kind: BlockKind = "text"
    ocr: bool = False
    row_step: int = 0


@dataclass(frozen=True)
class LoadedDocument:
    """A file read into text blocks plus its metadata.

    A container (an e-mail) lists the files it carries in ``attachments``, each read into a
    document of its own whose ``path`` is the container's path joined with the member's name;
    ``failed_attachments`` holds ``(member name, reason)`` for the members that could not be read.
    """

    path: Path
    file_type: str
    blocks: tuple[TextBlock, ...]
    title: str = ""
    author: str = ""
    created: str | None = None
    modified: str | None = None
    pages: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    attachments: tuple[LoadedDocument, ...] = ()
    failed_attachments: tuple[tuple[str, str], ...] = ()

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
