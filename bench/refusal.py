"""Refusal benchmark: false refusals on answerable questions beside correct refusals on unanswerable ones.

    python -m bench.refusal --fbdev-index IDX --sec10q-index IDX            # every question
    python -m bench.refusal --fbdev-index IDX --sec10q-index IDX --half tune
    python -m bench.refusal ... --half tune --calibrate                      # choose min_relevance

The default gate's figures come from ``citewise eval DATASET.jsonl --index IDX --no-llm --json``
run as a subprocess per question set, over indexes built beforehand (``ingest --index IDX FOLDER``):

- FinanceBench-dev: its 41 answerable questions and :data:`bench.datasets.FINANCEBENCH_UNANSWERABLE`;
- sec10q: its 195 answerable questions and :data:`bench.datasets.SEC10Q_UNANSWERABLE`.

The refusal gate runs before any model, so extractive mode (``--no-llm``) shows exactly the
decisions the gate takes in ``llm`` mode too; what it cannot show is a model declining on its own
after the gate let a question through. The comparison gates are measured in the same run on a
gate-only path: every question is retrieved once through the service and each gate judges that
same retrieval result (the default gate too, as a check that this path agrees with ``citewise eval``):

- ``default``: the shipped settings (relevance, uncovered periods, names no evidence carries);
- ``relevance``: the relevance threshold alone (``refuse_uncovered`` off);
- ``literal``: the previous default: relevance plus the literal unknown-terms check.

``--half tune`` / ``confirm`` keep alternate questions of every set (``bench.datasets.split_half``).
``--calibrate`` (with ``--half tune``) chooses ``min_relevance``: it retrieves every tune question
once through the service, records the best dense similarity and what the other checks decide,
and picks the highest threshold that refuses no answerable tune question; the confirmation half
then runs through ``citewise eval`` with that threshold. Results go to
``bench/results/refusal.json`` (or ``--out``); ``python -m bench.report`` renders them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.evaluation import EvalItem
from bench.common import REPO, write_result

GATES = ("default", "relevance", "literal")
TARGET_FALSE, TARGET_CORRECT = 0.03, 0.8


def question_sets(half: str) -> dict[str, tuple[str, list[EvalItem]]]:
    """``{set name: (index key, items)}`` for the four sets, cut to ``half``."""
    from bench.datasets import load_financebench, load_sec10q, split_half

    fb = load_financebench(unanswerable=True)
    sec = load_sec10q(unanswerable=True)
    return {
        "financebench-dev answerable": ("fbdev", split_half([i for i in fb if i.answerable], half)),
        "financebench-dev unanswerable": ("fbdev", split_half([i for i in fb if not i.answerable], half)),
        "sec10q answerable": ("sec10q", split_half([i for i in sec if i.answerable], half)),
        "sec10q unanswerable": ("sec10q", split_half([i for i in sec if not i.answerable], half)),
    }


def run_eval(dataset: Path, index: Path, env_overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """``citewise eval DATASET --index INDEX --no-llm --json`` in a fresh process; its JSON payload."""
    run_cli = "from app.cli import cli; cli(prog_name='citewise')"
    argv = [sys.executable, "-c", run_cli, "eval", str(dataset), "--index", str(index), "--no-llm", "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env_overrides or {})}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"citewise eval {dataset.name} failed:\n{done.stderr[-3000:]}")
    payload: dict[str, Any] = json.loads(done.stdout)
    return payload


def _reason(notes: list[str]) -> str:
    """The kind of refusal a question's notes record (first matching gate note)."""
    for note in notes:
        for key, kind in (
            ("below min_relevance", "relevance"),
            ("nothing was retrieved", "nothing retrieved"),
            ("names", "name"),
            ("report on periods", "period after coverage"),
            ("never mention", "period or term never mentioned"),
        ):
            if key in note:
                return kind
    return "model or extractive"


def _row(
    name: str, gate: str, items: list[EvalItem], refused: dict[str, list[str]], scored: int
) -> dict[str, Any]:
    return {
        "set": name,
        "gate": gate,
        "answerable": bool(items) and items[0].answerable,
        "questions": len(items),
        "scored": scored,
        "refused": len(refused),
        "rate": len(refused) / scored if scored else None,
        "reasons": dict(Counter(_reason(notes) for notes in refused.values())),
        "notes": refused,
    }


