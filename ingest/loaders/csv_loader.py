"""CSV files: the first row is the header, every later row a line that names its columns.

The rows become table blocks exactly like a spreadsheet's (see :mod:`ingest.loaders.xlsx_loader`),
numbered by record (the header is row 1), so a passage's location reads "rows 12-20". The
delimiter is sniffed from the first lines (comma, semicolon, tab or bar); the encoding is
detected like a text file's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from ingest.base import LoadedDocument, LoaderError
from ingest.loaders.common import BaseLoader, CharBudget, read_bytes, require_text
from ingest.loaders.text_loader import decode_text
from ingest.loaders.xlsx_loader import sheet_blocks

_SNIFF_CHARS = 16384
_DELIMITERS = ",;\t|"


class CsvLoader(BaseLoader):
    """Reads ``.csv``/``.tsv`` with the standard library's csv module."""

    suffixes: Sequence[str] = (".csv", ".tsv")
    file_type: ClassVar[str] = "csv"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path`` into table blocks of rows; ``max_pages`` does not apply."""
        text, warnings = decode_text(read_bytes(path), path)
        dialect = _dialect(text, path)
        budget = CharBudget(max_chars)
        try:
            blocks = sheet_blocks("", _records(text, dialect), budget)
        except csv.Error as e:
            raise LoaderError(f"malformed CSV: {e}", path) from e
        require_text(blocks, path, "no cells with text")
        if note := budget.warning():
            warnings.append(note)
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(blocks),
            title=path.stem,
            warnings=tuple(warnings),
        )


def _dialect(text: str, path: Path) -> type[csv.Dialect] | csv.Dialect:
    if path.suffix.lower() == ".tsv":
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    except csv.Error:  # one column, or too irregular to tell: a plain comma-separated file
        return csv.excel


def _records(text: str, dialect: type[csv.Dialect] | csv.Dialect) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    for number, row in enumerate(reader, 1):
        yield number, [" ".join(cell.split()) for cell in row]
