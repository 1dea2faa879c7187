"""Running the service's blocking calls off the event loop, and server-sent events.

``call`` runs a service call on a worker thread and turns the errors a request can cause into
:class:`ApiError`. ``iterate`` walks a blocking generator (the answer chain's stream) one event
at a time on worker threads and always closes it, also when the client goes away mid-answer:
closing is what releases the index's read lock and ends the generation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool

from app.api.errors import ApiError, known_errors, service_error

T = TypeVar("T")
_END = object()


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a worker thread; request errors become :class:`ApiError`."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except ApiError:
        raise
    except known_errors() as e:
        raise service_error(e) from e


async def iterate(events: Iterator[T]) -> AsyncIterator[T]:
    """Yield ``events`` without blocking the loop; the generator is closed however this ends."""
    try:
        while True:
            item = await run_in_threadpool(next, events, _END)
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)


def _scalar(value: Any) -> Any:
    """numpy scalars (scores) as plain numbers for JSON."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(data: Any) -> str:
    """``data`` as compact JSON (numpy scores included)."""
    return json.dumps(data, ensure_ascii=False, default=_scalar)


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event: an optional ``event:`` line and the JSON ``data:`` line."""
    payload = data if isinstance(data, str) else to_json(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Headers that stop proxies from buffering a stream."""
