"""Retrieval metrics against hand-computed values."""

from __future__ import annotations

import pytest

from bench.retrieval_metrics import (
    hit_at_k,
    is_gold,
    parse_globs,
    percentile,
    reciprocal_rank,
    score_question,
    summarize,
    unique_in_order,
)

DOCS = ["2023 Q1 AAPL.pdf", "2022 Q3 NVDA.pdf", "2023 Q3 NVDA.pdf", "2023 Q2 INTC.pdf"]


def test_globs_and_gold() -> None:
    assert parse_globs("*2023 Q3 NVDA*, *AAPL*\n*MSFT*") == ["*2023 Q3 NVDA*", "*AAPL*", "*MSFT*"]
    assert is_gold("2023 Q3 NVDA.pdf", ["*2023 Q3 NVDA*"])
    assert not is_gold("2022 Q3 NVDA.pdf", ["*2023 Q3 NVDA*"])
    assert not is_gold("2023 q3 nvda.pdf", ["*2023 Q3 NVDA*"])


def test_hit_at_k_and_reciprocal_rank() -> None:
    gold = ["*2023 Q3 NVDA*"]  # third document
    assert [hit_at_k(DOCS, gold, k) for k in (1, 2, 3, 10)] == [0.0, 0.0, 1.0, 1.0]
    assert reciprocal_rank(DOCS, gold) == pytest.approx(1 / 3)
    assert reciprocal_rank(DOCS, ["*AMZN*"]) == 0.0
    assert reciprocal_rank(DOCS, ["*NVDA*"]) == pytest.approx(1 / 2)  # first of several gold docs counts
    with pytest.raises(ValueError):
        hit_at_k(DOCS, gold, 0)


def test_score_summarize_and_dedupe() -> None:
    ranked = unique_in_order(["a.pdf", "a.pdf", "b.pdf", "a.pdf", "c.pdf"])
    assert ranked == ["a.pdf", "b.pdf", "c.pdf"]
    rows = [
        score_question(ranked, ["b*"], ks=(1, 2)),
        score_question(ranked, ["a*"], ks=(1, 2)),
        score_question(ranked, ["z*"], ks=(1, 2)),
    ]
    assert rows[0] == {"hit@1": 0.0, "hit@2": 1.0, "mrr": 0.5}
    assert summarize(rows) == pytest.approx({"hit@1": 1 / 3, "hit@2": 2 / 3, "mrr": 0.5})
    assert summarize([]) == {}


def test_percentile() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(48.0)  # pos 3.8 -> 40 + 0.8 * 10
    assert percentile([5.0], 95) == 5.0
    with pytest.raises(ValueError):
        percentile([], 50)
