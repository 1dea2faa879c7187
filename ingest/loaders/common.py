"""Helpers shared by the built-in loaders: the limit-aware base class, a character budget,
a heading-path accumulator, and small conversions."""

from __future__ import annotations

import copy
import logging
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

from ingest.base import ExtractOptions, LoadedDocument, LoaderError, TextBlock
from ingest.normalize import normalize_text

logger = logging.getLogger(__name__)

SECTION_SEPARATOR = " > "
_MB = 1024 * 1024
MAX_UNZIPPED_MB = 512.0


class BaseLoader(ABC):
    """A loader that honours the page and character limits while it reads.

    Subclasses set ``suffixes`` and ``file_type`` and implement :meth:`load`. Instances must be
    constructible without arguments so an isolated worker process can rebuild them by name;
    what they may do beyond reading text (OCR, tables) comes in ``options``.
    """

    suffixes: Sequence[str] = ()
    file_type: ClassVar[str] = ""
    options: ExtractOptions = ExtractOptions()

    def with_options(self, options: ExtractOptions) -> BaseLoader:
        """A copy of this loader that reads with ``options``."""
        configured = copy.copy(self)
        configured.options = options
        return configured

    @abstractmethod
    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path``, reading at most ``max_pages`` pages and keeping at most ``max_chars`` characters.

        Raises:
            LoaderError: naming the file and the reason when it cannot be read.
        """


class CharBudget:
    """Counts characters kept so far and truncates once ``max_chars`` is reached."""

    def __init__(self, max_chars: int | None) -> None:
        self.remaining = max_chars
        self.max_chars = max_chars
        self.truncated = False

    @property
    def exhausted(self) -> bool:
        """True once no more characters may be kept."""
        return self.remaining is not None and self.remaining <= 0

    def take(self, text: str) -> str:
        """Return ``text`` or the part of it that still fits in the budget."""
        if self.remaining is None:
            return text
        if len(text) > self.remaining:
            text = text[: max(self.remaining, 0)]
            self.truncated = True
        self.remaining -= len(text)
        return text

    def warning(self) -> str | None:
        """The warning to attach to the document when text was cut, else None."""
        return f"text truncated at max_chars={self.max_chars}" if self.truncated else None


class SectionAccumulator:
    """Collects text under a heading path and emits one :class:`TextBlock` per section.

    Call :meth:`heading` when a heading starts a new section and :meth:`add` for body text.
    The heading's own text becomes the first line of its block so it is searchable too.
    """

    def __init__(self, budget: CharBudget) -> None:
        self._budget = budget
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []
        self._open = False
        self._body_seen = False
        self.blocks: list[TextBlock] = []

    @property
    def section(self) -> str:
        """The current heading path, e.g. ``"History > Founding"``."""
        return SECTION_SEPARATOR.join(text for _, text in self._stack if text)

    def heading(self, level: int, text: str) -> None:
        """Close the current section and open one for a heading of ``level`` (1 = top)."""
        self.flush()
        title = " ".join(normalize_text(text).split())
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        if title:
            self._lines.append(title)

    def add(self, text: str) -> None:
        """Append a line of body text ("" for a blank line) to the current section."""
        if text.strip():
            self._body_seen = True
        self._lines.append(text)
        self._open = False

    def add_inline(self, text: str) -> None:
        """Append text to the current line (a new line after :meth:`break_line` or :meth:`add`)."""
        at_line_start = not (self._open and self._lines)
        if not text.strip():
            if at_line_start:  # whitespace between block elements renders as nothing
                return
        else:
            self._body_seen = True
        if not at_line_start:
            self._lines[-1] += text
        else:
            self._lines.append(text)
        self._open = True

    def break_line(self) -> None:
        """End the current line; the next inline text starts a new one."""
        self._open = False

    def table(self, text: str) -> None:
        """Emit ``text`` (from :func:`ingest.tables.render_table`) as a table block under the current
        heading path; body text after it starts a new block in the same section."""
        self.flush()
        text = normalize_text(text)
        if text.strip() and not self._budget.exhausted:
            kept = self._budget.take(text)
            if kept:
                self.blocks.append(TextBlock(text=kept, section=self.section, kind="table"))

    def flush(self) -> None:
        """Emit the current section as a block (a heading with no body emits nothing)."""
        text = normalize_text("\n".join(self._lines))
        self._lines = []
        self._open = False
        if self._body_seen and text and not self._budget.exhausted:
            kept = self._budget.take(text)
            if kept:
                self.blocks.append(TextBlock(text=kept, section=self.section))
        self._body_seen = False


def iso_date(value: object) -> str | None:
    """An ISO 8601 string for a date or datetime; None for anything else."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return None


def clean_field(value: object) -> str:
    """A metadata value as a one-line normalized string ("" for None or non-text values)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return ""
    return " ".join(normalize_text(value).split())


def read_bytes(path: Path) -> bytes:
    """Read a whole file, turning OS errors into a :class:`LoaderError`."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise LoaderError(f"cannot read file: {e.strerror or e}", path) from e


def require_text(blocks: Sequence[TextBlock], path: Path, reason: str = "no text content") -> None:
    """Raise :class:`LoaderError` with ``reason`` when no block holds any text."""
    if not any(b.text.strip() for b in blocks):
        raise LoaderError(reason, path)


def check_zip_archive(path: Path, kind: str, max_unzipped_mb: float) -> None:
    """Refuse files that are not zip archives, and archives that would decompress past the limit
    (a zip bomb guard, checked before any member is parsed). ``kind`` names the format, e.g. ".pptx"."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise LoaderError(f"not a valid {kind} (zip) file: {e}", path) from e
    if total > max_unzipped_mb * _MB:
        raise LoaderError(
            f"decompressed size {total / _MB:.0f} MB exceeds the {max_unzipped_mb:g} MB limit", path
        )


def validate_limits(max_pages: int | None, max_chars: int | None) -> None:
    """Reject non-positive limits at once, naming the offending value."""
    if max_pages is not None and max_pages < 1:
        raise ValueError(f"max_pages must be >= 1 or None, got {max_pages!r}")
    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be >= 1 or None, got {max_chars!r}")
