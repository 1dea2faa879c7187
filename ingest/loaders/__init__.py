"""The loader registry: one :class:`~ingest.base.Loader` per file suffix.

The built-in loaders (PDF, plain text, Markdown, HTML, DOCX, PowerPoint, Excel, CSV, EPUB,
e-mail) register themselves on first use; each imports its parsing library only when it reads
a file. Register your own with :func:`register`; a later registration for a suffix replaces
the earlier one.

File types (``LoadedDocument.file_type``): "pdf", "text", "markdown", "html", "docx", "pptx",
"xlsx", "csv", "epub", "eml".
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from ingest.base import (
    ExtractOptions,
    IngestError,
    LoadedDocument,
    Loader,
    LoaderError,
    UnsupportedFileError,
)
from ingest.loaders.common import BaseLoader, CharBudget, validate_limits

__all__ = [
    "check_readable_file",
    "load_document",
    "load_with",
    "loader_for",
    "register",
    "supported_suffixes",
    "unregister",
]

logger = logging.getLogger(__name__)

_registry: dict[str, Loader] = {}
_lock = threading.Lock()
_builtins_registered = False


def register(loader: Loader) -> None:
    """Register ``loader`` for every suffix in ``loader.suffixes`` (e.g. ``(".md", ".markdown")``).

    Raises:
        ValueError: a suffix is empty or does not start with a dot.
    """
    suffixes = [s.lower() for s in loader.suffixes]
    for suffix in suffixes:
        if len(suffix) < 2 or not suffix.startswith("."):
            raise ValueError(f"loader suffixes must look like '.pdf', got {suffix!r} from {loader!r}")
    _ensure_builtins()
    with _lock:
        for suffix in suffixes:
            _registry[suffix] = loader


def unregister(suffix: str) -> None:
    """Forget the loader for ``suffix`` (no error when none is registered)."""
    _ensure_builtins()
    with _lock:
        _registry.pop(suffix.lower(), None)


def supported_suffixes() -> list[str]:
    """All registered suffixes, sorted (e.g. ``[".docx", ".htm", ".html", ...]``)."""
    _ensure_builtins()
    with _lock:
        return sorted(_registry)


def loader_for(path: Path | str) -> Loader:
    """The loader registered for ``path``'s suffix (case-insensitive).

    Raises:
        UnsupportedFileError: no loader handles the suffix; the message lists the supported ones.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    _ensure_builtins()
    with _lock:
        loader = _registry.get(suffix)
        known = sorted(_registry)
    if loader is None:
        shown = f"'{suffix}'" if suffix else "(none)"
        raise UnsupportedFileError(f"unsupported file type {shown}; supported: {', '.join(known)}", path)
    return loader


def load_document(
    path: Path | str,
    *,
    max_pages: int | None = None,
    max_chars: int | None = None,
    options: ExtractOptions | None = None,
) -> LoadedDocument:
    """Read one file with the loader registered for its suffix.

    Args:
        path: The file to read.
        max_pages: Read at most this many pages (PDF); None for no limit.
        max_chars: Keep at most this many characters of text; None for no limit.
        options: OCR and table extraction switches and limits; None for the defaults.

    Raises:
        UnsupportedFileError: no loader for the suffix.
        LoaderError: the file is missing, empty, or could not be read (the reason says which).
    """
    path = Path(path)
    loader = loader_for(path)
    return load_with(loader, path, max_pages=max_pages, max_chars=max_chars, options=options)


def load_with(
    loader: Loader,
    path: Path,
    *,
    max_pages: int | None = None,
    max_chars: int | None = None,
    options: ExtractOptions | None = None,
) -> LoadedDocument:
    """Read ``path`` with a given loader, enforcing the limits and the error contract.

    Loaders built on :class:`~ingest.loaders.common.BaseLoader` apply the limits while reading
    and take ``options``; for any other loader the limits are applied to its result. An
    unexpected exception from a loader becomes a :class:`LoaderError` (MemoryError is left to
    the caller).
    """
    validate_limits(max_pages, max_chars)
    check_readable_file(path)
    try:
        if isinstance(loader, BaseLoader):
            if options is not None:
                loader = loader.with_options(options)
            document = loader.load(path, max_pages=max_pages, max_chars=max_chars)
        else:
            document = loader.load(path)
    except (IngestError, MemoryError):
        raise
    except RecursionError as e:
        raise LoaderError("document structure nested too deeply to read", path) from e
    except Exception as e:
        logger.warning("loader failed path=%s loader=%s error=%r", path, type(loader).__name__, e)
        raise LoaderError(f"{type(e).__name__}: {e}", path) from e
    return _enforce_limits(document, max_pages, max_chars)


def check_readable_file(path: Path) -> None:
    """Raise :class:`LoaderError` unless ``path`` is an existing, non-empty regular file."""
    try:
        stat = path.stat()
    except FileNotFoundError as e:
        raise LoaderError("file not found", path) from e
    except OSError as e:
        raise LoaderError(f"cannot access file: {e.strerror or e}", path) from e
    if not path.is_file():
        raise LoaderError("not a regular file", path)
    if stat.st_size == 0:
        raise LoaderError("empty file (0 bytes)", path)


def _enforce_limits(document: LoadedDocument, max_pages: int | None, max_chars: int | None) -> LoadedDocument:
    """Drop blocks past ``max_pages`` and cut text past ``max_chars`` (a no-op for our loaders)."""
    # Spreadsheet blocks number rows, not pages: max_pages does not apply to them.
    blocks = [
        b for b in document.blocks if max_pages is None or b.page is None or b.row_step or b.page <= max_pages
    ]
    budget = CharBudget(max_chars)
    kept = []
    for block in blocks:
        text = budget.take(block.text)
        if text:
            kept.append(replace(block, text=text) if text != block.text else block)
    warnings = list(document.warnings)
    if len(blocks) < len(document.blocks):
        warnings.append(f"blocks after page {max_pages} dropped (max_pages)")
    if note := budget.warning():
        warnings.append(note)
    if len(kept) == len(document.blocks) and not budget.truncated:
        return document
    return replace(document, blocks=tuple(kept), warnings=tuple(warnings))


def _ensure_builtins() -> None:
    """Register the built-in loaders once, without replacing a user's registration."""
    global _builtins_registered
    if _builtins_registered:
        return
    from ingest.loaders.csv_loader import CsvLoader
    from ingest.loaders.docx_loader import DocxLoader
    from ingest.loaders.eml_loader import EmlLoader
    from ingest.loaders.epub_loader import EpubLoader
    from ingest.loaders.html_loader import HtmlLoader
    from ingest.loaders.markdown_loader import MarkdownLoader
    from ingest.loaders.pdf_loader import PyPdfLoader
    from ingest.loaders.pptx_loader import PptxLoader
    from ingest.loaders.text_loader import PlainTextLoader
    from ingest.loaders.xlsx_loader import XlsxLoader

    builtins: tuple[Loader, ...] = (
        PyPdfLoader(),
        PlainTextLoader(),
        MarkdownLoader(),
        HtmlLoader(),
        DocxLoader(),
        PptxLoader(),
        XlsxLoader(),
        CsvLoader(),
        EpubLoader(),
        EmlLoader(),
    )
    with _lock:
        if _builtins_registered:
            return
        for loader in builtins:
            for suffix in loader.suffixes:
                _registry.setdefault(suffix, loader)
        _builtins_registered = True
