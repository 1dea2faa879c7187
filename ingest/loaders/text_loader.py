"""Plain text files: detect the encoding, refuse binary content, one block of text."""

from __future__ import annotations

import codecs
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from ingest.base import LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import BaseLoader, CharBudget, read_bytes, require_text
from ingest.normalize import normalize_text

logger = logging.getLogger(__name__)

_SNIFF_BYTES = 65536
# A text file has (almost) no NUL bytes and few control bytes other than whitespace.
_MAX_NUL_RATIO = 0.001
_MAX_CONTROL_RATIO = 0.05
_CONTROL_BYTES = bytes(b for b in [*range(32), 127] if b not in b"\t\n\r\x0c")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TITLE_MAX_CHARS = 120


class PlainTextLoader(BaseLoader):
    """Reads ``.txt``/``.text`` files; the title is the first line when it is short."""

    suffixes: Sequence[str] = (".txt", ".text")
    file_type: ClassVar[str] = "text"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path`` as text; ``max_pages`` does not apply to plain text."""
        data = read_bytes(path)
        text, warnings = decode_text(data, path)
        budget = CharBudget(max_chars)
        body = budget.take(normalize_text(text))
        blocks = (TextBlock(text=body),) if body else ()
        require_text(blocks, path)
        if note := budget.warning():
            warnings.append(note)
        first_line = body.split("\n", 1)[0]
        title = first_line if len(first_line) <= _TITLE_MAX_CHARS else ""
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=blocks,
            title=title,
            warnings=tuple(warnings),
        )


def decode_text(data: bytes, path: Path) -> tuple[str, list[str]]:
    """Decode file bytes: a BOM wins, then UTF-8, then cp1252, then latin-1 (with a warning).

    Raises:
        LoaderError: "looks binary" when the bytes are not text in any of these encodings.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), []
            except UnicodeDecodeError as e:
                raise LoaderError(f"invalid {encoding} text after a byte-order mark: {e.reason}", path) from e
    if looks_binary(data):
        raise LoaderError("looks binary (NUL bytes or mostly non-printable), not text", path)
    with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: try the legacy encodings below
        return data.decode("utf-8"), []
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        logger.info("text not UTF-8, decoded as %s path=%s", encoding, path)
        return text, [f"not valid UTF-8; decoded as {encoding}"]
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def looks_binary(data: bytes) -> bool:
    """True when the first 64 KiB hold NUL bytes or too many control bytes to be text."""
    sample = data[:_SNIFF_BYTES]
    if not sample:
        return False
    nul_ratio = sample.count(0) / len(sample)
    control = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return nul_ratio > _MAX_NUL_RATIO or control / len(sample) > _MAX_CONTROL_RATIO
