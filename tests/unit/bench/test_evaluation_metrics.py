"""Metric functions of app.evaluation, each against values worked out by hand."""

from __future__ import annotations

import pytest

from app.evaluation import (
    citation_validity,
    figures,
    hit_at_k,
    matches_gold,
    mean,
    normalize_tokens,
    numeric_match,
    page_hit,
    pages_overlap,
    percentile,
    recall_at_k,
    reciprocal_rank,
    summarize,
    token_f1,
    unique,
)
from retrieval.base import Chunk, Hit
from retrieval.chain import Answer, Citation

RANKED = ["2023 Q1 MSFT.pdf", "2022 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q3 NVDA.pdf"]


def test_matches_gold_takes_names_and_globs_case_insensitively() -> None:
    assert matches_gold("2023 Q3 AAPL.pdf", ["*AAPL*"])
    assert matches_gold("2023 q3 aapl.PDF", ["*AAPL*"])
    assert matches_gold("report.pdf", ["report.pdf"])
    assert not matches_gold("2023 Q3 AAPL.pdf", ["*MSFT*", "2023 Q3 NVDA.pdf"])


def test_hit_at_k() -> None:
    # The first AAPL filing is at rank 2.
    assert hit_at_k(RANKED, ["*AAPL*"], 1) == 0.0
    assert hit_at_k(RANKED, ["*AAPL*"], 2) == 1.0
    assert hit_at_k(RANKED, ["*INTC*"], 4) == 0.0
    assert hit_at_k([], ["*AAPL*"], 3) == 0.0
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        hit_at_k(RANKED, ["*AAPL*"], 0)


def test_reciprocal_rank_and_mrr() -> None:
    assert reciprocal_rank(RANKED, ["*MSFT*"]) == 1.0
    assert reciprocal_rank(RANKED, ["*AAPL*"]) == 0.5
    assert reciprocal_rank(RANKED, ["*NVDA*"]) == 0.25
    assert reciprocal_rank(RANKED, ["*AMZN*"]) == 0.0
    # MRR over four questions: (1 + 1/2 + 1/4 + 0) / 4 = 0.4375
    rr = [reciprocal_rank(RANKED, [g]) for g in ("*MSFT*", "*AAPL*", "*NVDA*", "*AMZN*")]
    assert mean(rr) == pytest.approx(0.4375)


def test_recall_at_k_counts_each_gold_entry_once() -> None:
    gold = ["2022 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q3 AAPL.pdf"]
    assert recall_at_k(RANKED, gold, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, gold, 4) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least one gold"):
        recall_at_k(RANKED, [], 3)


def test_unique_keeps_first_occurrence() -> None:
    assert unique(["b.pdf", "a.pdf", "b.pdf", "c.pdf", "a.pdf"]) == ["b.pdf", "a.pdf", "c.pdf"]


def test_page_hit_and_overlap() -> None:
    located = [("a.pdf", 2, 2), ("b.pdf", 5, 7), ("notes.md", None, None)]
    assert page_hit(located, ["b.pdf"], [6]) == 1.0
    assert page_hit(located, ["a.pdf"], [6]) == 0.0  # page 6 is in b.pdf, not a.pdf
    assert page_hit(located, [], [2]) == 1.0  # no gold document: any file
    assert pages_overlap((1, 3), (2, 2)) and pages_overlap((3, None), (2, 4))
    assert not pages_overlap((1, 3), (4, 5))
    assert pages_overlap((None, None), (None, None)) and not pages_overlap((None, None), (1, 1))


def test_normalize_and_token_f1() -> None:
    assert normalize_tokens("The revenue was $13,507 million [1].") == [
        "revenue",
        "was",
        "$13,507",
        "million",
    ]
    # A dataset's own annotations are the dataset adapter's to clean (bench.datasets), not the metric's.
    assert normalize_tokens("(SOURCE: q2.pdf)") == ["source", "q2.pdf"]
    assert token_f1("Revenue was $13,507 million.", "revenue was $13,507 million") == 1.0
    # prediction: net income rose sharply (4); reference: net income (2); overlap 2
    # precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("net income rose sharply", "the net income") == pytest.approx(2 / 3)
    # overlap counts repeats at most as often as the reference has them: pred "cod cod cod", ref "cod tags"
    # overlap 1, precision 1/3, recall 1/2 -> F1 = 2 * (1/6) / (5/6) = 0.4
    assert token_f1("cod cod cod", "cod tags") == pytest.approx(0.4)
    assert token_f1("sales fell", "income rose") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0


