"""Search and ask: hits with provenance, answers with citations (as JSON or server-sent events)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import nullcontext
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse

from app.api.deps import ready_runtime
from app.api.errors import ApiError, error_body, known_errors, service_error
from app.api.runtime import QueueFullError, Runtime
from app.api.schemas import AskRequest, HitOut, SearchRequest, SearchResponse
from app.api.streaming import SSE_HEADERS, call, iterate, sse, to_json

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["query"])
Ready = Annotated[Runtime, Depends(ready_runtime)]


def hit_out(rank: int, hit: Any) -> HitOut:
    """A :class:`retrieval.base.Hit` as the response model (text: what the answer step would read)."""
    chunk = hit.chunk
    return HitOut(
        rank=rank,
        chunk_id=chunk.id,
        doc_id=chunk.doc_id,
        file_name=chunk.file_name,
        source=chunk.source,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
        section=chunk.section,
        score=float(hit.score),
        text=hit.answer_text,
        provenance={name: {k: float(v) for k, v in p.items()} for name, p in hit.provenance.items()},
    )


@router.post("/search", response_model=SearchResponse, summary="Retrieve passages (no LLM)")
async def search(runtime: Ready, body: SearchRequest) -> SearchResponse:
    """Hybrid retrieval: the hits with file, pages, score, provenance, and the filter applied."""
    result = await call(runtime.service.search, body.query, **body.options())
    return SearchResponse(
        query=result.query,
        filter=result.filter,
        hits=[hit_out(i, h) for i, h in enumerate(result.hits, 1)],
        notes=list(result.notes),
    )


def queue_full(e: QueueFullError) -> ApiError:
    return ApiError(429, str(e), "queue_full", headers={"Retry-After": "5"})


@router.post(
    "/ask",
    summary="Answer a question with citations",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or events with stream=true"}
    },
)
async def ask(runtime: Ready, body: AskRequest) -> Any:
    """Answer with ``[n]`` citations to file and page.

    With ``stream: true`` the answer comes as server-sent events: ``retrieval`` (the hits, before
    any generation), ``delta`` (pieces of the text), then ``answer`` (the final answer with its
    citations); an ``error`` event replaces ``answer`` if the answer fails midway. Generated
    answers queue for the local model; ``/health`` shows the queue.
    """
    history = [(t.question, t.answer) for t in body.history]
    options = body.options()
    service = runtime.service
    if body.stream:
        if runtime.generates(body.mode) and runtime.queue.full():
            raise queue_full(QueueFullError(f"{runtime.queue.waiting} answers are already waiting"))
        events = _ask_events(runtime, body.question, history, body.mode, options)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    try:
        if runtime.generates(body.mode):
            async with runtime.queue.slot():
                answer = await call(service.ask, body.question, history=history, mode=body.mode, **options)
        else:
            answer = await call(service.ask, body.question, history=history, mode=body.mode, **options)
    except QueueFullError as e:
        raise queue_full(e) from e
    return Response(to_json(answer.to_dict()), media_type="application/json")


async def _ask_events(
    runtime: Runtime, question: str, history: list[Any], mode: str | None, options: dict[str, Any]
) -> AsyncIterator[str]:
    from retrieval.chain import Done, Retrieved, TextDelta

    try:
        async with runtime.queue.slot() if runtime.generates(mode) else nullcontext():
            events = await call(runtime.service.stream, question, history=history, mode=mode, **options)
            async for event in iterate(events):
                if isinstance(event, Retrieved):
                    hits = [hit_out(i, h).model_dump() for i, h in enumerate(event.hits, 1)]
                    yield sse({"standalone_question": event.standalone_question, "hits": hits}, "retrieval")
                elif isinstance(event, TextDelta):
                    yield sse({"text": event.text}, "delta")
                elif isinstance(event, Done):
                    yield sse(event.answer.to_dict(), "answer")
    except QueueFullError as e:
        err = queue_full(e)
        yield sse(error_body(err.message, err.kind), "error")
    except known_errors() as e:
        err = service_error(e)
        yield sse(error_body(err.message, err.kind), "error")
    except ApiError as e:
        yield sse(error_body(e.message, e.kind, e.param), "error")
    except Exception as e:  # the response has started: the error can only be told in the stream
        log.exception("streamed answer failed")
        yield sse(
            error_body(f"internal error ({type(e).__name__}); see the server log", "internal_error"), "error"
        )
