"""The FastAPI application: routers, guards, CORS, error handlers, and the runtime's life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from app.api import routes_documents, routes_graph, routes_health, routes_openai, routes_query
from app.api.errors import install_handlers
from app.api.runtime import Runtime
from app.api.security import GuardMiddleware

if TYPE_CHECKING:
    from app.service import Citewise

DESCRIPTION = """
Private question answering over your own documents, with citations to file and page.

Send `Authorization: Bearer KEY` when the server has a key (`CITEWISE_API__API_KEY`).
`/v1/chat/completions` and `/v1/models` speak OpenAI's format, so OpenAI clients and chat
front ends can use citewise as a model; citations come in the extra `citations` field.
"""


def create_app(service: Citewise, *, watch: Sequence[Path] = (), warm: bool = True) -> FastAPI:
    """The API over ``service``.

    Args:
        service: A writable service; every request shares it.
        watch: Folders to keep in sync while the app runs.
        warm: Load models and indexes at start-up (``/ready`` reports when done).
    """
    settings = service.settings
    runtime = Runtime(service, watch=watch, warm=warm)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(title="citewise", version=_version(), description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = runtime
    for module in (routes_health, routes_documents, routes_query, routes_graph, routes_openai):
        app.include_router(module.router)
    install_handlers(app)
    api = settings.api
    app.add_middleware(
        GuardMiddleware,  # type: ignore[arg-type]
        api_key=api.api_key.get_secret_value(),
        upload_bytes=int(api.max_upload_mb * api.max_upload_files * 2**20) + 2**20,
        json_bytes=api.max_json_kb * 1024,
    )
    if api.cors_origins:  # added last, so it runs first and answers preflights without the key
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,  # type: ignore[arg-type]
            allow_origins=api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("citewise")
    except metadata.PackageNotFoundError:
        return "0"
