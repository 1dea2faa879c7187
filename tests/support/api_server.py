"""Start `citewise serve` as a real subprocess on a free port and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
START_DEADLINE_S = 600.0  # loading MiniLM, spaCy and Gemma on a busy 2-core machine; only a hang is slower
_ANNOUNCE = re.compile(r"citewise API on (http://\S+?)(?:\s|$)")


@dataclass
class Server:
    """A running `citewise serve`: its base URL, key, folders and process."""

    url: str
    key: str
    home: Path
    roots: Path
    watched: Path | None
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, key: str | None = "", timeout: float = 300.0) -> httpx.Client:
        """An HTTP client (``key=""``: the server's key, None: no key, else that key)."""
        token = self.key if key == "" else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> int:
        """SIGINT (uvicorn shuts down gracefully, as on Ctrl-C), then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode


def server_env(home: Path, *, key: str, roots: Path, **settings: str) -> dict[str, str]:
    """The environment of a test server: index and cache under ``home``, a small bundled-model setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        CITEWISE_INDEX_DIR=str(home / "index"),
        CITEWISE_CACHE_DIR=str(home / "cache"),
        CITEWISE_ROOTS=json.dumps([str(roots)]),
        CITEWISE_API__API_KEY=key,
        CITEWISE_API__WATCH_DEBOUNCE_S="0.3",
        CITEWISE_LLM__N_CTX="2048",
        CITEWISE_LLM__MAX_TOKENS="80",
        CITEWISE_LLM__N_THREADS="2",
    )
    env.update({f"CITEWISE_{k.upper()}": v for k, v in settings.items()})
    return env


def start_server(
    home: Path, *, key: str = "", args: Sequence[str] = (), watched: Path | None = None, **settings: str
) -> Server:
    """Start `citewise serve --port 0` under ``home`` and wait until ``/ready`` says 200."""
    roots = home / "roots"
    roots.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    out = home / "server.out"
    cmd = [str(BIN / "citewise"), "serve", "--port", "0", "--log-level", "info", *args]
    if watched is not None:
        cmd += ["--watch", str(watched)]
    with open(out, "wb") as stdout, open(log, "wb") as stderr:
        proc = subprocess.Popen(
            cmd,
            stdout=stdout,
            stderr=stderr,
            cwd=home,
            env=server_env(home, key=key, roots=roots, **settings),
        )
    server = Server("", key, home, roots, watched, proc, log)
    try:
        server.url = _wait_for(lambda: _announced(out, proc, log), "the server to announce its address")
        with server.client(key=None, timeout=30) as client:
            _wait_for(lambda: _ready(client, proc, log), "/ready to say 200")
    except BaseException:
        server.stop()
        raise
    return server


def _announced(out: Path, proc: subprocess.Popen[bytes], log: Path) -> str | None:
    _check_alive(proc, log)
    match = _ANNOUNCE.search(out.read_text(errors="replace"))
    return match.group(1) if match else None


def _ready(client: httpx.Client, proc: subprocess.Popen[bytes], log: Path) -> bool | None:
    _check_alive(proc, log)
    response = client.get("/ready")
    if response.status_code == 503 and "failed" in response.json().get("reason", ""):
        raise AssertionError(f"server warm-up failed: {response.text}")
    return response.status_code == 200 or None


def _check_alive(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is not None:
        raise AssertionError(
            f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}"
        )


def _wait_for(probe: Callable[[], Any], what: str, deadline_s: float = START_DEADLINE_S) -> Any:
    end = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s:.0f}s waiting for {what}")
        time.sleep(0.1)


def poll(probe: Callable[[], Any], what: str, deadline_s: float = 120.0) -> Any:
    """Call ``probe`` until it returns something truthy; fail (not hang) after a generous deadline."""
    return _wait_for(probe, what, deadline_s)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str | None, str]]:
    """Parse a server-sent event stream into ``(event, data)`` pairs."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON error body every failure has (never a traceback)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    assert "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def documents(server: Server) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        response = client.get("/v1/documents")
    assert response.status_code == 200, response.text
    return {d["file_name"]: d for d in response.json()["documents"]}
