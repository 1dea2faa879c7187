"""Liveness (``/health``) and readiness (``/ready``), both open without the key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.api.deps import get_runtime
from app.api.runtime import Runtime

router = APIRouter(tags=["health"])
Current = Annotated[Runtime, Depends(get_runtime)]


@router.get("/health", summary="Liveness, the generation queue and the folder watcher")
async def health(runtime: Current) -> dict[str, Any]:
    """Always 200 while the process serves; says how many answers run and wait for the model.

    The local llama.cpp model generates one answer at a time (``generation.slots`` = 1) and the
    others wait; the ``openai_compat`` backend runs ``api.remote_generations`` in parallel.
    """
    return runtime.health()


@router.get("/ready", summary="Readiness: 200 once models and indexes are loaded, else 503")
async def ready(runtime: Current) -> JSONResponse:
    ok, body = runtime.readiness()
    return JSONResponse(body, status_code=200 if ok else 503)
