"""Word documents (.docx): paragraphs and tables in order, heading styles as sections."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ingest.base import LoadedDocument, LoaderError
from ingest.loaders.common import (
    BaseLoader,
    CharBudget,
    SectionAccumulator,
    clean_field,
    iso_date,
    require_text,
)

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table

logger = logging.getLogger(__name__)

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_MB = 1024 * 1024


class DocxLoader(BaseLoader):
    """Reads ``.docx`` with python-docx.

    Args:
        max_unzipped_mb: Refuse archives whose members add up to more than this once
            decompressed (a zip bomb guard, checked before any XML is parsed).
    """

    suffixes: Sequence[str] = (".docx",)
    file_type: ClassVar[str] = "docx"

    def __init__(self, *, max_unzipped_mb: float = 512.0) -> None:
        if max_unzipped_mb <= 0:
            raise ValueError(f"max_unzipped_mb must be > 0, got {max_unzipped_mb!r}")
        self.max_unzipped_mb = max_unzipped_mb

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path`` into one block per heading section; ``max_pages`` does not apply."""
        self._check_archive(path)
        document = _open(path)
        budget = CharBudget(max_chars)
        sections = SectionAccumulator(budget)
        style_title = _read_body(document, sections, tables=self.options.tables)
        sections.flush()
        require_text(sections.blocks, path)
        props = document.core_properties
        note = budget.warning()
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(sections.blocks),
            title=clean_field(props.title) or style_title,
            author=clean_field(props.author),
            created=iso_date(props.created),
            modified=iso_date(props.modified),
            warnings=(note,) if note else (),
        )

    def _check_archive(self, path: Path) -> None:
        """Refuse non-zip files and archives that would decompress past the size limit."""
        try:
            with zipfile.ZipFile(path) as archive:
                total = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError) as e:
            raise LoaderError(f"not a valid .docx (zip) file: {e}", path) from e
        if total > self.max_unzipped_mb * _MB:
            raise LoaderError(
                f"decompressed size {total / _MB:.0f} MB exceeds the {self.max_unzipped_mb:g} MB limit", path
            )


def _open(path: Path) -> DocxDocument:
    """Open the document with python-docx, translating its errors."""
    import docx

    try:
        return docx.Document(str(path))
    except Exception as e:  # python-docx raises PackageNotFoundError, KeyError, lxml errors...
        raise LoaderError(f"not a readable .docx: {type(e).__name__}: {e}", path) from e


def _read_body(document: DocxDocument, sections: SectionAccumulator, *, tables: bool = True) -> str:
    """Feed paragraphs and tables to ``sections`` in order; return the text of a Title-style paragraph.

    With ``tables`` a table becomes a table block of labelled rows (:func:`ingest.tables.render_table`);
    without, its rows are lines of cells joined by " | " in the section's text.
    """
    from docx.table import Table

    from ingest.tables import render_table

    style_title = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            if tables:
                sections.table(render_table(_table_grid(item)))
                continue
            for row in _table_rows(item):
                sections.add(row)
            sections.add("")
            continue
        style = (item.style.name if item.style is not None else "") or ""
        text = item.text
        if match := _HEADING_STYLE.match(style.strip()):
            sections.heading(int(match.group(1)), text)
        elif style.strip().lower() == "title":
            style_title = style_title or clean_field(text)
            sections.heading(1, text)
        else:
            sections.add(text)
    return style_title


def _table_rows(table: Table) -> Iterator[str]:
    """Each row as its cells' text joined by " | " (a merged cell is counted once)."""
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            element: Any = cell._tc  # the same XML element repeats across a merged span
            if id(element) in seen:
                continue
            seen.add(id(element))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _table_grid(table: Table) -> list[list[str]]:
    """The table's cells by row and column; a cell merged across columns keeps its text in its first
    column only (one merged down rows repeats on each: its label applies to every row)."""
    grid: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[Any] = []  # the same XML element repeats across a horizontal merge
        for cell in row.cells:
            element: Any = cell._tc
            cells.append("" if any(element is e for e in seen) else " ".join(cell.text.split()))
            seen.append(element)
        grid.append(cells)
    return grid
