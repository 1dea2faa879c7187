"""Text for PDF pages that have no text layer: render with pdfium, recognise with Tesseract.

The PDF loader calls :class:`PageOcr` only for pages whose text layer is empty, so a born-digital
page never goes through it. Pages are rendered by pdfium (``pypdfium2``, a wheel) at 300 dpi in
grey and recognised by Tesseract 5 (Debian's ``tesseract-ocr`` package with its English model,
installed by ``make install``/CI; nothing is downloaded at run time). Tesseract runs as a child
process of the parser worker (:mod:`ingest.isolation`), so it inherits the worker's memory cap,
and each page has a time limit of its own.

Why Tesseract and not RapidOCR: RapidOCR's wheel carries only the Chinese/English PP-OCR models,
which on our sample corpus run words together ("TheSkarvikMarineInstitutewasfounded"), and took
10-20 s a page on this machine; Tesseract's English model read the same pages at 98-99% word
accuracy in 1-3 s a page (``bench/ocr.py`` measures it; docs/benchmarks.md).

Limits per document: at most ``max_pages`` pages are recognised and recognition stops once
``timeout_s`` has passed (checked between pages, and bounding each page's run); the pages left
out are named in a warning.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DPI = 300
LANGUAGE = "eng"
TESSERACT = "tesseract"


class OcrUnavailableError(RuntimeError):
    """The OCR engine is not installed."""


def tesseract_path() -> str:
    """The Tesseract executable; raises :class:`OcrUnavailableError` naming the fix when missing."""
    found = shutil.which(os.environ.get("CITEWISE_TESSERACT", TESSERACT))
    if found is None:
        raise OcrUnavailableError(
            "the tesseract program is not installed (Debian/Ubuntu: apt-get install tesseract-ocr; "
            "`make system-deps` does it)"
        )
    return found


@dataclass
class OcrResult:
    """What OCR of one document produced: text per page (1-based) and what was left out."""

    pages: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    skipped_limit: list[int] = field(default_factory=list)
    skipped_time: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def warnings(self, max_pages: int, timeout_s: float) -> list[str]:
        """Human-readable notes on the pages not recognised."""
        notes = []
        if self.skipped_limit:
            notes.append(
                f"OCR limited to {max_pages} pages: pages {page_ranges(self.skipped_limit)} have no text layer "
                "and were not read (ocr_max_pages)"
            )
        if self.skipped_time:
            notes.append(
                f"OCR stopped after {timeout_s:g}s: pages {page_ranges(self.skipped_time)} were not read "
                "(ocr_timeout_s)"
            )
        notes += [f"page {p}: OCR failed: {reason}" for p, reason in sorted(self.failed.items())]
        return notes


class PageOcr:
    """Recognises the text of pages of one PDF, one page at a time, within per-document limits.

    Use as a context manager (the PDF is opened by pdfium once, on the first page asked for);
    :meth:`page` returns the text of a page ("" when it holds none), or None once a limit is
    reached or when the page failed (see :attr:`result`).

    Args:
        path: The PDF.
        max_pages: Pages recognised at most.
        timeout_s: Seconds after which no further page is started.
        dpi: Rendering resolution.
    """

    def __init__(self, path: Path, *, max_pages: int, timeout_s: float, dpi: int = DPI) -> None:
        if max_pages < 1:
            raise ValueError(f"max_pages must be >= 1, got {max_pages!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.path, self.max_pages, self.timeout_s, self.dpi = path, max_pages, timeout_s, dpi
        self.result = OcrResult()
        self._pdf: Any = None
        self._program = ""
        self._start = 0.0

    def __enter__(self) -> PageOcr:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None

    def page(self, page_no: int) -> str | None:
        """The recognised text of page ``page_no`` (1-based)."""
        result = self.result
        if len(result.pages) + len(result.failed) >= self.max_pages:
            result.skipped_limit.append(page_no)
            return None
        if self._pdf is None:
            import pypdfium2 as pdfium

            self._program = tesseract_path()
            self._start = time.monotonic()
            self._pdf = pdfium.PdfDocument(str(self.path))
        remaining = self.timeout_s - (time.monotonic() - self._start)
        if remaining <= 0:
            result.skipped_time.append(page_no)
            return None
        t0 = time.monotonic()
        try:
            text = recognise(
                self._program, render_pgm(self._pdf, page_no - 1, self.dpi), remaining, dpi=self.dpi
            )
        except MemoryError:
            raise
        except subprocess.TimeoutExpired:
            result.skipped_time.append(page_no)
            return None
        except Exception as e:  # one page that will not render or read must not lose the others
            logger.warning("ocr failed path=%s page=%s error=%r", self.path, page_no, e)
            result.failed[page_no] = f"{type(e).__name__}: {e}"
            return None
        finally:
            result.seconds += time.monotonic() - t0
        result.pages[page_no] = text
        return text


def render_pgm(pdf: Any, index: int, dpi: int) -> bytes:
    """Page ``index`` of an open pdfium document as a greyscale PGM image (Tesseract reads PNM)."""
    page = pdf[index]
    try:
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        try:
            pixels = bitmap.to_numpy()
        finally:
            bitmap.close()
    finally:
        page.close()
    if pixels.ndim == 3:  # some pdfium builds hand grey back with a channel axis
        pixels = pixels[:, :, 0]
    height, width = pixels.shape
    return f"P5\n{width} {height}\n255\n".encode("ascii") + pixels.astype("uint8").tobytes()


def recognise(program: str, image: bytes, timeout_s: float, *, dpi: int = DPI) -> str:
    """Run Tesseract on one page image (automatic page segmentation), return its text."""
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"  # Tesseract's OpenMP threads only slow it down on a busy CPU
    completed = subprocess.run(
        [program, "stdin", "stdout", "-l", LANGUAGE, "--psm", "3", "--dpi", str(dpi)],
        input=image,
        capture_output=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise RuntimeError(f"tesseract exited with {completed.returncode}: {detail[-1] if detail else ''}")
    return completed.stdout.decode("utf-8", errors="replace")


def page_ranges(pages: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    spans: list[tuple[int, int]] = []
    for p in pages:
        if spans and p == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], p)
        else:
            spans.append((p, p))
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)
