"""Files uploaded through a front end: stored under content-hash folders, then ingested.

An upload is kept at ``<index_dir>/../uploads/<sha256>/<sanitized name>``. The folder comes from
the bytes, never from the uploaded name, so a name like ``../../etc/passwd`` can only ever choose
the last path component, and that is sanitized too. The same bytes under the same name land on
the same path, so uploading a file twice costs nothing: the pipeline sees it unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.service import Citewise
    from ingest.pipeline import IngestReport, ProgressFn

log = logging.getLogger(__name__)

UPLOADS_DIR_NAME = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ]+")
_MAX_NAME = 120


class UploadError(ValueError):
    """An upload that cannot be stored (too large, empty, unsupported type)."""


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the user gave it and its bytes."""

    name: str
    data: bytes


def uploads_dir(service: Citewise) -> Path:
    """Where uploads of ``service``'s index are kept (next to the index directory)."""
    return service.index_dir.parent / UPLOADS_DIR_NAME


def sanitize_name(name: str) -> str:
    """A safe single file name derived from an uploaded ``name`` (no folders, no hidden files)."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name))[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix.lower()[:16]
    stem = stem.strip(" .")[: _MAX_NAME - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def store_upload(root: Path, upload: Upload, *, max_bytes: int, suffixes: Sequence[str]) -> Path:
    """Write ``upload`` under ``root/<sha256>/`` and return its path.

    Raises:
        UploadError: The upload is empty, larger than ``max_bytes`` or of an unsupported type.
    """
    safe = sanitize_name(upload.name)
    suffix = Path(safe).suffix
    if suffix not in suffixes:
        wanted = ", ".join(sorted(s.lstrip(".") for s in suffixes))
        raise UploadError(f"unsupported file type {suffix or '(no suffix)'!r}; supported: {wanted}")
    if not upload.data:
        raise UploadError("the file is empty")
    if len(upload.data) > max_bytes:
        raise UploadError(
            f"file is {len(upload.data) / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB upload limit"
        )
    folder = root / hashlib.sha256(upload.data).hexdigest()
    target = folder / safe
    if target.is_file() and target.stat().st_size == len(upload.data):
        return target  # same bytes, same name: keep the file (and its mtime) as it is
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{safe}.{os.getpid()}.part"
    partial.write_bytes(upload.data)
    os.replace(partial, target)
    return target


def ingest_uploads(
    service: Citewise,
    uploads: Sequence[Upload],
    *,
    max_mb: float,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Store ``uploads`` and ingest them; a rejected or failing file never stops the others.

    Args:
        service: The index to ingest into.
        uploads: The uploaded files.
        max_mb: Largest upload accepted, in MB (``settings.ui.max_upload_mb``).
        progress: The pipeline's ``(event, data)`` callback.

    Returns:
        The ingest report; rejected uploads appear in it as ``failed`` with their reason.
    """
    from ingest.loaders import supported_suffixes
    from ingest.pipeline import FileOutcome, IngestReport

    root = uploads_dir(service)
    stored: list[Path] = []
    rejected: list[FileOutcome] = []
    for upload in uploads:
        try:
            stored.append(
                store_upload(root, upload, max_bytes=int(max_mb * 2**20), suffixes=supported_suffixes())
            )
        except (UploadError, OSError) as e:
            log.info("upload rejected name=%s reason=%s", upload.name, e)
            rejected.append(FileOutcome(sanitize_name(upload.name), "failed", str(e)))
    report = service.ingest(stored, progress=progress) if stored else IngestReport()
    report.outcomes[:0] = rejected
    return report


def remove_document(service: Citewise, source: str) -> list[str]:
    """Forget the document at ``source``; if it was uploaded, delete the stored copy too."""
    removed = service.forget(source)
    path = Path(source).resolve()
    if removed and path.parent.parent == uploads_dir(service).resolve():
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when empty: the same bytes may be stored under another name
    return removed
