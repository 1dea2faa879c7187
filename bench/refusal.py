"""Refusal benchmark: false refusals on answerable questions beside correct refusals on unanswerable ones.

    python -m bench.refusal --fbdev-index IDX --sec10q-index IDX            # every question
    python -m bench.refusal --fbdev-index IDX --sec10q-index IDX --half tune
    python -m bench.refusal ... --gates default                              # the default gate only

Every figure comes from ``citewise eval DATASET.jsonl --index IDX --no-llm --json`` run as a
subprocess, once per question set and gate configuration, over indexes built beforehand with the
default settings (``ingest --index IDX FOLDER``):

- FinanceBench-dev: its 41 answerable questions and :data:`bench.datasets.FINANCEBENCH_UNANSWERABLE`;
- sec10q: its 195 answerable questions and :data:`bench.datasets.SEC10Q_UNANSWERABLE`.

The refusal gate runs before any model, so extractive mode (``--no-llm``) shows exactly the
decisions the gate takes in ``llm`` mode too; what it cannot show is a model declining on its own
after the gate let a question through. Gate configurations, all in the same run:

- ``default``: the shipped settings (relevance, uncovered periods, names no evidence carries);
- ``relevance``: ``refuse_uncovered`` off: the relevance threshold alone;
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

GATES: dict[str, dict[str, str]] = {
    "default": {},
    "relevance": {"CITEWISE_RETRIEVAL__REFUSE_UNCOVERED": "false"},
    "literal": {
        "CITEWISE_RETRIEVAL__REFUSE_UNCOVERED": "false",
        "CITEWISE_RETRIEVAL__REFUSE_UNKNOWN_TERMS": "true",
    },
}
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


def run_eval(dataset: Path, index: Path, env_overrides: dict[str, str]) -> dict[str, Any]:
    """``citewise eval DATASET --index INDEX --no-llm --json`` in a fresh process; its JSON payload."""
    run_cli = "from app.cli import cli; cli(prog_name='citewise')"
    argv = [sys.executable, "-c", run_cli, "eval", str(dataset), "--index", str(index), "--no-llm", "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env_overrides}
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


def measure(sets: dict[str, tuple[str, list[EvalItem]]], indexes: dict[str, Path], gates: list[str]) -> dict[str, Any]:
    """Run every set under every gate; per set and gate the refusal rate, reasons and refused ids."""
    from bench.datasets import write_jsonl

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (key, items) in sets.items():
            dataset = write_jsonl(items, Path(tmp) / f"{name.replace(' ', '-')}.jsonl")
            for gate in gates:
                t0 = time.perf_counter()
                payload = run_eval(dataset, indexes[key], GATES[gate])
                results = payload["results"]
                refused = [r for r in results if r["refused"]]
                answerable = bool(results) and results[0]["answerable"]
                rows.append(
                    {
                        "set": name,
                        "gate": gate,
                        "answerable": answerable,
                        "questions": len(items),
                        "scored": len(results),
                        "refused": len(refused),
                        "rate": len(refused) / len(results) if results else None,
                        "reasons": dict(Counter(_reason(r.get("notes", [])) for r in refused)),
                        "refused_ids": [r["id"] for r in refused],
                        "notes": {r["id"]: r.get("notes", []) for r in refused},
                        "page_hit": payload["summary"].get("page_hit"),
                        "latency_p50_s": payload["summary"].get("latency_p50_s"),
                        "seconds": round(time.perf_counter() - t0, 1),
                    }
                )
                print(f"[refusal] {name} / {gate}: {len(refused)}/{len(results)} refused", flush=True)
    return {"rows": rows}


def gate_inputs(items: list[EvalItem], index: Path) -> list[dict[str, Any]]:
    """Per question: its best dense similarity and the gate's verdict with the relevance check off."""
    from app.service import Citewise

    service = Citewise.open(index, read_only=True, llm={"answer_mode": "extractive"})
    try:
        gate = service.chain.gate
        threshold, gate.min_relevance = gate.min_relevance, float("-inf")
        rows = []
        for item in items:
            result = service.search(item.question)
            reason = gate.reason(item.question, result)
            rows.append(
                {"id": item.id, "answerable": item.answerable, "best": result.best_relevance, "other": reason}
            )
        gate.min_relevance = threshold
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
        return sum(1 for r in group if r["best"] < t or r["other"]) / len(group) if group else 0.0

    table = [{"min_relevance": t, "false": rate(answerable, t), "correct": rate(unanswerable, t)} for t in candidates]
    floor = rate(answerable, float("-inf"))
    chosen = max((row["min_relevance"] for row in table if row["false"] <= floor), default=candidates[0])
    return {"table": table, "chosen": chosen, "answerable": len(answerable), "unanswerable": len(unanswerable)}


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


def markdown(r: dict[str, Any]) -> str:
    """Refusal rates per set (rows) and gate (columns), with the targets."""
    if "calibration" in r:
        return markdown_calibration(r)
    gates = list(dict.fromkeys(row["gate"] for row in r["rows"]))
    sets = list(dict.fromkeys(row["set"] for row in r["rows"]))
    by = {(row["set"], row["gate"]): row for row in r["rows"]}
    head = "| set | questions | measure | target | " + " | ".join(f"{g} gate" for g in gates) + " |"
    lines = [
        f"Half: **{r.get('half', 'all')}**; mode: `{r.get('mode', 'extractive (--no-llm)')}`.",
        "",
        head,
        "|" + "---|" * (4 + len(gates)),
    ]
    for name in sets:
        first = by[(name, gates[0])]
        answerable = first["answerable"]
        measure_name = "false refusals" if answerable else "correct refusals"
        target = f"<= {TARGET_FALSE}" if answerable else f">= {TARGET_CORRECT}"
        cells = []
        for g in gates:
            row = by.get((name, g))
            cells.append("-" if row is None else f"{row['rate']:.3f} ({row['refused']}/{row['scored']})")
        lines.append(f"| {name} | {first['questions']} | {measure_name} | {target} | " + " | ".join(cells) + " |")
    lines += ["", "Why the default gate refused (count per set):", ""]
    for name in sets:
        row = by.get((name, "default"))
        if row is not None and row["reasons"]:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(row["reasons"].items()))
            lines.append(f"- {name}: {reasons}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fbdev-index", type=Path, required=True, help="index of the 26 FinanceBench-dev PDFs")
    parser.add_argument("--sec10q-index", type=Path, required=True, help="index of the 20 sec10q PDFs")
    parser.add_argument("--half", choices=["tune", "confirm", "all"], default="all")
    parser.add_argument("--gates", nargs="+", choices=list(GATES), default=list(GATES))
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
            print(f"no index at {path} ({key}): build it with `ingest --index {path} FOLDER`", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    if args.calibrate:
        rows = [row for key, items in sets.values() for row in gate_inputs(items, indexes[key])]
        payload = {"calibration": calibrate(rows), "questions": rows, "half": args.half}
        write_result(args.out, payload, "python -m bench.refusal " + " ".join(argv or sys.argv[1:]))
        print(json.dumps(payload["calibration"], indent=1))
        return 0
    payload = measure(sets, indexes, args.gates)
    payload.update(
        half=args.half,
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
