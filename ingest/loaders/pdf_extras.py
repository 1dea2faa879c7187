"""What the PDF loader does for a page beyond taking pypdf's text: OCR and tables.

:class:`PageExtras` decides per page, from the text pypdf already extracted:

- no text at all: the page has no text layer, so it goes to OCR (:mod:`ingest.ocr`) when
  ``options.ocr`` is on; its block is marked ``ocr=True``;
- text that :func:`ingest.tables.looks_tabular`: the page goes to pdfplumber's table finder
  (:mod:`ingest.tables`) when ``options.tables`` is on, and is returned as prose blocks and one
  ``kind="table"`` block per table; a page where no table is found keeps pypdf's text;
- anything else: pypdf's text, untouched.

Both engines open the file lazily, so a born-digital document without tables pays nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ingest.base import ExtractOptions, TextBlock
from ingest.normalize import normalize_text

logger = logging.getLogger(__name__)

_MAX_TABLE_WARNINGS = 5


def no_text_found_reason(pages: int) -> str:
    """The reason given for a PDF whose pages have no text layer and in which OCR found nothing."""
    return f"no text found on {pages} page{'s' if pages != 1 else ''} (no text layer; OCR recognised nothing)"


class PageExtras:
    """OCR and table extraction for the pages of one PDF, within ``options``' limits."""

    def __init__(self, path: Path, options: ExtractOptions) -> None:
        self.path, self.options = path, options
        self._ocr: Any = None
        self._tables: Any = None
        self._table_failed = False
        self._notes: list[str] = []
        self.tabular_pages = 0
        self.table_pages = 0
        self.table_seconds = 0.0
        self._tables_skipped: list[int] = []

    def __enter__(self) -> PageExtras:
        return self

    def __exit__(self, *exc: object) -> None:
        for engine in (self._ocr, self._tables):
            if engine is not None:
                engine.__exit__(None, None, None)

    @property
    def ocr_pages_read(self) -> int:
        """Pages OCR was run on (with or without finding text)."""
        return len(self._ocr.result.pages) if self._ocr is not None else 0

    def blocks(self, page: int, text: str) -> list[TextBlock]:
        """The blocks of page ``page`` (1-based) whose pypdf text is ``text``."""
        if not text.strip():
            return self._ocr_page(page)
        if self.options.tables and not self._table_failed:
            from ingest.tables import looks_tabular

            if looks_tabular(text):
                self.tabular_pages += 1
                if self.table_seconds > self.options.tables_timeout_s:
                    self._tables_skipped.append(page)
                    return [TextBlock(text=text, page=page)]
                t0 = time.monotonic()
                found = self._table_page(page)
                self.table_seconds += time.monotonic() - t0
                if found:
                    self.table_pages += 1
                    return found
        return [TextBlock(text=text, page=page)]

    def warnings(self) -> list[str]:
        """Notes on pages OCR left out or tables that could not be read."""
        notes = list(self._notes)
        if self._tables_skipped:
            from ingest.ocr import page_ranges

            notes.append(
                f"tables not extracted on pages {page_ranges(self._tables_skipped)}: table extraction "
                f"stopped after {self.options.tables_timeout_s:g}s (tables_timeout_s); their plain text is kept"
            )
        if self._ocr is not None:
            notes += self._ocr.result.warnings(self.options.ocr_max_pages, self.options.ocr_timeout_s)
        return notes

    def _ocr_page(self, page: int) -> list[TextBlock]:
        if not self.options.ocr:
            return []
        from ingest.ocr import OcrUnavailableError, PageOcr

        if self._ocr is None:
            self._ocr = PageOcr(
                self.path, max_pages=self.options.ocr_max_pages, timeout_s=self.options.ocr_timeout_s
            )
        try:
            text = self._ocr.page(page)
        except OcrUnavailableError as e:
            self._notes.append(f"page {page} has no text layer and OCR is unavailable: {e}")
            self.options = _without_ocr(self.options)
            return []
        text = normalize_text(text or "")
        return [TextBlock(text=text, page=page, ocr=True)] if text.strip() else []

    def _table_page(self, page: int) -> list[TextBlock] | None:
        from ingest.tables import PdfTableReader

        try:
            if self._tables is None:
                self._tables = PdfTableReader(self.path).__enter__()
            segments = self._tables.page_segments(page - 1)
        except MemoryError:
            raise
        except Exception as e:  # the table finder failing keeps pypdf's text for the page
            logger.info("table extraction failed path=%s page=%s error=%r", self.path, page, e)
            if len(self._notes) < _MAX_TABLE_WARNINGS:
                self._notes.append(f"page {page}: table extraction failed ({type(e).__name__}: {e})")
            if self._tables is None:
                self._table_failed = True  # pdfplumber cannot open the file: do not try every page
            return None
        if not segments:
            return None
        blocks = []
        for segment in segments:
            text = normalize_text(segment.text)
            if text.strip():
                blocks.append(TextBlock(text=text, page=page, kind="table" if segment.table else "text"))
        return blocks or None


def _without_ocr(options: ExtractOptions) -> ExtractOptions:
    from dataclasses import replace

    return replace(options, ocr=False)
