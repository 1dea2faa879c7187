"""PDF files through pypdf: one block per page, metadata, encryption, and explicit limits.

pypdf guards against hostile files with limits (decompressed stream sizes, array and
dictionary sizes, parsing work). We set them explicitly here instead of inheriting whatever
the installed pypdf release chose. One was raised on purpose: ``array_maximum_element_count``.
Real SEC filings rendered by Chromium carry one huge inline array in the document catalogue
(its structure tree): the MSFT 10-Q of 2023 Q1 has 109,548 elements and the 2022 Q3 one
83,840, against pypdf's default of 100,000, so the first one failed to open at all. Memory
and time are bounded by the isolation worker (:mod:`ingest.isolation`), not by these limits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ingest.base import LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import BaseLoader, CharBudget, clean_field, iso_date
from ingest.loaders.pdf_extras import PageExtras, no_text_found_reason
from ingest.normalize import normalize_text

if TYPE_CHECKING:
    from pypdf import PdfReader

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
# pypdf Configuration fields we set; names missing from the installed release are skipped.
PYPDF_LIMITS: dict[str, int] = {
    "array_maximum_element_count": 1_000_000,  # default 100_000 rejects real 10-Q filings
    "dictionary_maximum_element_count": 100_000,
    "maximum_declared_stream_length": 256 * _MB,
    "array_based_stream_maximum_output_length": 256 * _MB,
    "zlib_maximum_output_length": 256 * _MB,
    "lzw_maximum_output_length": 256 * _MB,
    "run_length_maximum_output_length": 256 * _MB,
    "brotli_maximum_output_length": 256 * _MB,
    "jbig2_maximum_output_length": 64 * _MB,
    "image_maximum_buffer_size": 128 * _MB,
    "stream_decoding_work_maximum_length": 512 * _MB,
    "stream_parsing_work_maximum_count": 5_000_000,
    "xmp_maximum_input_length": 5 * _MB,
    "page_tree_maximum_entries": 100_000,
    "outline_maximum_entries": 100_000,
    "xform_maximum_invocations_per_extraction": 5_000,
}
NO_TEXT_REASON = "no extractable text (scanned/image-only?)"  # when OCR is off
_MAX_PARSER_WARNINGS = 20


class PyPdfLoader(BaseLoader):
    """Reads ``.pdf`` files page by page with pypdf (pages are numbered from 1)."""

    suffixes: Sequence[str] = (".pdf",)
    file_type: ClassVar[str] = "pdf"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path``: at most ``max_pages`` pages and ``max_chars`` characters.

        Pages without a text layer are read by OCR and pages that look tabular by the table
        finder when ``self.options`` allows (see :class:`~ingest.loaders.pdf_extras.PageExtras`).

        Raises:
            LoaderError: encrypted with a password, no text (not even by OCR), or unreadable structure.
        """
        warnings: list[str] = []
        with _pypdf_limits(), _collect_parser_warnings(warnings), PageExtras(path, self.options) as extras:
            reader = _open(path, warnings)
            page_count = _guard(path, lambda: len(reader.pages))
            meta = _metadata(reader, path, warnings)
            blocks = _read_pages(reader, path, page_count, max_pages, CharBudget(max_chars), warnings, extras)
        if not blocks:
            limited = max_pages is not None and max_pages < page_count
            suffix = f" in the first {max_pages} of {page_count} pages" if limited else ""
            if extras.ocr_pages_read:
                raise LoaderError(no_text_found_reason(extras.ocr_pages_read) + suffix, path)
            raise LoaderError(NO_TEXT_REASON + suffix, path)
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(blocks),
            pages=page_count,
            warnings=tuple(dict.fromkeys(warnings)),
            **meta,
        )


def _open(path: Path, warnings: list[str]) -> PdfReader:
    """Open the file; for an encrypted one try the empty user password (many PDFs use it)."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    _check_envelope(path)
    reader = _guard(path, lambda: PdfReader(path))
    if not reader.is_encrypted:
        return reader
    try:
        result = reader.decrypt("")
    except DependencyError as e:
        raise LoaderError("encrypted PDF: AES decryption needs the 'cryptography' package", path) from e
    except Exception as e:
        raise LoaderError(f"encrypted PDF that could not be decrypted: {e}", path) from e
    if result == PasswordType.NOT_DECRYPTED:
        raise LoaderError("encrypted PDF: a password is required to open it", path)
    warnings.append("encrypted PDF opened with the empty user password")
    return reader


def _check_envelope(path: Path) -> None:
    """Fail early and clearly on files that are not PDFs or have lost their end."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
            handle.seek(max(path.stat().st_size - 2048, 0))
            tail = handle.read()
    except OSError as e:
        raise LoaderError(f"cannot read file: {e.strerror or e}", path) from e
    if b"%PDF-" not in head:
        raise LoaderError("not a PDF file (no %PDF- header)", path)
    if b"%%EOF" not in tail:
        raise LoaderError("truncated PDF (no %%EOF marker at the end)", path)


