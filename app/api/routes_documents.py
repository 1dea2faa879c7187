"""Documents: upload, ingest a server-side path inside the roots, list, forget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, UploadFile

from app.api.deps import ready_runtime
from app.api.errors import ApiError
from app.api.runtime import Runtime
from app.api.schemas import (
    DocumentOut,
    DocumentsResponse,
    FileResult,
    ForgetResponse,
    IngestPathsRequest,
    IngestResponse,
)
from app.api.security import inside_roots
from app.api.streaming import call

router = APIRouter(prefix="/v1/documents", tags=["documents"])
Ready = Annotated[Runtime, Depends(ready_runtime)]


def ingest_response(report: Any) -> IngestResponse:
    """An :class:`ingest.pipeline.IngestReport` as the response body."""
    return IngestResponse(
        summary=report.summary(),
        embedded=report.embedded,
        files=[
            FileResult(
                path=o.path,
                name=Path(o.path).name,
                status=o.status,
                reason=o.reason,
                pages=o.pages,
                chunks=o.chunks,
                entities=o.entities,
                seconds=round(o.seconds, 3),
                warnings=list(o.warnings),
            )
            for o in report.outcomes
        ],
    )


@router.post("", response_model=IngestResponse, summary="Upload files and ingest them")
async def upload(
    runtime: Ready, files: Annotated[list[UploadFile], File(description="One or more documents.")]
) -> IngestResponse:
    """Store the uploaded files like UI uploads and ingest them incrementally.

    The whole request is refused, with nothing stored, when a file is over the size limit (413),
    of a type citewise cannot read (415) or when there are too many files (400). A file that is
    accepted but cannot be parsed (a broken PDF) is reported ``failed`` with its reason while the
    others are ingested.
    """
    from app.uploads import Upload, ingest_uploads

    api = runtime.settings.api
    if len(files) > api.max_upload_files:
        raise ApiError(
            400, f"{len(files)} files sent; at most {api.max_upload_files} per request", param="files"
        )
    _check_uploads(files, max_bytes=int(api.max_upload_mb * 2**20))
    uploads = [Upload(f.filename or "upload", await f.read()) for f in files]
    report = await call(ingest_uploads, runtime.service, uploads, max_mb=api.max_upload_mb)
    return ingest_response(report)


def _check_uploads(files: list[UploadFile], *, max_bytes: int) -> None:
    """Refuse the request before anything is read into memory or stored (the parts are spooled)."""
    from app.uploads import sanitize_name
    from ingest.loaders import supported_suffixes

    suffixes = supported_suffixes()
    for upload in files:
        name = upload.filename or "upload"
        suffix = Path(sanitize_name(name)).suffix
        if suffix not in suffixes:
            wanted = ", ".join(sorted(s.lstrip(".") for s in suffixes))
            raise ApiError(
                415,
                f"{name}: unsupported file type {suffix or '(no suffix)'!r}; supported: {wanted}. "
                "Nothing was ingested.",
                "unsupported_media_type",
                param="files",
            )
        size = upload.size if upload.size is not None else 0
        if size > max_bytes:
            raise ApiError(
                413,
                f"{name} is {size / 2**20:.1f} MB, over the "
                f"{max_bytes / 2**20:g} MB upload limit. Nothing was ingested.",
                "request_too_large",
                param="files",
            )


@router.post("/ingest", response_model=IngestResponse, summary="Ingest files or folders on the server")
async def ingest_paths(runtime: Ready, body: IngestPathsRequest) -> IngestResponse:
    """Ingest server-side paths; each must lie inside the configured roots (``CITEWISE_ROOTS``).

    Every path is checked before anything is read: ``..`` gives 400, a path outside the roots 403.
    """
    targets = [inside_roots(raw, runtime.settings.roots) for raw in body.paths]
    report = await call(runtime.service.ingest, targets, prune=body.prune, graph=body.graph)
    return ingest_response(report)


@router.get("", response_model=DocumentsResponse, summary="List the indexed documents")
async def list_documents(runtime: Ready) -> DocumentsResponse:
    """Every indexed document with its counts, and the index's totals."""
    from app.uploads import uploads_dir

    service = runtime.service
    records = await call(service.documents)
    stats = await call(service.stats)
    uploads = uploads_dir(service).resolve()
    documents = [
        DocumentOut(
            doc_id=r.doc_id,
            source=r.source,
            file_name=r.file_name,
            file_type=r.file_type,
            size=r.size,
            pages=r.pages,
            parents=r.n_parents,
            chunks=r.n_children,
            entities=r.n_entities,
            ingested_at=r.ingested_at,
            uploaded=Path(r.source).parent.parent == uploads,
            warnings=[str(w) for w in r.extra_data().get("warnings", [])],
        )
        for r in sorted(records, key=lambda r: r.file_name.lower())
    ]
    stats.pop("index_dir", None)  # a server path the client has no use for
    return DocumentsResponse(documents=documents, stats=stats)


@router.delete("/{doc_id}", response_model=ForgetResponse, summary="Forget a document")
async def forget(runtime: Ready, doc_id: str) -> ForgetResponse:
    """Remove the document from every index; an uploaded document's stored copy is deleted too."""
    from app.uploads import remove_document

    service = runtime.service
    records = await call(service.documents)
    record = next((r for r in records if r.doc_id == doc_id), None)
    if record is None:
        raise ApiError(404, f"no document with id {doc_id!r}", "not_found", param="doc_id")
    removed = await call(remove_document, service, record.source)
    return ForgetResponse(removed=removed)
