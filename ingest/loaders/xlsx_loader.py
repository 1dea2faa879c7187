"""Excel workbooks (.xlsx): every sheet as tables whose rows keep their sheet row numbers.

A sheet's first non-empty row is its header; every later run of non-empty rows becomes one
table block (``kind="table"``, ``row_step=1``) whose ``page`` is the sheet row number of its first
row and whose section is the sheet's name, so a chunk's location reads "sheet Revenue, rows
12-20". Each row is written with the header of each value (:func:`ingest.tables.render_rows`),
and chunking repeats the header line in every chunk. Cell values are the ones Excel last
computed (``data_only``): a formula never calculated by a spreadsheet program reads as empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, ClassVar

from ingest.base import LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import (
    MAX_UNZIPPED_MB,
    BaseLoader,
    CharBudget,
    check_zip_archive,
    clean_field,
    iso_date,
    require_text,
)

logger = logging.getLogger(__name__)


class XlsxLoader(BaseLoader):
    """Reads ``.xlsx``/``.xlsm`` with openpyxl (read-only, cached values); sheets are sections."""

    suffixes: Sequence[str] = (".xlsx", ".xlsm")
    file_type: ClassVar[str] = "xlsx"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read every sheet of ``path``; ``max_pages`` does not apply (rows are not pages)."""
        check_zip_archive(path, ".xlsx", MAX_UNZIPPED_MB)
        book = _open(path)
        try:
            budget = CharBudget(max_chars)
            blocks: list[TextBlock] = []
            for sheet in book.worksheets:
                if budget.exhausted:
                    break
                blocks += sheet_blocks(sheet.title, _sheet_rows(sheet), budget)
            props = book.properties
            title, author = clean_field(props.title), clean_field(props.creator)
            created, modified = iso_date(props.created), iso_date(props.modified)
            n_sheets = len(book.worksheets)
        finally:
            book.close()
        require_text(blocks, path, "no cell text in any sheet")
        note = budget.warning()
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(blocks),
            title=title,
            author=author,
            created=created,
            modified=modified,
            pages=n_sheets,
            warnings=(note,) if note else (),
        )


def _open(path: Path) -> Any:
    import openpyxl

    try:
        return openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as e:  # InvalidFileException, KeyError, lxml errors...
        raise LoaderError(f"not a readable .xlsx: {type(e).__name__}: {e}", path) from e


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
    """``(sheet row number, cell texts)`` for every row of a read-only worksheet."""
    first = sheet.min_row or 1
    for offset, values in enumerate(sheet.iter_rows(values_only=True)):
        yield first + offset, [cell_text(v) for v in values]


def cell_text(value: Any) -> str:
    """A cell value as it would read in the sheet: ``1200`` not ``1200.0``, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (datetime, date, time)):
        text = value.isoformat()
        return text[:-9] if text.endswith("T00:00:00") else text
    return " ".join(str(value).split())


def sheet_blocks(name: str, rows: Iterable[tuple[int, list[str]]], budget: CharBudget) -> list[TextBlock]:
    """Table blocks of one sheet: the first non-empty row is the header, each run of non-empty rows
    after it one block. Used by the CSV loader too (with an empty sheet name)."""
    from ingest.tables import render_rows

    header: list[str] | None = None
    blocks: list[TextBlock] = []
    run: list[tuple[int, list[str]]] = []

    def close_run() -> None:
        if run and header is not None and not budget.exhausted:
            text = budget.take(render_rows(header, [r for _, r in run]))
            if text:
                blocks.append(TextBlock(text=text, page=run[0][0], section=name, kind="table", row_step=1))
        run.clear()

    for number, cells in rows:
        if not any(cells):
            close_run()
            continue
        if header is None:
            header = cells
            continue
        run.append((number, cells))
        if len(run) >= 500:  # keep blocks small; chunking re-groups rows under the header anyway
            close_run()
    close_run()
    if header is not None and not blocks and not budget.exhausted:  # a sheet that is only a header
        text = budget.take(render_rows(header, []))
        if text:
            blocks.append(TextBlock(text=text, page=None, section=name, kind="table"))
    return blocks