def measure(
    sets: dict[str, tuple[str, list[EvalItem]]], indexes: dict[str, Path], min_relevance: float
) -> dict[str, Any]:
    """Per set: the default gate through ``citewise eval``, every gate on the gate-only path."""
    from bench.datasets import write_jsonl

    rows: list[dict[str, Any]] = []
    env = {"CITEWISE_RETRIEVAL__MIN_RELEVANCE": str(min_relevance)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (key, items) in sets.items():
            dataset = write_jsonl(items, Path(tmp) / f"{name.replace(' ', '-')}.jsonl")
            t0 = time.perf_counter()
            payload = run_eval(dataset, indexes[key], env)
            results = payload["results"]
            refused = {r["id"]: r.get("notes", []) for r in results if r["refused"]}
            evaluated = _row(name, "eval", items, refused, len(results))
            evaluated.update(
                page_hit=payload["summary"].get("page_hit"),
                latency_p50_s=payload["summary"].get("latency_p50_s"),
                seconds=round(time.perf_counter() - t0, 1),
            )
            print(f"[refusal] {name}: citewise eval refused {len(refused)}/{len(results)}", flush=True)
            judged = gate_inputs(items, indexes[key], min_relevance)
            agree = sum((q["reasons"]["default"] is not None) == (q["id"] in refused) for q in judged)
            evaluated["gate_only_agrees"] = f"{agree}/{len(judged)}"
            rows.append(evaluated)
            for gate in GATES:
                by_gate = {q["id"]: [q["reasons"][gate]] for q in judged if q["reasons"][gate] is not None}
                rows.append(_row(name, gate, items, by_gate, len(judged)))
    return {"rows": rows}


def gate_inputs(items: list[EvalItem], index: Path, min_relevance: float) -> list[dict[str, Any]]:
    """Per question: its best dense similarity and each gate's reason on one retrieval result.

    Calibration passes ``min_relevance=float("-inf")`` to judge without the relevance check.
    """
    from app.service import Citewise
    from retrieval.refusal import RefusalGate

    service = Citewise.open(index, read_only=True, llm={"answer_mode": "extractive"})
    try:
        default = service.chain.gate
        default.min_relevance = min_relevance
        gates = {
            "default": default,
            "relevance": RefusalGate(min_relevance=min_relevance),
            "literal": RefusalGate(min_relevance=min_relevance, knows=service.bm25.knows),
        }
        rows = []
        for item in items:
            result = service.search(item.question)
            reasons = {name: gate.reason(item.question, result) for name, gate in gates.items()}
            rows.append(
                {
                    "id": item.id,
                    "answerable": item.answerable,
                    "best": result.best_relevance,
                    "reasons": reasons,
                }
            )
        return rows
    finally:
        service.close()


CANDIDATES = [round(0.10 + 0.025 * i, 3) for i in range(15)]  # 0.10 ... 0.45


def calibrate(rows: list[dict[str, Any]], candidates: list[float] = CANDIDATES) -> dict[str, Any]:
    """Refusal rates per candidate ``min_relevance``; the chosen one refuses no answerable question.

    A question is refused at threshold ``t`` when its best similarity is below ``t`` or another
    check refuses it. The choice is the highest ``t`` whose false refusals on the answerable
    questions do not exceed those of the other checks alone.
    """
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def rate(group: list[dict[str, Any]], t: float) -> float:
        return (
            sum(1 for r in group if r["best"] < t or r["reasons"]["default"]) / len(group) if group else 0.0
        )

    table = [
        {"min_relevance": t, "false": rate(answerable, t), "correct": rate(unanswerable, t)}
        for t in candidates
    ]
    floor = rate(answerable, float("-inf"))
    chosen = max((row["min_relevance"] for row in table if row["false"] <= floor), default=candidates[0])
    return {
        "table": table,
        "chosen": chosen,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }


def markdown_calibration(r: dict[str, Any]) -> str:
    """The calibration table: refusal rates per candidate ``min_relevance`` on the tune half."""
    cal = r["calibration"]
    lines = [
        f"Tune half: {cal['answerable']} answerable and {cal['unanswerable']} unanswerable questions "
        f"(FinanceBench-dev and sec10q together). Chosen `min_relevance`: **{cal['chosen']}** (the "
        "highest threshold that adds no false refusal to the other checks').",
        "",
        "| min_relevance | false refusals (answerable) | correct refusals (unanswerable) |",
        "|---|---|---|",
    ]
    for row in cal["table"]:
        mark = " (chosen)" if row["min_relevance"] == cal["chosen"] else ""
        lines.append(f"| {row['min_relevance']}{mark} | {row['false']:.3f} | {row['correct']:.3f} |")
    return "\n".join(lines)


COLUMNS = (
    ("eval", "default gate (`citewise eval --no-llm`)"),
    ("relevance", "relevance only (gate-only path)"),
    ("literal", "previous default: literal terms (gate-only path)"),
)


def markdown(r: dict[str, Any]) -> str:
    """Refusal rates per set (rows) and gate (columns), with the targets."""
    if "calibration" in r:
        return markdown_calibration(r)
    sets = list(dict.fromkeys(row["set"] for row in r["rows"]))
    by = {(row["set"], row["gate"]): row for row in r["rows"]}
    lines = [
        f"Half: **{r.get('half', 'all')}**; mode: {r.get('mode', 'extractive')}; "
        f"min_relevance: {r.get('min_relevance', 'settings default')}.",
        "",
        "| set | questions | measure | target | " + " | ".join(label for _, label in COLUMNS)
        + " | gate-only default agrees with eval |",
        "|" + "---|" * (5 + len(COLUMNS)),
    ]  # fmt: skip
    for name in sets:
        first = by[(name, "eval")]
        answerable = first["answerable"]
        measure_name = "false refusals" if answerable else "correct refusals"
        target = f"<= {TARGET_FALSE}" if answerable else f">= {TARGET_CORRECT}"
        cells = []
        for gate, _ in COLUMNS:
            row = by.get((name, gate))
            cells.append("-" if row is None else f"{row['rate']:.3f} ({row['refused']}/{row['scored']})")
        agree = first.get("gate_only_agrees", "-")
        lines.append(
            f"| {name} | {first['questions']} | {measure_name} | {target} | "
            + " | ".join(cells)
            + f" | {agree} |"
        )
    lines += ["", "Why the default gate (`citewise eval`) refused:", ""]
    for name in sets:
        row = by[(name, "eval")]
        if row["reasons"]:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(row["reasons"].items()))
            lines.append(f"- {name}: {reasons}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--fbdev-index", type=Path, required=True, help="index of the 26 FinanceBench-dev PDFs"
    )
    parser.add_argument("--sec10q-index", type=Path, required=True, help="index of the 20 sec10q PDFs")
    parser.add_argument("--half", choices=["tune", "confirm", "all"], default="all")
    parser.add_argument(
        "--min-relevance",
        type=float,
        default=None,
        help="override retrieval.min_relevance (default: settings)",
    )
    parser.add_argument("--only", nargs="+", default=None, help="set names to run (default: all four)")
    parser.add_argument("--out", default="refusal", help="results name: bench/results/<out>.json")
    parser.add_argument("--calibrate", action="store_true", help="choose min_relevance on these questions")
    args = parser.parse_args(argv)
    sets = question_sets(args.half)
    if args.only:
        sets = {k: v for k, v in sets.items() if any(o in k for o in args.only)}
    indexes = {"fbdev": args.fbdev_index, "sec10q": args.sec10q_index}
    for key, path in indexes.items():
        if not path.is_dir():
            print(
                f"no index at {path} ({key}): build it with `ingest --index {path} FOLDER`", file=sys.stderr
            )
            return 2
    t0 = time.perf_counter()
    if args.calibrate:
        rows = [
            row for key, items in sets.values() for row in gate_inputs(items, indexes[key], float("-inf"))
        ]
        payload = {"calibration": calibrate(rows), "questions": rows, "half": args.half}
        write_result(args.out, payload, "python -m bench.refusal " + " ".join(argv or sys.argv[1:]))
        print(json.dumps(payload["calibration"], indent=1))
        return 0
    from app.settings import Settings

    threshold = args.min_relevance if args.min_relevance is not None else Settings().retrieval.min_relevance
    payload = measure(sets, indexes, threshold)
    payload.update(
        half=args.half,
        min_relevance=threshold,
        mode="extractive (citewise eval --no-llm): the gate's decisions; no model ran",
        indexes={k: str(v) for k, v in indexes.items()},
        total_seconds=round(time.perf_counter() - t0, 1),
    )
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    write_result(args.out, payload, f"python -m bench.refusal {shown}")
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
