"""Dependencies the routes share: the runtime, once it is ready."""

from __future__ import annotations

import time

import anyio
from fastapi import Request

from app.api.errors import ApiError
from app.api.runtime import Runtime

READY_WAIT_S = 120.0


def get_runtime(request: Request) -> Runtime:
    """The running API's :class:`Runtime`."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def ready_runtime(request: Request) -> Runtime:
    """The runtime after warm-up; a request that arrives during warm-up waits for it (up to 2 min)."""
    runtime = get_runtime(request)
    deadline = time.monotonic() + READY_WAIT_S
    while not runtime.ready.is_set():
        if runtime.warm_error:
            raise ApiError(503, f"citewise failed to start: {runtime.warm_error}", "not_ready")
        if time.monotonic() > deadline:
            raise ApiError(
                503, "still loading the models; retry shortly", "not_ready", headers={"Retry-After": "5"}
            )
        await anyio.sleep(0.05)
    return runtime
