"""Tables as text that keeps every value with its row label and column header.

A table read as plain text loses its shape: a 10-Q's income statement becomes one run of numbers
per line, and "82,959" no longer says that it is net sales for the three months ended June 2022.
Here a table (a grid of cell strings from pdfplumber, python-docx or an HTML ``<table>``) is
rendered as one line per row::

    Table: Three Months Ended June 25, 2022 | Three Months Ended June 26, 2021
    Net sales | Three Months Ended June 25, 2022: 82,959 | Three Months Ended June 26, 2021: 81,434

(a label column with a header of its own is written ``Name: Per Eikrem | Role: ...``). The first
line names the columns; every further line is a row that carries its own label and the header of
each value, so a row stays meaningful alone (the answer step's compression keeps single
sentences, and chunking repeats the first line in every chunk cut from a table, see
:mod:`ingest.chunking`).

PDF pages go through pdfplumber's table finder only when a cheap test on the text already
extracted says they look tabular (:func:`looks_tabular`): pdfplumber parses a page's every
character and line, which costs far more than pypdf's text extraction (measured in
``bench/tables.py``, see docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TABLE_PREFIX = "Table"
# A number as statements print it: 1,234 / (1,234) / 12.5 / 12.5% / $ 3 / — ; at least one digit.
_NUMBER = re.compile(r"^[($\-–—]*\s*\$?\s*\d[\d,]*(?:\.\d+)?\s*%?\)?$")
_NUMBER_IN_LINE = re.compile(r"(?<![\w.])\(?\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?\)?|(?<![\w.])\(?\d+\.\d+\)?%?")
_CURRENCY = frozenset({"$", "€", "£"})
_CLOSERS = frozenset({")", "%", ")%"})
_AFFIX_ONLY = _CURRENCY | _CLOSERS | {"("}
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_MAX_HEADER_ROWS = 3
# looks_tabular: a page qualifies when it holds this many figures laid out as a table.
MIN_FIGURES = 8
# Tables pdfplumber's text strategy proposes are kept only when most rows carry a number.
MIN_NUMERIC_ROW_SHARE = 0.5


def is_number(cell: str) -> bool:
    """True for a cell that holds one figure (``1,234``, ``(56)``, ``12.5%``, ``$ 3``)."""
    return bool(_NUMBER.match(cell.strip())) if cell else False


def looks_tabular(text: str, *, min_figures: int = MIN_FIGURES) -> bool:
    """The cheap pre-check: does ``text`` hold at least ``min_figures`` figures laid out as a table?

    A figure is a grouped number (``1,234``) or a decimal (``12.5``), so years and page numbers
    in prose do not count; it counts when its line holds two or more figures (a row read across)
    or nothing but the figure (a cell read down, as pypdf gives ruled tables). Runs on the text
    pypdf already extracted, in microseconds per page.
    """
    count = 0
    for line in text.splitlines():
        found = _NUMBER_IN_LINE.findall(line)
        if len(found) >= 2 or (found and is_number(line.strip())):
            count += len(found)
            if count >= min_figures:
                return True
    return False


def _clean(cell: Any) -> str:
    return " ".join(str(cell).split()) if cell is not None else ""


def _fold_affixes(row: list[str]) -> list[str]:
    """Put a currency sign's figure in the sign's cell and a lone ``)``/``%`` back on its figure.

    PDF statements often draw ``$`` and a figure in two cells of one row where the next row has
    the figure alone spanning both: moving the figure to the sign's cell lines the rows up.
    """
    row = list(row)
    for j, cell in enumerate(row):
        if cell in _CURRENCY and j + 1 < len(row) and row[j + 1] and row[j + 1] not in _AFFIX_ONLY:
            row[j], row[j + 1] = row[j + 1], ""
        elif cell in _CLOSERS and j > 0:
            k = j - 1
            while k > 0 and not row[k]:
                k -= 1
            if row[k]:
                row[k], row[j] = row[k] + cell, ""
    return row


def _drop_empty(grid: list[list[str]]) -> list[list[str]]:
    rows = [r for r in grid if any(r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    cols = [j for j in range(width) if any(r[j] for r in rows)]
    return [[r[j] for j in cols] for r in rows]


def _header_count(rows: list[list[str]]) -> int:
    """Leading rows that name columns: rows with text past the label column and no figure there
    but years, up to the first row that is data (a figure) or only a row label."""
    for i, row in enumerate(rows[: _MAX_HEADER_ROWS + 1]):
        rest = [c for c in row[1:] if c]
        if not rest or any(is_number(c) and not _YEAR.match(c) for c in rest):
            return min(i, _MAX_HEADER_ROWS)
    return min(1 if len(rows) > 1 else 0, _MAX_HEADER_ROWS)


def _column_names(header_rows: list[list[str]], width: int) -> list[str]:
    """One name per column: the header rows' cells joined top-down, spanning labels carried right."""
    filled: list[list[str]] = []
    for depth, row in enumerate(header_rows):
        row = row + [""] * (width - len(row))
        if depth < len(header_rows) - 1:  # a group label ("Three Months Ended") spans the cells after it
            carried, last = [], ""
            for j, cell in enumerate(row):
                last = cell or (last if j > 0 else "")
                carried.append(last)
            row = carried
        filled.append(row)
    names = []
    for j in range(width):
        parts: list[str] = []
        for row in filled:
            if row[j] and (not parts or parts[-1] != row[j]):
                parts.append(row[j])
        names.append(" ".join(parts))
    return names


