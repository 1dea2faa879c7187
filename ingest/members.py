"""Documents that come inside another file: the attachments of an e-mail.

A loader lists them in ``LoadedDocument.attachments``, each with the path
``<container path>/<member name>``. The pipeline stores each as a document of its own (its own
doc id, chunks and graph), reported as its own outcome: an attachment that could not be read
fails alone, with its reason, and the message and the other attachments are kept. Members of a
container that are no longer in it are forgotten when the container is ingested again, and a
member is kept by ``prune`` as long as its container is.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.base import IngestError

if TYPE_CHECKING:
    from ingest.pipeline import FileOutcome, IngestPipeline, IngestReport, _Read

log = logging.getLogger(__name__)


# File types whose documents can carry members (only these pay for the look-up of stale ones).
CONTAINER_TYPES = frozenset({"eml"})


def members(pipeline: IngestPipeline, read: _Read, report: IngestReport) -> list[_Read | FileOutcome]:
    """The attachments of a read document, chunked and ready to store, or failed with their reason."""
    from ingest.pipeline import FileOutcome, _Read, doc_id_for

    doc = read.doc
    if not (doc.attachments or doc.failed_attachments or doc.file_type in CONTAINER_TYPES):
        return []
    out: list[_Read | FileOutcome] = []
    wanted: set[str] = set()
    for attachment in doc.attachments:
        path = attachment.path
        wanted.add(str(path))
        t0 = time.perf_counter()
        content_hash = hashlib.sha256(f"{read.content_hash}:{path.name}".encode()).hexdigest()
        try:
            doc_id = doc_id_for(path)
            chunks, children = pipeline.chunk(attachment, path, doc_id, content_hash, report)
        except IngestError as e:
            out.append(FileOutcome(str(path), "failed", e.reason, seconds=time.perf_counter() - t0))
            continue
        out.append(_Read(path, doc_id, content_hash, attachment, chunks, children, t0, container=read.path))
    for name, reason in doc.failed_attachments:
        out.append(FileOutcome(str(read.path / name), "failed", reason))
    _forget_stale(pipeline, read.path, wanted)
    return out


def _forget_stale(pipeline: IngestPipeline, container: Path, wanted: set[str]) -> None:
    """Forget stored members of ``container`` that its new version no longer carries."""
    prefix = f"{container}/"
    for record in pipeline.store.docstore.documents():
        if record.source.startswith(prefix) and record.source not in wanted:
            log.info("attachment gone from its container source=%s", record.source)
            pipeline.forget(record.doc_id)


def kept_member(source: Path, keep: Collection[str]) -> bool:
    """True when ``source`` is a member of a file (an ancestor that is a regular file) that is kept."""
    for parent in source.parents:
        if parent.is_file():
            return str(parent) in keep
    return False
