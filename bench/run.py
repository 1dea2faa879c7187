"""The benchmark harness: every benchmark in one run, then ``docs/benchmarks.md``.

    python -m bench.run --quick          # make bench: small limits, under 15 minutes on 2 cores
    python -m bench.run --full           # make bench-full: everything at full size
    python -m bench.run --quick --only eval scale
    python -m bench.run --report-only    # regenerate docs/benchmarks.md from bench/results/*.json

Each step runs as its own ``python -m bench.<name> ...`` process (so one failing benchmark does not
stop the others and memory figures do not mix) and writes ``bench/results/<name>.json`` with the
machine, versions, command and timestamp; the quick set's results are moved to
``bench/results/quick/`` so they never replace the full set's. ``run.json`` (in either place)
records which steps ran, with which command, how long they took and whether they failed; the
report shows all of it. Step output goes to ``bench/results/cache/logs/<step>.log``. The exit
status is 1 when a step failed (the report is written all the same).

Steps, in order (retrieval builds the cached sec10q index that scale, answer and eval reuse):
ingest, graph, retrieval, pages, scale, answer, eval, api. ``pages`` is the evidence-page benchmark
on FinanceBench-dev and the stage ablation on every set (the quick set: the sample corpus only). The
``eval`` step is ``citewise eval`` on sec10q:
the scored sec10q questions plus questions the filings cannot answer, through the full service
with the chosen GGUF model (citation validity, refusals, token F1, numeric match, TTFT).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, shared_data, write_result

CACHE = RESULTS / "cache"  # git-ignored: built indexes and logs
INDEX = CACHE / "sec10q-index"
LOGS = CACHE / "logs"
QUICK_FILES = "2023 Q3 *.pdf"  # the quick set's sec10q subset: the five latest filings

# (step, module, quick args, full args). Placeholders: {data} the sec10q folder, {cache} where
# indexes are cached, {index} the ingested sec10q index (the retrieval step builds it first).
STEPS: list[tuple[str, str, list[str], list[str]]] = [
    ("ingest", "bench.ingest", ["--limit", "2"], []),
    ("graph", "bench.graph_eval", ["--limit", "60"], ["--llm-docs", "5"]),
    (
        "retrieval",
        "bench.retrieval",
        [
            "--data",
            "{data}",
            "--cache",
            "{cache}",
            "--limit",
            "40",
            "--sizes",
            "10000",
            "--latency-queries",
            "30",
        ],
        ["--data", "{data}", "--cache", "{cache}", "--sizes", "10000", "100000"],
    ),
    (
        "pages",
        "bench.pages",
        ["--indexes", "{cache}", "--sets", "sample", "--variants", "plain", "--skip-langchain"],
        ["--indexes", "{cache}"],
    ),
    (
        "scale",
        "bench.scale",
        ["--data", "{data}", "--cache", "{cache}", "--sizes", "10000", "--queries", "30"],
        [
            "--data",
            "{data}",
            "--cache",
            "{cache}",
            "--sizes",
            "10000",
            "100000",
            "1000000",
            "--systems-at",
            "1000000",
        ],
    ),
    (
        "answer",
        "bench.answer",
        ["--runs", "1", "--max-tokens", "32"],
        ["--runs", "3", "--index", "{index}", "--limit", "60"],
    ),
    (
        "eval",
        "bench.run",
        ["--eval-step", "--data", "{data}", "--index", "{index}", "--limit", "4"],
        ["--eval-step", "--data", "{data}", "--index", "{index}"],
    ),
    ("api", "bench.api", ["--rounds", "3", "--per-client", "5", "--watch-trials", "3"], []),
]


def quick_data(shared: Path, root: Path) -> Path:
    """A sec10q folder of the :data:`QUICK_FILES` filings (copies) and the questions about them only.

    A question is kept when its ``Source Docs`` globs match at least one of these filings and no
    other, so hit@k stays meaningful on the subset.
    """
    import csv
    import fnmatch
    import shutil

    source = shared / "sec10q"
    every = sorted(p.name for p in (source / "docs").glob("*.pdf"))
    kept = [n for n in every if fnmatch.fnmatchcase(n, QUICK_FILES)]
    docs = root / "sec10q" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name in kept:
        if not (docs / name).exists():  # copies, not links: nothing may ever write to the shared data
            shutil.copy2(source / "docs" / name, docs / name)
    with (source / "qna_data.csv").open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], list(reader)

    def about_subset(row: dict[str, str]) -> bool:
        globs = [g.strip() for g in row.get("Source Docs", "").replace("\n", ",").split(",") if g.strip()]
        hits = {n for n in every for g in globs if fnmatch.fnmatchcase(n, g)}
        return bool(hits) and hits <= set(kept)

    with (root / "sec10q" / "qna_data.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(r for r in rows if about_subset(r))
    return root / "sec10q"


def placeholders(full: bool) -> dict[str, Path]:
    """``{data}``, ``{cache}`` and ``{index}`` for the full or the quick set."""
    if full:
        return {"data": shared_data() / "sec10q", "cache": CACHE, "index": INDEX}
    return {
        "data": quick_data(shared_data(), Path(tempfile.gettempdir()) / "citewise-bench-quick"),
        "cache": CACHE / "quick",
        "index": CACHE / "quick" / "sec10q-index",
    }


def step_command(module: str, args: list[str], model: Path | None, paths: dict[str, Path]) -> list[str]:
    """The argv of one step (placeholders filled in, ``--model`` passed to the answer steps)."""
    argv = list(args)
    for key, value in paths.items():  # steps run in the repository: shorter, portable commands
        shown = value.relative_to(REPO) if value.is_relative_to(REPO) else value
        argv = [a.replace("{" + key + "}", str(shown)) for a in argv]
    if model is not None and (module == "bench.answer" or "--eval-step" in argv):
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
    load_before = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    with (log_dir / f"{name}.log").open("w") as log:
        code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    seconds = round(time.perf_counter() - t0, 1)
    print(f"[bench] {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds}s", flush=True)
    return {
        "step": name,
        "command": command,
        "exit_code": code,
        "seconds": seconds,
        "load_before": load_before,  # other work on the machine makes the step's timings pessimistic
        "load_after": round(os.getloadavg()[0], 2),
    }


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " \"'") else arg


# ------------------------------------------------------------------------------------ eval step
def eval_step(limit: int | None, model: Path | None, data: Path | None = None, index: Path = INDEX) -> int:
    """``citewise eval`` over sec10q (+ unanswerable questions) on the cached index; writes eval.json."""
    from app.evaluation import evaluate, summarize
    from app.service import Citewise
    from bench.datasets import SEC10Q_UNANSWERABLE, load_sec10q

    items = load_sec10q((data or shared_data() / "sec10q") / "qna_data.csv", unanswerable=True)
    answerable, unanswerable = items[: -len(SEC10Q_UNANSWERABLE)], items[-len(SEC10Q_UNANSWERABLE) :]
    if limit:  # an even spread over the file, so every question type is represented
        answerable = answerable[:: max(1, len(answerable) // limit)][:limit]
        unanswerable = unanswerable[: max(2, limit // 3)]
    items = answerable + unanswerable
    overrides: dict[str, Any] = {"answer_mode": "llm"}
    if model is not None:
        overrides["model_path"] = model
    service = Citewise.open(index, read_only=True, llm=overrides)
    results = list(evaluate(service, items))
    by_type: dict[str, Any] = {}
    for kind in sorted({r.type for r in results}):
        by_type[kind] = summarize([r for r in results if r.type == kind])
    payload = {
        "dataset": f"{(data or shared_data() / 'sec10q') / 'qna_data.csv'} + bench.datasets.SEC10Q_UNANSWERABLE",
        "model": str(model) if model else "bundled Gemma 3 270M (Q4_K_M)",
        "index": str(index.relative_to(REPO)) if index.is_relative_to(REPO) else str(index),
        "summary": summarize(results, total=len(items)),
        "by_type": by_type,
        "results": [r.model_dump() for r in results],
    }
    argv = [
        "--eval-step",
        *(["--limit", str(limit)] if limit else []),
        *(["--model", str(model)] if model else []),
        *(["--index", str(index)] if index != INDEX else []),
        *(["--data", str(data)] if data else []),
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
    parser.add_argument("--index", type=Path, default=INDEX, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.eval_step:
        return eval_step(args.limit, args.model, args.data, args.index)
    failed: list[str] = []
    if not args.report_only:
        if not (shared_data() / "sec10q" / "qna_data.csv").is_file():
            print(f"no shared data at {shared_data()}: set CITEWISE_SHARED_DATA", file=sys.stderr)
            return 2
        steps = record_run(args, "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv))
        failed = [s["step"] for s in steps if s["exit_code"] != 0]
    from bench.report import write_report

    print(f"[bench] report: {write_report(prefer='full' if args.full or args.report_only else 'quick')}")
    if failed:
        print(f"[bench] failed steps: {', '.join(failed)} (logs in {LOGS})", file=sys.stderr)
    return 1 if failed else 0


RESULT_NAMES = {"graph": "graph_eval"}  # a step's results file, when not named after the step
QUICK = RESULTS / "quick"  # the quick set's results: never overwrite the full set's


def run_quick_step(name: str, argv: list[str]) -> dict[str, Any]:
    """Run a step of the quick set; its results file goes to ``bench/results/quick/``.

    The benchmarks write ``bench/results/<name>.json``; a full result already there is set aside
    for the step and put back afterwards, so ``make bench`` never replaces committed full results.
    """
    result = RESULTS / f"{RESULT_NAMES.get(name, name)}.json"
    aside = CACHE / f"full-{result.name}"
    CACHE.mkdir(parents=True, exist_ok=True)
    QUICK.mkdir(parents=True, exist_ok=True)
    if result.exists():
        os.replace(result, aside)
    try:
        record = run_step(name, argv, LOGS)
        if result.exists():
            os.replace(result, QUICK / result.name)
    finally:
        if aside.exists():
            os.replace(aside, result)
    return record


def record_run(args: argparse.Namespace, command: str) -> list[dict[str, Any]]:
    """Run the selected steps; write ``run.json`` (in ``quick/`` for the quick set), keeping steps not run.

    Returns:
        The records of the steps run this time.
    """
    mode = "full" if args.full else "quick"
    chosen = [s for s in STEPS if (not args.only or s[0] in args.only) and s[0] not in args.skip]
    paths = placeholders(args.full)
    previous = (RESULTS if args.full else QUICK) / "run.json"
    steps = {s["step"]: s for s in json.loads(previous.read_text())["steps"]} if previous.exists() else {}
    t0 = time.perf_counter()
    for name, module, quick, full in chosen:
        argv = step_command(module, full if args.full else quick, args.model, paths)
        record = run_step(name, argv, LOGS) if args.full else run_quick_step(name, argv)
        steps[name] = {**record, "mode": mode}
    ordered = [steps[s[0]] for s in STEPS if s[0] in steps]
    payload = {"mode": mode, "total_seconds": round(time.perf_counter() - t0, 1), "steps": ordered}
    path = write_result("run", payload, command)
    if not args.full:
        os.replace(path, QUICK / "run.json")
    return [steps[s[0]] for s in chosen]


if __name__ == "__main__":
    raise SystemExit(main())