def _read_pages(
    reader: PdfReader,
    path: Path,
    page_count: int,
    max_pages: int | None,
    budget: CharBudget,
    warnings: list[str],
    extras: PageExtras,
) -> list[TextBlock]:
    """Extract and normalize page texts, stopping at ``max_pages`` or when the budget runs out.

    A page without a text layer goes to OCR, a page that looks tabular to the table finder
    (both only when ``extras`` has them switched on); any other page is pypdf's text as it is.
    """
    to_read = page_count if max_pages is None else min(page_count, max_pages)
    if to_read < page_count:
        warnings.append(f"read {to_read} of {page_count} pages (max_pages={max_pages})")
    blocks: list[TextBlock] = []
    for index in range(to_read):
        if budget.exhausted:
            break
        try:
            raw = reader.pages[index].extract_text() or ""
        except MemoryError:
            raise
        except Exception as e:  # one broken page must not lose the rest of the document
            logger.warning("pdf page unreadable path=%s page=%s error=%s", path, index + 1, e)
            warnings.append(f"page {index + 1} unreadable: {type(e).__name__}: {e}")
            continue
        for block in extras.blocks(index + 1, normalize_text(raw)):
            text = budget.take(block.text)
            if text:
                blocks.append(dataclasses.replace(block, text=text) if text != block.text else block)
    if note := budget.warning():
        warnings.append(note)
    warnings += extras.warnings()
    return blocks


def _metadata(reader: PdfReader, path: Path, warnings: list[str]) -> dict[str, Any]:
    """Title, author, creation and modification dates; unreadable fields become warnings."""
    fields: dict[str, Any] = {"title": "", "author": "", "created": None, "modified": None}
    try:
        info = reader.metadata
    except MemoryError:
        raise
    except Exception as e:
        warnings.append(f"unreadable metadata: {type(e).__name__}: {e}")
        return fields
    if info is None:
        return fields
    getters = {
        "title": lambda: clean_field(info.title),
        "author": lambda: clean_field(info.author),
        "created": lambda: iso_date(info.creation_date),
        "modified": lambda: iso_date(info.modification_date),
    }
    for name, getter in getters.items():
        try:
            fields[name] = getter()
        except MemoryError:
            raise
        except Exception as e:  # malformed date strings, odd object types
            logger.info("pdf metadata field unreadable path=%s field=%s error=%s", path, name, e)
            warnings.append(f"unreadable metadata field {name!r}: {e}")
    return fields


def _guard(path: Path, action: Any) -> Any:
    """Run a pypdf call, turning its errors into a :class:`LoaderError` with the reason."""
    from pypdf.errors import LimitReachedError

    try:
        return action()
    except (LoaderError, MemoryError):
        raise
    except LimitReachedError as e:
        raise LoaderError(f"PDF exceeds a parser safety limit: {e}", path) from e
    except RecursionError as e:
        raise LoaderError("PDF structure nested too deeply to read", path) from e
    except Exception as e:  # pypdf raises PdfReadError, PdfStreamError, ValueError, KeyError...
        raise LoaderError(f"unreadable PDF ({type(e).__name__}: {e})", path) from e


@contextlib.contextmanager
def _pypdf_limits() -> Iterator[None]:
    """Apply :data:`PYPDF_LIMITS` for the duration of one load (context-local, thread-safe)."""
    import pypdf

    apply = getattr(pypdf, "apply_configuration", None)
    if apply is None:  # releases before the Configuration object: keep their built-in limits
        yield
        return
    known = {f.name for f in dataclasses.fields(pypdf.Configuration)}
    with apply(**{k: v for k, v in PYPDF_LIMITS.items() if k in known}):
        yield


@contextlib.contextmanager
def _collect_parser_warnings(warnings: list[str]) -> Iterator[None]:
    """Record pypdf's own log warnings (recovered xref tables and the like) on the document."""
    handler = _ListHandler(warnings)
    pypdf_logger = logging.getLogger("pypdf")
    pypdf_logger.addHandler(handler)
    try:
        yield
    finally:
        pypdf_logger.removeHandler(handler)


class _ListHandler(logging.Handler):
    """Appends the first few WARNING+ messages logged by this thread to a list."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self._sink = sink
        self._count = 0
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:  # another thread's document
            return
        self._count += 1
        if self._count <= _MAX_PARSER_WARNINGS:
            self._sink.append(f"pypdf: {record.getMessage()}")
