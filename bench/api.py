"""The HTTP API's cost over the library, under concurrency, and how fast a watched folder is searchable.

    python -m bench.api                              # defaults below
    python -m bench.api --rounds 3 --per-client 5    # quick

On one index of the sample corpus (``data/corpus``, ingested into a temporary folder), in one run:

* **overhead**: the same questions through ``Citewise.search`` in this process and through
  ``POST /v1/search`` of a ``citewise serve`` subprocess on loopback (one keep-alive client),
  alternating round by round so machine noise hits both alike; p50 and p95 of each, and the
  p50 difference (what HTTP, JSON and the server's thread hand-off add).
* **concurrency**: 16 clients, each its own connection, each sending ``--per-client`` searches
  back to back (a bounded loop, no think time); p50/p95/max latency and searches per second,
  beside one client alone in the same run. Searches read the index under a shared lock, so they
  overlap; on a 2-core machine throughput is bound by the cores, and latency grows with the queue.
* **folder sync**: a file written into the server's ``--watch`` folder, timed until
  ``/v1/search`` returns it (polled every 50 ms): the issue's target is within 5 s.

The server answers extractively (no LLM is loaded): search never calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO, write_result

QUESTIONS = [
    "Who founded the Skarvik Marine Institute?",
    "When was Ingrid Halvorsen born?",
    "What did Aksel Brandt study at Uppsala?",
    "Which glacier did Brandt measure?",
    "What is recorded in the Rustad logbook?",
    "How did the Havorn harbour change?",
    "What does the NOSA overview describe?",
    "What did the 1938 annual report say about the budget?",
    "What is the history of Skarvik?",
    "Who ran the family's boatyard?",
    "Where is Lillefjord?",
    "What did the institute study about cod?",
]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by linear interpolation; values in ms are rounded to 0.1."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo), 1)


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 0.5),
        "p95_ms": percentile(ms, 0.95),
        "max_ms": round(max(ms), 1),
    }


# ------------------------------------------------------------------------------------ the server
class ServerProcess:
    """`citewise serve --port 0` on loopback over ``index``, watching ``watched``."""

    def __init__(self, home: Path, index: Path, watched: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TOKENIZERS_PARALLELISM="false",
            CITEWISE_INDEX_DIR=str(index),
            CITEWISE_CACHE_DIR=str(home / "cache"),
            CITEWISE_LLM__ANSWER_MODE="extractive",
            CITEWISE_API__WATCH_DEBOUNCE_S="0.5",
            PYTHONPATH=str(REPO),
        )
        self.out = home / "server.out"
        self.err = home / "server.err"
        citewise = Path(sys.executable).parent / "citewise"
        cmd = [str(citewise), "serve", "--port", "0", "--watch", str(watched)]
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=home)
        self.url = self._wait(self._announced, "the address")
        with httpx.Client(base_url=self.url, timeout=30) as client:
            self._wait(lambda: client.get("/ready").status_code == 200 or None, "/ready")

    def _announced(self) -> str | None:
        match = re.search(r"citewise API on (http://\S+)", self.out.read_text())
        return match.group(1) if match else None

    def _wait(self, probe: Callable[[], Any], what: str, deadline_s: float = 600) -> Any:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.err.read_text()[-3000:]}")
            value = probe()
            if value:
                return value
            time.sleep(0.1)
        raise RuntimeError(f"server: no {what} within {deadline_s}s")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------------------------ measurements
def overhead(service: Any, client: httpx.Client, rounds: int) -> dict[str, Any]:
    """In-process vs HTTP search latency, alternating per round."""
    local: list[float] = []
    remote: list[float] = []
    for _ in range(rounds):
        for question in QUESTIONS:
            t0 = time.perf_counter()
            service.search(question)
            local.append((time.perf_counter() - t0) * 1000)
        for question in QUESTIONS:
            t0 = time.perf_counter()
            response = client.post("/v1/search", json={"query": question})
            remote.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
    lib, http = summary(local), summary(remote)
    return {"library": lib, "http": http, "overhead_p50_ms": round(http["p50_ms"] - lib["p50_ms"], 1)}


def concurrent(url: str, clients: int, per_client: int) -> dict[str, Any]:
    """``clients`` threads, each with its own connection, each sending ``per_client`` searches."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def worker(offset: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=300) as client:
            client.get("/health")  # connect before the clock starts
            start.wait()
            for i in range(per_client):
                question = QUESTIONS[(offset + i) % len(QUESTIONS)]
                t0 = time.perf_counter()
                response = client.post("/v1/search", json={"query": question})
                mine.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    with lock:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "clients": clients,
        **summary(latencies),
        "searches_per_s": round(len(latencies) / wall, 1),
        "errors": errors[:5],
        "n_errors": len(errors),
    }


