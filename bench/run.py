"""The benchmark harness: every benchmark in one run, then ``docs/benchmarks.md``.

    python -m bench.run --quick          # make bench: small limits, under 15 minutes on 2 cores
    python -m bench.run --full           # make bench-full: everything at full size
    python -m bench.run --quick --only eval scale
    python -m bench.run --report-only    # regenerate docs/benchmarks.md from bench/results/*.json

Each step runs as its own ``python -m bench.<name> ...`` process (so one failing benchmark does not
stop the others and memory figures do not mix) and writes ``bench/results/<name>.json`` with the
machine, versions, command and timestamp. ``bench/results/run.json`` records which steps ran, with
which command, how long they took and whether they failed; the report shows all of it.

Steps, in order (retrieval builds the cached sec10q index that scale, answer and eval reuse):
ingest, graph, retrieval, scale, answer, eval. The ``eval`` step is ``citewise eval`` on sec10q:
the scored sec10q questions plus questions the filings cannot answer, through the full service
with the chosen GGUF model (citation validity, refusals, token F1, numeric match, TTFT).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, shared_data, write_result

INDEX = RESULTS / "cache" / "sec10q-index"
LOGS = RESULTS / "cache" / "logs"  # git-ignored, like the cached indexes

# (step, module, quick args, full args); "{index}" is replaced by the cached sec10q index.
STEPS: list[tuple[str, str, list[str], list[str]]] = [
    ("ingest", "bench.ingest", ["--limit", "2"], []),
    ("graph", "bench.graph_eval", ["--limit", "60"], []),
    (
        "retrieval",
        "bench.retrieval",
        ["--limit", "40", "--sizes", "10000", "--latency-queries", "30"],
        ["--sizes", "10000", "100000"],
    ),
    (
        "scale",
        "bench.scale",
        ["--sizes", "10000", "--queries", "30"],
        ["--sizes", "10000", "100000", "1000000", "--queries", "100"],
    ),
    (
        "answer",
        "bench.answer",
        ["--runs", "1", "--max-tokens", "32", "--index", "{index}", "--limit", "8"],
        ["--runs", "3", "--index", "{index}", "--limit", "195"],
    ),
    ("eval", "bench.run", ["--eval-step", "--limit", "12"], ["--eval-step"]),
]


def step_command(module: str, args: list[str], model: Path | None) -> list[str]:
    """The argv of one step (``{index}`` filled in, ``--model`` passed to the answer steps)."""
    argv = [a.replace("{index}", str(INDEX)) for a in args]
    if model is not None and module == "bench.answer":
        argv += ["--model", str(model)]
    if model is not None and "--eval-step" in argv:
        argv += ["--model", str(model)]
    return [sys.executable, "-m", module, *argv]


def run_step(name: str, argv: list[str], log_dir: Path) -> dict[str, Any]:
    """Run one benchmark process; its output goes to ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = "python " + " ".join(_quote(a) for a in argv[1:])
    print(f"[bench] {name}: {command}", flush=True)
    t0 = time.perf_counter()
    with (log_dir / f"{name}.log").open("w") as log:
        code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    seconds = round(time.perf_counter() - t0, 1)
    print(f"[bench] {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds}s", flush=True)
    return {"step": name, "command": command, "exit_code": code, "seconds": seconds}


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " \"'") else arg


# ------------------------------------------------------------------------------------ eval step
def eval_step(limit: int | None, model: Path | None, data: Path) -> int:
    """``citewise eval`` over sec10q (+ unanswerable questions) on the cached index; writes eval.json."""
    from app.evaluation import evaluate, summarize
    from app.service import Citewise
    from bench.datasets import SEC10Q_UNANSWERABLE, load_sec10q

    items = load_sec10q(data / "qna_data.csv", unanswerable=True)
    answerable, unanswerable = items[: -len(SEC10Q_UNANSWERABLE)], items[-len(SEC10Q_UNANSWERABLE) :]
    if limit:  # an even spread over the file, so every question type is represented
        answerable = answerable[:: max(1, len(answerable) // limit)][:limit]
        unanswerable = unanswerable[: max(2, limit // 3)]
    items = answerable + unanswerable
    overrides: dict[str, Any] = {"answer_mode": "llm"}
    if model is not None:
        overrides["model_path"] = model
    service = Citewise.open(INDEX, read_only=True, llm=overrides)
    results = list(evaluate(service, items))
    by_type: dict[str, Any] = {}
    for kind in sorted({r.type for r in results}):
        by_type[kind] = summarize([r for r in results if r.type == kind])
    payload = {
        "dataset": "sec10q qna_data.csv + bench.datasets.SEC10Q_UNANSWERABLE",
        "model": str(model) if model else "bundled Gemma 3 270M (Q4_K_M)",
        "index": str(INDEX.relative_to(REPO)),
        "summary": summarize(results, total=len(items)),
        "by_type": by_type,
        "results": [r.model_dump() for r in results],
    }
    argv = [
        "--eval-step",
        *(["--limit", str(limit)] if limit else []),
        *(["--model", str(model)] if model else []),
    ]
    write_result("eval", payload, "python -m bench.run " + " ".join(argv))
    service.close()
    print(json.dumps(payload["summary"], indent=2))
    return 0 if results else 1


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the quick set (default)")
    size.add_argument("--full", action="store_true", help="the full set")
    size.add_argument("--report-only", action="store_true", help="only regenerate docs/benchmarks.md")
    parser.add_argument("--only", nargs="+", choices=[s[0] for s in STEPS], help="run only these steps")
    parser.add_argument(
        "--skip", nargs="+", choices=[s[0] for s in STEPS], default=[], help="leave out steps"
    )
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file for the answer and eval steps")
    parser.add_argument("--eval-step", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.eval_step:
        return eval_step(args.limit, args.model, shared_data() / "sec10q")
    if not args.report_only:
        if not (shared_data() / "sec10q" / "qna_data.csv").is_file():
            print(f"no shared data at {shared_data()}: set CITEWISE_SHARED_DATA", file=sys.stderr)
            return 2
        record_run(args, "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv))
    from bench.report import write_report

    print(f"[bench] report: {write_report()}")
    return 0


def record_run(args: argparse.Namespace, command: str) -> list[dict[str, Any]]:
    """Run the selected steps and write ``bench/results/run.json`` (steps not run this time are kept)."""
    mode = "full" if args.full else "quick"
    chosen = [s for s in STEPS if (not args.only or s[0] in args.only) and s[0] not in args.skip]
    previous = RESULTS / "run.json"
    steps = {s["step"]: s for s in json.loads(previous.read_text())["steps"]} if previous.exists() else {}
    t0 = time.perf_counter()
    for name, module, quick, full in chosen:
        argv = step_command(module, full if args.full else quick, args.model)
        steps[name] = {**run_step(name, argv, LOGS), "mode": mode}
    ordered = [steps[s[0]] for s in STEPS if s[0] in steps]
    payload = {"mode": mode, "total_seconds": round(time.perf_counter() - t0, 1), "steps": ordered}
    write_result("run", payload, command)
    return ordered


if __name__ == "__main__":
    raise SystemExit(main())