def render_table(
    cells: Sequence[Sequence[Any]],
    *,
    caption: str = "",
    header_rows: Sequence[Sequence[str]] = (),
) -> str:
    """The text of a ``kind="table"`` block for a grid of cells ("" when nothing is left).

    The first line is ``"Table: <column names>"`` (with ``caption`` before them when given);
    each data row is ``"<row label> | <column>: <value> | ..."``. A row whose label column is empty
    is written with its values only; empty rows and columns are dropped. ``header_rows`` are
    column headers found outside the grid (above a PDF table's first rule), aligned to its
    columns; they are used when the grid has no header row of its own.
    """
    rows = [_fold_affixes([_clean(c) for c in row]) for row in cells]
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] for r in rows)]
    grid = [[r[j] for j in keep] for r in rows]
    if header_rows and _header_count(grid) == 0:
        grid = [_project(list(h), keep, width) for h in header_rows] + grid
    width = len(grid[0])
    n_header = _header_count(grid)
    names = _column_names(grid[:n_header], width)
    head = " | ".join(n for n in names if n)
    title = (
        f"{TABLE_PREFIX}: {caption} | {head}" if caption and head else f"{TABLE_PREFIX}: {caption or head}"
    )
    lines = [title.rstrip(": ")]
    for row in grid[n_header:]:
        lines.append(_row_line(row, names))
    return "\n".join(line for line in lines if line)


def render_rows(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table block's text for rows under a known header (a spreadsheet's first row).

    Unlike :func:`render_table` nothing is guessed or dropped: line ``i + 1`` is ``rows[i]``, so a
    caller can number the lines (``TextBlock.row_step``). An empty row gives an empty label line.
    """
    names = [_clean(h) for h in header]
    lines = [f"{TABLE_PREFIX}: " + " | ".join(n for n in names if n)]
    for row in rows:
        cells = [_clean(c) for c in row]
        width = max(len(cells), len(names))
        cells += [""] * (width - len(cells))
        padded = names + [f"column {j + 1}" for j in range(len(names), width)]
        lines.append(_row_line(cells, padded) or "(empty row)")
    return "\n".join(lines)


def _project(header: list[str], keep: list[int], width: int) -> list[str]:
    """A header row on the physical columns, folded onto the kept ones (each kept column takes the
    texts of the dropped columns up to the next kept one)."""
    header = header + [""] * (width - len(header))
    out = []
    for n, j in enumerate(keep):
        end = keep[n + 1] if n + 1 < len(keep) else width
        parts = list(dict.fromkeys(h for h in header[j:end] if h))
        out.append(" ".join(parts))
    return out


def _row_line(row: list[str], names: list[str]) -> str:
    label = f"{names[0]}: {row[0]}" if names[0] and row[0] else row[0]
    values = [f"{names[j]}: {row[j]}" if names[j] else row[j] for j in range(1, len(row)) if row[j]]
    if not values:
        return label
    return " | ".join([label, *values]) if label else " | ".join(values)


def table_cells_from_lines(lines: Sequence[str]) -> list[list[str]]:
    """Split ``"a | b | c"`` lines back into cells (used by tests and by formats that have them)."""
    return [[c.strip() for c in line.split(" | ")] for line in lines]


# --- PDF pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSegment:
    """A piece of a PDF page in reading order: prose (``table=False``) or a rendered table."""

    text: str
    table: bool


_LINE_SETTINGS: dict[str, Any] = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
_TEXT_SETTINGS: dict[str, Any] = {
    "vertical_strategy": "text",
    "horizontal_strategy": "text",
    "min_words_vertical": 3,
    "min_words_horizontal": 1,
    "text_x_tolerance": 2,
}


class PdfTableReader:
    """Finds tables on chosen pages of one PDF with pdfplumber (opened once, pages freed as read).

    Use as a context manager; :meth:`page_segments` returns None when the page holds no table
    worth keeping, so the caller keeps its own text for it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pdf: Any = None

    def __enter__(self) -> PdfTableReader:
        import pdfplumber

        self._pdf = pdfplumber.open(str(self.path))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pdf is not None:
            self._pdf.close()

    def page_segments(self, index: int) -> list[PageSegment] | None:
        """Prose and tables of page ``index`` (0-based) in reading order, or None if it has no table."""
        page = self._pdf.pages[index]
        try:
            tables = [t for t in page.find_tables(_LINE_SETTINGS) if _worth_keeping(t.extract())]
            if not tables:
                tables = [t for t in page.find_tables(_TEXT_SETTINGS) if _numeric_enough(t.extract())]
            if not tables:
                return None
            return _segments(page, tables)
        finally:
            page.close()  # pdfplumber caches every parsed object of a page until closed


