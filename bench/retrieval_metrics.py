"""Document-level retrieval metrics: hit@k and reciprocal rank against gold file globs."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence


def parse_globs(source_docs: str) -> list[str]:
    """``"*2023 Q3 NVDA*, *AAPL*"`` -> ``["*2023 Q3 NVDA*", "*AAPL*"]`` (comma or newline separated)."""
    parts = [p.strip() for chunk in source_docs.splitlines() for p in chunk.split(",")]
    return [p for p in parts if p]


def is_gold(file_name: str, globs: Sequence[str]) -> bool:
    """Whether ``file_name`` matches any gold glob (case-sensitive, like the dataset's names)."""
    return any(fnmatch.fnmatchcase(file_name, g) for g in globs)


def unique_in_order(items: Iterable[str]) -> list[str]:
    """Items with later repeats removed: chunk hits -> ranked documents."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def hit_at_k(ranked_docs: Sequence[str], globs: Sequence[str], k: int) -> float:
    """1.0 when a gold document is among the first ``k`` ranked documents, else 0.0."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    return 1.0 if any(is_gold(d, globs) for d in ranked_docs[:k]) else 0.0


def reciprocal_rank(ranked_docs: Sequence[str], globs: Sequence[str]) -> float:
    """1 / rank of the first gold document (1-based), 0.0 when none is retrieved."""
    for rank, doc in enumerate(ranked_docs, start=1):
        if is_gold(doc, globs):
            return 1.0 / rank
    return 0.0


def summarize(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of every metric over per-question rows (``{}`` for no rows)."""
    if not rows:
        return {}
    return {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}


def score_question(
    ranked_docs: Sequence[str], globs: Sequence[str], ks: Sequence[int] = (1, 5, 10)
) -> dict[str, float]:
    """hit@k for each k and the reciprocal rank of one question."""
    row = {f"hit@{k}": hit_at_k(ranked_docs, globs, k) for k in ks}
    row["mrr"] = reciprocal_rank(ranked_docs, globs)
    return row


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)
