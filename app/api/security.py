"""The API's guards: the bearer key, request size limits, loopback binding and the ingest roots."""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from app.api.errors import ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""Paths served without the key: probes and the API's own description (no documents, no answers)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str) -> None:
    """Refuse to serve beyond this machine without a key.

    Raises:
        ValueError: ``host`` is not loopback and ``api_key`` is empty.
    """
    if not api_key and not is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could read "
            "your documents. Set CITEWISE_API__API_KEY (clients send it as 'Authorization: Bearer KEY') "
            "or bind to 127.0.0.1."
        )


def key_matches(header: str | None, api_key: str) -> bool:
    """Whether an ``Authorization`` header carries ``api_key`` as a bearer token (constant-time)."""
    if not header:
        return False
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), api_key.encode())


class GuardMiddleware:
    """Checks the bearer key and caps request bodies before any route reads them.

    A body announced larger than the cap is refused at once; a body sent without a length is
    counted as it streams in and cut off at the cap. Either way the client gets 413.

    Args:
        app: The wrapped ASGI app.
        api_key: The key (empty: no key required).
        upload_bytes: Cap for multipart bodies (uploads).
        json_bytes: Cap for every other body.
    """

    def __init__(self, app: ASGIApp, *, api_key: str, upload_bytes: int, json_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.upload_bytes = upload_bytes
        self.json_bytes = json_bytes

    def needs_key(self, path: str) -> bool:
        """Whether a request for ``path`` must carry the key."""
        return bool(self.api_key) and path not in OPEN_PATHS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        authorization = headers.get("authorization")
        if self.needs_key(scope["path"]) and not key_matches(authorization, self.api_key):
            message = (
                "invalid API key" if authorization else "missing API key: send 'Authorization: Bearer KEY'"
            )
            await _send_error(send, 401, message, "authentication_error", {"www-authenticate": "Bearer"})
            return
        multipart = headers.get("content-type", "").startswith("multipart/")
        cap = self.upload_bytes if multipart else self.json_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            await _send_error(send, 413, _too_large(int(length), cap), "request_too_large")
            return
        await self._capped(scope, receive, send, cap)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """Run the app, answering 413 ourselves once the body streams past ``cap``.

        The app then sees the client as gone and whatever it still sends is dropped.
        """
        seen = 0
        answered = False

        async def counted() -> Message:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    if not answered:
                        answered = True
                        await _send_error(send, 413, _too_large(seen, cap), "request_too_large")
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not answered:
                raise


def _too_large(size: int, cap: int) -> str:
    return f"request body of {_size(size)} is over the {_size(cap)} limit"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


async def _send_error(
    send: Send, status: int, message: str, kind: str, extra: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def inside_roots(raw: str, roots: Sequence[Path]) -> Path:
    """The server-side path ``raw`` if it lies inside one of ``roots``; nothing is read to decide.

    ``..`` components are refused outright (400), before any resolving. The path is then made
    absolute against the first root and resolved lexically and through symlinks, so a link that
    leads out of the roots is refused too (403).

    Raises:
        ApiError: 400 for an empty path or one with ``..``; 403 when no roots are configured or
            the path lies outside them.
    """
    if not raw.strip() or "\x00" in raw:
        raise ApiError(400, "empty or invalid path", "invalid_path", param="paths")
    given = Path(raw).expanduser()
    if ".." in given.parts:
        raise ApiError(400, f"{raw!r}: '..' is not allowed in paths", "invalid_path", param="paths")
    if not roots:
        raise ApiError(
            403,
            "no folders are open to the API: set CITEWISE_ROOTS (a JSON list of folders) to allow "
            "server-side ingest, or upload the files",
            "forbidden_path",
            param="paths",
        )
    resolved_roots = [r.expanduser().resolve() for r in roots]
    target = (given if given.is_absolute() else resolved_roots[0] / given).resolve()
    if not any(target == r or target.is_relative_to(r) for r in resolved_roots):
        allowed = ", ".join(str(r) for r in resolved_roots)
        raise ApiError(403, f"{raw!r} is outside the allowed folders ({allowed})", "forbidden_path", "paths")
    return target