def watch_latency(client: httpx.Client, watched: Path, trials: int) -> dict[str, Any]:
    """Seconds from writing a new file to ``/v1/search`` returning it."""
    seconds: list[float] = []
    for i in range(trials):
        token = f"quorvath{i}zeb"
        path = watched / f"note_{i}.md"
        t0 = time.perf_counter()
        path.write_text(f"# Note {i}\n\nThe {token} beacon on the north mole was relit.\n")
        deadline = t0 + 120
        while time.perf_counter() < deadline:
            hits = client.post("/v1/search", json={"query": f"{token} beacon", "k": 1}).json()["hits"]
            if hits and token in hits[0]["text"]:
                break
            time.sleep(0.05)
        seconds.append(time.perf_counter() - t0)
    return {
        "trials": trials,
        "p50_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
        "all_s": [round(s, 2) for s in seconds],
        "debounce_s": 0.5,
    }


def run(rounds: int, clients: int, per_client: int, watch_trials: int) -> dict[str, Any]:
    from app.service import Citewise

    home = Path(tempfile.mkdtemp(prefix="citewise-bench-api-"))
    try:
        index, watched = home / "index", home / "watched"
        watched.mkdir()
        corpus = home / "corpus"
        shutil.copytree(REPO / "data" / "corpus", corpus)
        service = Citewise.open(index, cache_dir=home / "cache", llm={"answer_mode": "extractive"})
        report = service.ingest([corpus])
        service.close()
        server = ServerProcess(home, index, watched)
        try:
            reader = Citewise.open(
                index, cache_dir=home / "cache", read_only=True, llm={"answer_mode": "extractive"}
            )
            reader.search(QUESTIONS[0])  # load the embedder and indexes before timing
            with httpx.Client(base_url=server.url, timeout=300) as client:
                client.post("/v1/search", json={"query": QUESTIONS[0]}).raise_for_status()
                result = {
                    "corpus": f"data/corpus ({report.count('added')} files, {report.embedded} chunks)",
                    "load_avg_before": round(os.getloadavg()[0], 2),
                    "overhead": overhead(reader, client, rounds),
                    "single_client": concurrent(server.url, 1, per_client * 2),
                    "concurrent": concurrent(server.url, clients, per_client),
                    "watch": watch_latency(client, watched, watch_trials),
                    "load_avg_after": round(os.getloadavg()[0], 2),
                }
            reader.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return result


def markdown(result: dict[str, Any]) -> str:
    """The result as markdown (used by docs/benchmarks.md)."""
    o, one, many, w = result["overhead"], result["single_client"], result["concurrent"], result["watch"]
    load = ""
    if "load_avg_before" in result:
        load = (
            f" Load average (1 min) {result['load_avg_before']} before, {result['load_avg_after']} after: "
            "above the core count, other work shared the machine and every figure is pessimistic."
        )
    lines = [
        f"Corpus: {result['corpus']}; server on loopback, same machine, same run.{load}",
        "",
        "| search through | n | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| `Citewise.search` in-process (library) | {o['library']['n']} | {o['library']['p50_ms']} | "
        f"{o['library']['p95_ms']} | {o['library']['max_ms']} |",
        f"| `POST /v1/search` (one keep-alive client) | {o['http']['n']} | {o['http']['p50_ms']} | "
        f"{o['http']['p95_ms']} | {o['http']['max_ms']} |",
        "",
        f"API overhead over the library at p50: **{o['overhead_p50_ms']} ms**.",
        "",
        "| clients | searches | p50 ms | p95 ms | max ms | searches/s | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in (one, many):
        lines.append(
            f"| {c['clients']} | {c['n']} | {c['p50_ms']} | {c['p95_ms']} | {c['max_ms']} | "
            f"{c['searches_per_s']} | {c['n_errors']} |"
        )
    lines += [
        "",
        f"Folder sync (`serve --watch`, debounce {w['debounce_s']} s): a new file was searchable after "
        f"p50 {w['p50_s']} s, at most {w['max_s']} s over {w['trials']} files (target: within 5 s).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="Passes over the questions for the overhead.")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=10, help="Searches each concurrent client sends.")
    parser.add_argument("--watch-trials", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.rounds, args.clients, args.per_client, args.watch_trials)
    command = "python -m bench.api " + " ".join(sys.argv[1:] if argv is None else argv)
    path = write_result("api", result, command.strip())
    print(json.dumps({"written": str(path), **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
