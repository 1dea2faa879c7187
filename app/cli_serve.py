"""The long-running commands: ``citewise serve`` (the HTTP API) and the loop of ``ingest --watch``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import click


@click.command()
@click.option(
    "--index",
    "index",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Index directory (default: settings index_dir, data/index).",
)
@click.option("--host", default=None, help="Address to bind (default: settings api.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: settings api.port; 0 picks a free one).")
@click.option(
    "--watch",
    "watch",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Keep FOLDER in sync with the index while serving (repeatable).",
)
@click.option("--log-level", type=click.Choice(["warning", "info", "debug"]), default="warning")
def serve(
    index: Path | None, host: str | None, port: int | None, watch: tuple[Path, ...], log_level: str
) -> None:
    """Serve the REST API and the OpenAI-compatible chat endpoint (docs at /docs).

    Without an API key (CITEWISE_API__API_KEY) it only listens on 127.0.0.1 or localhost.
    """
    try:
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise click.ClickException("the API needs the api extra: pip install 'citewise[api]'") from e
    from app.api.server import serve as run_server
    from app.cli import _errors_to_click, _open_service  # app.cli registers this command: import late

    service = _open_service(index)
    service.lock_timeout = service.settings.api.lock_wait_s
    api = service.settings.api
    host, port = host or api.host, api.port if port is None else port
    try:
        _errors_to_click(run_server)(
            service,
            host=host,
            port=port,
            watch=list(watch),
            announce=lambda line: click.echo(line, err=False),
            log_level=log_level,
        )
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def watch_folders(
    service: Any, folders: Sequence[Path], *, exclude: Sequence[str], graph: bool | None
) -> None:
    """Follow ``folders`` until Ctrl-C or SIGTERM, printing what each sync changed."""
    from app.render import print_sync
    from app.watch import FolderWatcher

    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise click.UsageError(f"--watch needs folders; not a folder: {', '.join(missing)}")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    watcher = FolderWatcher(
        service,
        folders,
        debounce_s=service.settings.api.watch_debounce_s,
        exclude=exclude,
        graph=graph,
        on_sync=print_sync,
    )
    watcher.start(initial_sync=False)
    click.echo(f"watching {', '.join(str(f) for f in watcher.folders)} (Ctrl-C to stop)", err=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
        click.echo("stopped watching", err=True)