def _worth_keeping(cells: list[list[Any]]) -> bool:
    grid = _drop_empty([[_clean(c) for c in row] for row in cells])
    return len(grid) >= 2 and len(grid[0]) >= 2


def _numeric_enough(cells: list[list[Any]]) -> bool:
    """A text-strategy table is kept when it has rows, columns, and figures in most rows."""
    grid = _drop_empty([[_clean(c) for c in row] for row in cells])
    if len(grid) < 3 or len(grid[0]) < 2:
        return False
    numeric = sum(1 for r in grid if any(is_number(c) for c in r[1:]))
    return numeric / len(grid) >= MIN_NUMERIC_ROW_SHARE


def _segments(page: Any, tables: list[Any]) -> list[PageSegment]:
    """Text outside the tables, cut at each table's top edge, with the tables in between."""
    tables = sorted(tables, key=lambda t: t.bbox[1])
    boxes = [t.bbox for t in tables]

    def outside(obj: dict[str, Any]) -> bool:
        x = (obj["x0"] + obj["x1"]) / 2
        y = (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    prose = page.filter(lambda obj: obj.get("object_type") != "char" or outside(obj))
    segments: list[PageSegment] = []
    top = 0.0
    for table in tables:
        segments += _prose(prose, top, table.bbox[1])
        text = render_table(table.extract(), header_rows=_header_above(page, table, top))
        if text:
            segments.append(PageSegment(text, True))
        top = table.bbox[3]
    segments += _prose(prose, top, float(page.height))
    return segments


def _prose(page: Any, top: float, bottom: float) -> list[PageSegment]:
    if bottom - top < 1:
        return []
    band = page.crop((0, max(top, 0.0), float(page.width), min(bottom, float(page.height))), strict=False)
    text = band.extract_text() or ""
    return [PageSegment(text, False)] if text.strip() else []


# Column headers printed above a table's first rule: how far up to look, and the gap that
# separates two phrases on one line (words of one phrase sit closer).
HEADER_BAND_PT = 60.0
PHRASE_GAP_PT = 8.0


def _header_above(page: Any, table: Any, floor: float) -> list[list[str]]:
    """Header lines just above ``table`` (not above ``floor``), each split into the table's columns.

    A phrase ("Three Months Ended", "June 25,") goes to every column its extent overlaps; a line
    that reaches into the label column is prose, and ends the search.
    """
    columns = _column_ranges(table)
    if len(columns) < 2:
        return []
    x0, top, x1, _ = table.bbox
    band_top = max(floor, top - HEADER_BAND_PT, float(page.bbox[1]))
    if top - band_top < 2:
        return []
    band = page.crop((x0, band_top, x1, top), strict=False)
    lines: dict[int, list[dict[str, Any]]] = {}
    for word in band.extract_words(keep_blank_chars=False, use_text_flow=False):
        lines.setdefault(round(word["top"] / 3), []).append(word)
    rows: list[list[str]] = []
    for key in sorted(lines, reverse=True):  # from the table upwards
        row = [""] * len(columns)
        in_label = False
        for phrase, left, right in _phrases(sorted(lines[key], key=lambda w: w["x0"])):
            hit = [j for j, (c0, c1) in enumerate(columns) if left < c1 and right > c0]
            in_label = in_label or not hit or hit[0] == 0
            for j in hit:
                if j > 0:
                    row[j] = f"{row[j]} {phrase}".strip()
        if in_label and any(row):  # a line across the label column and the figures: prose
            break
        if any(row):
            rows.append(row)
        elif rows:  # a row label ("Net sales:") after headers were found: the headers end here
            break
    return rows[::-1]


def _phrases(words: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    phrases: list[tuple[str, float, float]] = []
    for w in words:
        if phrases and w["x0"] - phrases[-1][2] < PHRASE_GAP_PT:
            text, left, _ = phrases[-1]
            phrases[-1] = (f"{text} {w['text']}", left, w["x1"])
        else:
            phrases.append((w["text"], w["x0"], w["x1"]))
    return phrases


def _column_ranges(table: Any) -> list[tuple[float, float]]:
    """The x-extent of each physical column of a pdfplumber table (from any row that has the cell)."""
    width = max((len(r.cells) for r in table.rows), default=0)
    ranges: list[tuple[float, float] | None] = [None] * width
    for row in table.rows:
        for j, cell in enumerate(row.cells):
            if cell is not None and ranges[j] is None:
                ranges[j] = (cell[0], cell[2])
    return [r if r is not None else (0.0, 0.0) for r in ranges]
