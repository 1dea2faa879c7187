"""Render ``bench/results/pages_tuning.json`` (``python -m bench.pages --tune VARIANT``) for the report."""

from __future__ import annotations

from typing import Any


def markdown(r: dict[str, Any]) -> str:
    """The weights chosen on the tune halves, and every trial of the coordinate search."""
    chosen = ", ".join(f"`{k}={v}`" for k, v in r["chosen"].items())
    start = ", ".join(f"`{k}={r['start'][k]}`" for k in r["chosen"])
    lines = [
        f"Index variant `{r['variant']}`; objective: page/document hit@5 + MRR summed over the tune halves of "
        f"{', '.join(r.get('sets', ['financebench-dev', 'sec10q']))}. Start: {start}. Chosen: {chosen} "
        f"(objective {r['objective']:.3f}). Weights of stages that are off are not searched.",
        "",
        "| weight | value tried | objective |",
        "|---|---|---|",
    ]
    lines += [f"| {t['weight']} | {t['value']} | {t['objective']:.3f} |" for t in r["trace"]]
    return "\n".join(lines)