def test_figures_read_money_scales_percent_and_skip_years() -> None:
    assert figures("In 2023 revenue was $13,507 million, up 101% [2]") == [(13507.0, 13507e6), (101.0,)]
    assert figures("a loss of (35) million and 4.5 billion") == [(35.0, 35e6), (4.5, 4.5e9)]
    assert figures("Q3 of fiscal 2024") == []


def test_numeric_match() -> None:
    reference = "Total net sales were $82,959 million in 2022 and $117,154 million in 2023."
    assert numeric_match("Sales were $82,959 million [1].", reference) == 0.5
    assert numeric_match("$117.154 billion after $82,959 million", reference) == 1.0
    # 13.5 billion is within 0.5% of 13,507 million (0.05%): a rounded answer counts
    assert numeric_match("about $13.5 billion", "$13,507 million") == 1.0
    assert numeric_match("about $13.4 billion", "$13,507 million") == 0.0
    assert numeric_match("anything", "no figures, only the year 2023") is None


def test_percentile_interpolates() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # sorted 1 2 3 4; p50 at position 1.5 -> 2.5; p95 at 2.85 -> 3.85
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile([], 50) is None and percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="0-100"):
        percentile(values, 101)


def _chunk(cid: str, file_name: str, page: int | None) -> Chunk:
    return Chunk(
        id=cid, doc_id=file_name, text="t", source=f"/d/{file_name}", file_name=file_name,
        file_type="pdf", page_start=page, page_end=page,
    )  # fmt: skip


def _answer(citations: list[Citation], hits: list[Hit], refused: bool = False) -> Answer:
    return Answer(
        question="q", standalone_question="q", text="x", citations=tuple(citations), hits=tuple(hits),
        refused=refused, flagged=not citations, mode="llm",
    )  # fmt: skip


def test_citation_validity() -> None:
    hits = [Hit(_chunk("c1", "a.pdf", 2), 0.9), Hit(_chunk("c2", "b.pdf", 5), 0.8)]
    good = Citation(1, "c1", "/d/a.pdf", "a.pdf", 1, 3, "s")  # parent range 1-3 covers page 2
    wrong_page = Citation(2, "c2", "/d/b.pdf", "b.pdf", 7, 7, "s")
    not_retrieved = Citation(2, "zz", "/d/c.pdf", "c.pdf", 1, 1, "s")
    assert citation_validity(_answer([good], hits)) == 1.0
    assert citation_validity(_answer([good, wrong_page], hits)) == 0.5
    assert citation_validity(_answer([good, wrong_page, not_retrieved], hits)) == pytest.approx(1 / 3)
    assert citation_validity(_answer([], hits)) is None


def test_summarize_splits_answerable_and_unanswerable() -> None:
    from app.evaluation import QuestionResult

    def result(answerable: bool, refused: bool, f1: float | None, latency: float) -> QuestionResult:
        return QuestionResult(
            id="", question="q", type="", answerable=answerable, answer="", refused=refused, files=[],
            hit_at_k=1.0 if answerable else None, reciprocal_rank=0.5 if answerable else None,
            page_hit=None, citation_validity=None, token_f1=f1, numeric_match=None,
            latency_s=latency, ttft_s=None,
        )  # fmt: skip

    rows = [
        result(True, False, 0.5, 1.0),
        result(True, True, 0.0, 2.0),
        result(False, True, None, 3.0),
        result(False, False, None, 4.0),
    ]
    s = summarize(rows, total=5)
    assert (s["questions"], s["scored"], s["answerable"], s["unanswerable"]) == (5, 4, 2, 2)
    assert s["token_f1"] == 0.25 and s["mrr"] == 0.5 and s["page_hit"] is None
    assert s["false_refusal_rate"] == 0.5 and s["correct_refusal_rate"] == 0.5
    assert s["latency_p50_s"] == 2.5
