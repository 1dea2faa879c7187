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


def prompt_sizes(
    index: Path, dataset: str, limit: int | None, timed: int, speed: float | None
) -> dict[str, Any]:
    """Answer-prompt tokens under both packings for the same retrieved hits, and cold TTFT on ``timed``.

    Token counts are exact and independent of machine load; TTFT is timed for the first ``timed``
    questions, evidence and window prompts alternately, each evaluated cold (``llm.reset()``) and
    cut after one generated token, so it measures prompt processing alone.
    """
    import statistics
    import time

    from app.service import Citewise
    from bench.datasets import load_dataset

    items = [i for i in subset(load_dataset(dataset, unanswerable=True), limit) if i.answerable]
    llm_opts: dict[str, Any] = {"answer_mode": "llm"} | ({"prompt_tokens_per_s": speed} if speed else {})
    service = Citewise.open(index, read_only=True, llm=llm_opts)
    chain, llm = service.chain, service.llm
    sizes: dict[str, list[int]] = {"evidence": [], "window": []}
    ttft: dict[str, list[float]] = {"evidence": [], "window": []}
    try:
        for n, item in enumerate(items):
            hits = service.retriever.retrieve(item.question).hits
            for packing in ("evidence", "window"):
                chain.packing = packing
                prompt = llm.format_chat(chain.prompt_for(item.question, hits).messages).prompt
                sizes[packing].append(llm.count_tokens(prompt))
                if n < timed:
                    getattr(llm, "reset", lambda: None)()  # cold: no prefix reused from the last prompt
                    start = time.perf_counter()
                    pieces = llm.stream(prompt, max_tokens=1)
                    next(pieces, None)
                    ttft[packing].append(time.perf_counter() - start)
                    getattr(pieces, "close", lambda: None)()
            print(f"[answer_eval] prompt sizes {n + 1}/{len(items)}", file=sys.stderr, flush=True)
    finally:
        service.close()
    return {
        "questions": len(items),
        "timed": min(timed, len(items)),
        "prompt_budget": chain.prompt_budget() if chain.packing == "evidence" else None,
        "measured_prompt_tokens_per_s": llm.prompt_tokens_per_second(),
        "packings": {
            p: {
                "prompt_tokens_p50": statistics.median(sizes[p]) if sizes[p] else None,
                "prompt_tokens_max": max(sizes[p], default=None),
                "cold_ttft_p50_s": statistics.median(ttft[p]) if ttft[p] else None,
            }
            for p in sizes
        },
    }


def markdown(r: dict[str, Any]) -> str:
    names = list(r["configs"])
    lines = [f"Dataset: {r['dataset']}, {r['questions']} questions; model: {r['model']}."]
    if names:
        lines += ["", "| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key in ROWS if names else ():
        cells = []
        for name in names:
            value = r["configs"][name]["summary"].get(key)
            cells.append("-" if value is None else f"{value:.3f}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    sizes = r.get("prompt_sizes")
    if sizes:
        lines += [
            "",
            f"Answer prompt size for the same hits ({sizes['questions']} answerable questions; cold "
            f"time to first token on the first {sizes['timed']}, evidence and window alternately; "
            f"measured prompt speed {sizes['measured_prompt_tokens_per_s']:.0f} tokens/s):",
            "",
            "| packing | prompt tokens p50 | prompt tokens max | cold TTFT p50 s |",
            "|---|---:|---:|---:|",
        ]
        for name, v in sizes["packings"].items():
            ttft = "-" if v["cold_ttft_p50_s"] is None else f"{v['cold_ttft_p50_s']:.2f}"
            lines.append(f"| {name} | {v['prompt_tokens_p50']} | {v['prompt_tokens_max']} | {ttft} |")
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
    parser.add_argument(
        "--prompt-sizes", type=int, metavar="TIMED", default=None,
        help="instead of answering: prompt tokens under both packings, cold TTFT on the first TIMED",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.prompt_sizes is not None:
        sizes = prompt_sizes(
            args.index, args.dataset, args.limit, args.prompt_sizes, args.prompt_tokens_per_s
        )
        result: dict[str, Any] = {
            "dataset": args.dataset, "questions": sizes["questions"], "model": "bundled", "configs": {},
            "prompt_sizes": sizes,
        }  # fmt: skip
    else:
        result = run(args.index, args.dataset, args.limit, args.model, args.configs, args.prompt_tokens_per_s)
    path = write_result(args.name, result, "python -m bench.answer_eval " + " ".join(argv or sys.argv[1:]))
    print(markdown(result))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
