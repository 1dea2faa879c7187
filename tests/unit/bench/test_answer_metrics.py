"""Answer metrics of the benchmark harness."""

from __future__ import annotations

import pytest

from bench.answer_metrics import (
    citation_precision,
    extract_numbers,
    gold_patterns,
    mean,
    normalize_tokens,
    numeric_match,
    token_f1,
)
from bench.datasets import clean_sec10q_answer


def test_normalize_drops_articles_and_punctuation_the_sec10q_adapter_source_lines() -> None:
    assert normalize_tokens("The revenue was $13.5 billion!") == ["revenue", "was", "$13.5", "billion"]
    reference = clean_sec10q_answer("The revenue was $13.5 billion!\nSOURCE(S): 2023 Q2 NVDA.pdf")
    assert normalize_tokens(reference) == ["revenue", "was", "$13.5", "billion"]


def test_token_f1_values() -> None:
    assert token_f1("revenue was 13,507", "Revenue was 13,507.") == 1.0
    assert token_f1("revenue grew", "net income fell") == 0.0
    # pred 4 tokens, ref 2 tokens, 2 shared: P=0.5, R=1 -> F1=2/3
    assert token_f1("net income rose sharply", "net income") == pytest.approx(2 / 3)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0


def test_extract_numbers_handles_money_scales_and_years() -> None:
    assert extract_numbers("Revenue $ 13,507 in 2023, up 101% [2]") == [13507.0, 101.0]
    assert extract_numbers("decreased 5% or $6.8 billion") == [5.0, 6.8, 6.8e9]
    assert extract_numbers("loss of (35) million") == [35.0, 35e6]


def test_numeric_match_counts_reference_figures_found() -> None:
    reference = "Total net sales were $82,959 million and $117,154 million."
    assert numeric_match("Sales were $82,959 million [1].", reference) == 0.5
    assert numeric_match("Sales were 82959 and 117,154.", reference) == 1.0
    assert numeric_match("anything", "no figures here in 2023") is None


def test_gold_patterns_and_citation_precision() -> None:
    assert gold_patterns("*AAPL*") == ["*AAPL*"]
    assert gold_patterns("2023 Q1 MSFT.pdf, 2023 Q2 MSFT.pdf") == ["2023 Q1 MSFT.pdf", "2023 Q2 MSFT.pdf"]
    files = ["2023 Q3 AAPL.pdf", "2023 Q3 MSFT.pdf", "2022 Q3 AAPL.pdf"]
    assert citation_precision(files, ["*AAPL*"]) == pytest.approx(2 / 3)
    assert citation_precision([], ["*AAPL*"]) is None


def test_mean_ignores_missing() -> None:
    assert mean([1.0, None, 0.0]) == 0.5
    assert mean([None]) is None
