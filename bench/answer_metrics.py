"""Answer-quality metrics for the benchmarks.

Token F1, numeric match and the mean come from :mod:`app.evaluation` (the installed package, which
``citewise eval`` uses too), so the benchmark and the command score answers the same way; this
module adds what only the sec10q benchmark needs: gold-document globs and citation precision.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

from app.evaluation import figures, mean, normalize_tokens, numeric_match, token_f1

__all__ = [
    "citation_precision",
    "extract_numbers",
    "gold_patterns",
    "mean",
    "normalize_tokens",
    "numeric_match",
    "token_f1",
]


def extract_numbers(text: str) -> list[float]:
    """Figures in ``text``, ignoring bare years (1900-2100) and citation markers like ``[2]``.

    ``$13,507`` gives 13507.0, ``6.8 billion`` gives 6.8e9 and also 6.8 (reports mix scales).
    """
    return [value for figure in figures(text) for value in figure]


def gold_patterns(source_docs: str) -> list[str]:
    """The globs of a ``Source Docs`` cell (``*AAPL*``, ``2023 Q1 MSFT.pdf``...), one per line or comma."""
    parts = re.split(r"[\n,;]+", source_docs)
    return [p.strip() for p in parts if p.strip()]


def citation_precision(cited_files: Iterable[str], patterns: Sequence[str]) -> float | None:
    """Share of cited files that match a gold pattern (None when nothing is cited or no gold)."""
    files = list(cited_files)
    if not files or not patterns:
        return None
    good = sum(1 for f in files if any(fnmatch.fnmatch(f, p) for p in patterns))
    return good / len(files)
