"""Running the API with uvicorn: the bind check, the socket, the announced address."""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from app.api.security import check_bind

if TYPE_CHECKING:
    from app.service import Citewise

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free port the kernel picks, race-free)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(
    service: Citewise,
    *,
    host: str,
    port: int,
    watch: Sequence[Path] = (),
    announce: Callable[[str], None] = print,
    log_level: str = "warning",
) -> None:
    """Serve the API until interrupted.

    Raises:
        ValueError: ``host`` is not loopback and no API key is set.
        OSError: The address cannot be bound (in use, not this machine's).
    """
    import uvicorn

    from app.api.app import create_app

    check_bind(host, service.settings.api.api_key.get_secret_value())
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(service, watch=watch)
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level in ("info", "debug"))
    server = uvicorn.Server(config)
    announce(f"citewise API on http://{shown}:{bound_port} (docs: /docs, OpenAI base URL: /v1)")
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the previous
    # handler: make that a normal end (exit 0, as `docker stop` expects), not "Aborted!" or a kill.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
