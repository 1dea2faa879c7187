"""Answers worth reading: citations, claim checks, numeric match and first-token time, per answer mode.

    python -m bench.answer_eval --index bench/results/cache/sec10q-index --limit 12
    python -m bench.answer_eval --index idx --dataset financebench-dev --model mistral.gguf

Every configuration runs over the same questions on the same index in one process, interleaved
question by question: ``llm`` with evidence packing (the default), ``llm`` with the old window packing (the
baseline), and ``extractive``. ``--limit N`` takes every k-th answerable question (an even spread,
so each question type is represented) plus the first N/3 unanswerable ones. Results go to
``bench/results/answer_eval.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.common import write_result

CONFIGS: dict[str, dict[str, Any]] = {
    "llm, evidence packing": {"answer_mode": "llm", "packing": "evidence"},
    "llm, window packing (before)": {"answer_mode": "llm", "packing": "window"},
    "extractive": {"answer_mode": "extractive"},
}
ROWS = (
    "answered_with_valid_citation",
    "claim_support_rate",
    "unsupported_rate",
    "numeric_match",
    "token_f1",
    "correct_refusal_rate",
    "false_refusal_rate",
    "ttft_p50_s",
    "latency_p50_s",
)


def subset(items: list[Any], limit: int | None) -> list[Any]:
    """Every k-th answerable question (``limit`` of them) plus the first ``limit // 3`` unanswerable."""
    if not limit:
        return items
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    return answerable[:: max(1, len(answerable) // limit)][:limit] + unanswerable[: max(1, limit // 3)]


def run(
    index: Path, dataset: str, limit: int | None, model: Path | None, configs: list[str], speed: float | None
) -> dict[str, Any]:
    """Ask every question under every configuration, interleaved question by question.

    Interleaving keeps a busy machine's load changes from favouring one configuration's timings.
    """
    from app.evaluation import evaluate, summarize
    from app.service import Citewise
    from bench.datasets import load_dataset

    items = subset(load_dataset(dataset, unanswerable=True), limit)
    services = {}
    for name in configs:
        llm: dict[str, Any] = dict(CONFIGS[name])
        if model is not None:
            llm["model_path"] = model
        if speed is not None:
            llm["prompt_tokens_per_s"] = speed
        services[name] = (Citewise.open(index, read_only=True, llm=llm), llm["answer_mode"])
    results: dict[str, list[Any]] = {name: [] for name in configs}
    try:
        for n, item in enumerate(items, 1):
            for name, (service, mode) in services.items():
                results[name] += list(evaluate(service, [item], mode=mode))
            print(f"[answer_eval] {n}/{len(items)} done", file=sys.stderr, flush=True)
    finally:
        for service, _ in services.values():
            service.close()
    out: dict[str, Any] = {
        "dataset": dataset,
        "questions": len(items),
        "model": str(model or "bundled"),
        "configs": {
            name: {"summary": summarize(rows, total=len(items)), "results": [r.model_dump() for r in rows]}
            for name, rows in results.items()
        },
    }
    return out


def markdown(r: dict[str, Any]) -> str:
    names = list(r["configs"])
    lines = [
        f"Dataset: {r['dataset']}, {r['questions']} questions; model: {r['model']}.",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key in ROWS:
        cells = []
        for name in names:
            value = r["configs"][name]["summary"].get(key)
            cells.append("-" if value is None else f"{value:.3f}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index", type=Path, required=True, help="an ingested index of the dataset's documents"
    )
    parser.add_argument("--dataset", default="sec10q", help="sec10q, financebench-dev or a JSONL path")
    parser.add_argument("--limit", type=int, default=None, help="answerable questions (an even spread)")
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file (default: the bundled model)")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument(
        "--prompt-tokens-per-s",
        type=float,
        default=None,
        help="fix the evidence budget's speed instead of measuring",
    )
    parser.add_argument("--name", default="answer_eval", help="results file name under bench/results/")
    args = parser.parse_args(argv)
    result = run(args.index, args.dataset, args.limit, args.model, args.configs, args.prompt_tokens_per_s)
    path = write_result(args.name, result, "python -m bench.answer_eval " + " ".join(argv or sys.argv[1:]))
    print(markdown(result))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
