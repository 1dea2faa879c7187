"""E-mail messages (.eml): headers as metadata, the text body, attachments as documents of their own.

The message is parsed by the standard library (``email`` with the modern policy). Its subject is
the title, its sender the author, its date the creation date; the From/To/Cc/Date/Subject lines
open the body block too, so "who wrote about ..." finds the message. The body is the plain-text
part, or the HTML part read like an HTML page when there is no plain one.

Each attachment whose file type has a loader is read with that loader (in the same parser
worker, under the same limits) into a :class:`~ingest.base.LoadedDocument` of its own, listed in
``attachments`` with the path ``<message path>/<attachment name>``; the ingest pipeline stores
each as its own document. An attachment that cannot be read is listed in ``failed_attachments``
with the reason; the message and the other attachments are kept. Attachments of attached
messages are not followed (named in a warning).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import ClassVar

from ingest.base import IngestError, LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import BaseLoader, CharBudget, clean_field, read_bytes
from ingest.loaders.text_loader import looks_binary
from ingest.normalize import normalize_text

logger = logging.getLogger(__name__)

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]]+")
MAX_ATTACHMENTS = 50


class EmlLoader(BaseLoader):
    """Reads ``.eml`` (RFC 5322) messages."""

    suffixes: Sequence[str] = (".eml",)
    file_type: ClassVar[str] = "eml"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read the message and its supported attachments.

        Raises:
            LoaderError: not a message (no header lines), or neither body text nor a readable attachment.
        """
        data = read_bytes(path)
        message = _parse(data, path)
        budget = CharBudget(max_chars)
        warnings: list[str] = []
        subject = clean_field(str(message.get("Subject", "")))
        body = _body_text(message, path, warnings)
        lines = [f"{h}: {clean_field(str(message[h]))}" for h in _HEADERS if message.get(h)]
        text = budget.take(normalize_text("\n".join([*lines, "", body])))
        blocks = (TextBlock(text=text, section=subject),) if body.strip() and text else ()
        attachments, failed = self._attachments(message, path, max_pages, max_chars, warnings)
        if not blocks and not attachments:
            reason = "no body text" + (" and no readable attachment" if failed else "")
            raise LoaderError(reason, path)
        if not blocks:  # the message only carries files: keep its headers as its text
            blocks = (TextBlock(text="\n".join(lines), section=subject),)
        if note := budget.warning():
            warnings.append(note)
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=blocks,
            title=subject,
            author=clean_field(str(message.get("From", ""))),
            created=_date(message),
            warnings=tuple(warnings),
            attachments=tuple(attachments),
            failed_attachments=tuple(failed),
        )

    def _attachments(
        self,
        message: EmailMessage,
        path: Path,
        max_pages: int | None,
        max_chars: int | None,
        warnings: list[str],
    ) -> tuple[list[LoadedDocument], list[tuple[str, str]]]:
        from ingest.loaders import load_with, loader_for

        loaded: list[LoadedDocument] = []
        failed: list[tuple[str, str]] = []
        names: set[str] = set()
        with tempfile.TemporaryDirectory(prefix="citewise-eml-") as tmp:
            for index, (name, payload) in enumerate(_attachment_parts(message)):
                if index >= MAX_ATTACHMENTS:
                    warnings.append(f"only the first {MAX_ATTACHMENTS} attachments were read")
                    break
                member = _unique(_safe_name(name, index), names)
                try:
                    loader = loader_for(member)
                except IngestError:
                    warnings.append(f"attachment {member!r} not read: unsupported file type")
                    continue
                target = Path(tmp) / f"{index}{Path(member).suffix.lower()}"
                target.write_bytes(payload)
                try:
                    document = load_with(
                        loader, target, max_pages=max_pages, max_chars=max_chars, options=self.options
                    )
                except IngestError as e:
                    failed.append((member, e.reason))
                    continue
                if document.attachments:
                    warnings.append(
                        f"attachment {member!r} carries attachments of its own; they were not read"
                    )
                loaded.append(replace(document, path=path / member, attachments=(), failed_attachments=()))
        return loaded, failed


def _parse(data: bytes, path: Path) -> EmailMessage:
    if looks_binary(data):
        raise LoaderError("not an e-mail message (binary content)", path)
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not any(message.get(h) for h in (*_HEADERS, "Message-ID", "MIME-Version")):
        raise LoaderError("not an e-mail message (no From/To/Date/Subject header lines)", path)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage objects
    return message


def _body_text(message: EmailMessage, path: Path, warnings: list[str]) -> str:
    """The plain-text body, else the HTML body's visible text, else ""."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError) as e:  # an unknown charset or a broken transfer encoding
        warnings.append(f"body unreadable: {type(e).__name__}: {e}")
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        from ingest.loaders.html_loader import read_html

        blocks, _, _ = read_html(content.encode("utf-8"), path, CharBudget(None), tables=True)
        return "\n\n".join(b.text for b in blocks)
    return content


def _attachment_parts(message: EmailMessage) -> Iterator[tuple[str, bytes]]:
    """``(file name, bytes)`` of every attachment; an attached message becomes an ``.eml``."""
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                yield (name or "attached-message.eml"), inner[0].as_bytes()
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            yield name, payload


def _safe_name(name: str, index: int) -> str:
    """A file name safe to show and to join to a path: no directories, no odd characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    return base or f"attachment-{index + 1}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate.lower() in taken:
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = f"{stem} ({n}){suffix}", n + 1
    taken.add(candidate.lower())
    return candidate


def _date(message: EmailMessage) -> str | None:
    value = message.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value)).isoformat()
    except (TypeError, ValueError, IndexError):
        return None
