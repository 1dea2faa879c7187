"""Every error as JSON with the right status, never a traceback.

The body has OpenAI's error shape, ``{"error": {"message", "type", "param", "code"}}``, so
OpenAI clients show the message; citewise's own clients read the same fields.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a route raises on purpose, with its HTTP status.

    Args:
        status: HTTP status code.
        message: What went wrong and, where it helps, what to do.
        kind: A short machine-readable type (``invalid_path``, ``queue_full``...).
        param: The request field at fault, if one is.
        headers: Extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.headers = headers


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The JSON of an error response."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    status: int, message: str, kind: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, kind, param), status_code=status, headers=headers)


def service_error(e: Exception) -> ApiError:
    """The HTTP form of an error the service layers raise for a request they cannot carry out."""
    from app.service import IndexBusyError
    from app.uploads import UploadError
    from retrieval.llm.base import LLMUnavailableError

    if isinstance(e, IndexBusyError):
        return ApiError(503, str(e), "index_busy", headers={"Retry-After": "5"})
    if isinstance(e, LLMUnavailableError):
        return ApiError(503, f"the answer model is unavailable: {e}", "model_unavailable")
    if isinstance(e, UploadError):
        return ApiError(400, str(e), "invalid_upload", param="files")
    return ApiError(400, str(e), "invalid_request_error")


def known_errors() -> tuple[type[Exception], ...]:
    """Errors a request can cause (bad filter, empty question, busy index): 4xx/503, not 500."""
    from app.service import ServiceError
    from app.uploads import UploadError
    from graph.base import GraphError
    from ingest.base import IngestError
    from retrieval.base import RetrievalError

    return ServiceError, UploadError, IngestError, RetrievalError, GraphError, ValueError


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    problems = []
    first = ""
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            where = loc[1] if len(loc) > 1 else "?"
            ctx = (err.get("ctx") or {}).get("error", "")
            problems.append(f"body is not valid JSON (at character {where}): {ctx}".rstrip(": "))
            first = first or "body"
            continue
        name = _field(loc)
        first = first or name
        problems.append(f"{name}: {err.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request", first or "body"


def install_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.kind, exc.param, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        return error_response(422, message, "invalid_request_error", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs"
        return error_response(exc.status_code, message, kind, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, known_errors()):
            err = service_error(exc)
            return error_response(err.status, err.message, err.kind, err.param, err.headers)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500, f"internal error ({type(exc).__name__}); the server log has the details", "internal_error"
        )
