"""Answer-quality metrics: token F1, numeric match, citation precision against gold documents.

Plain functions over strings, importable by any benchmark and unit-tested on their own.
"""

from __future__ import annotations

import fnmatch
import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = {"a", "an", "the"}
_NUMBER = re.compile(r"(?<![\w.])\(?-?\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\)?\s*(%|percent|million|billion|thousand)?",
                     re.IGNORECASE)  # fmt: skip
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_SOURCE_LINES = re.compile(r"SOURCE\(S\):.*", re.IGNORECASE)


def normalize_tokens(text: str) -> list[str]:
    """Lower-cased words without punctuation or articles (the SQuAD normalization)."""
    text = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", " ", _SOURCE_LINES.sub(" ", text)).lower()
    text = text.translate(str.maketrans({c: " " for c in string.punctuation if c not in ".,%$"}))
    words = [w.strip(".,") for w in text.split()]
    return [w for w in words if w and w not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall between ``prediction`` and ``reference``."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _figures(text: str) -> list[tuple[float, ...]]:
    """Each figure of ``text`` with its acceptable readings (``6.8 billion``: 6.8 and 6.8e9)."""
    text = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", " ", _SOURCE_LINES.sub(" ", text))
    figures: list[tuple[float, ...]] = []
    for match in _NUMBER.finditer(text):
        whole, frac, unit = match.group(1), match.group(2) or "", (match.group(3) or "").lower()
        if not frac and "," not in whole and not unit and 1900 <= int(whole) <= 2100:
            continue
        value = float(whole.replace(",", "") + frac)
        figures.append((value, value * _SCALES[unit]) if unit in _SCALES else (value,))
    return figures


def extract_numbers(text: str) -> list[float]:
    """Figures in ``text``, ignoring bare years (1900-2100) and citation markers like ``[2]``.

    ``$13,507`` gives 13507.0, ``6.8 billion`` gives 6.8e9 and also 6.8 (reports mix scales).
    """
    return [value for figure in _figures(text) for value in figure]


def numeric_match(prediction: str, reference: str, *, rel_tol: float = 0.005) -> float | None:
    """Share of the reference's figures that appear in the prediction (None when it has none)."""
    wanted = set(_figures(reference))
    if not wanted:
        return None
    found = extract_numbers(prediction)
    hits = sum(1 for fig in wanted if any(math.isclose(w, f, rel_tol=rel_tol) for w in fig for f in found))
    return hits / len(wanted)


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


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when all are)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
