"""bench.answer_eval's question subset and table, and the claim figures the eval summary averages."""

from __future__ import annotations

from app.evaluation import EvalItem, QuestionResult, summarize
from bench.answer_eval import markdown, subset


def _item(n: int, answerable: bool = True) -> EvalItem:
    return EvalItem(question=f"q{n}?", answer=f"{n}" if answerable else None, id=str(n))


def test_subset_is_an_even_spread_plus_a_third_unanswerable() -> None:
    items = [_item(i) for i in range(30)] + [_item(100 + i, False) for i in range(10)]
    picked = subset(items, 6)
    assert [i.id for i in picked] == ["0", "5", "10", "15", "20", "25", "100", "101"]
    assert subset(items, None) == items


def _result(valid: bool | None, cited: int, supported: int, unsupported: bool | None) -> QuestionResult:
    return QuestionResult(
        id="", question="q", type="", answerable=True, answer="a", refused=valid is None, files=[],
        hit_at_k=None, reciprocal_rank=None, page_hit=None, citation_validity=None, token_f1=None,
        numeric_match=None, latency_s=1.0, ttft_s=0.5, valid_citation=valid, cited_claims=cited,
        supported_claims=supported, unsupported=unsupported,
    )  # fmt: skip


def test_summary_claim_rates() -> None:
    summary = summarize([_result(True, 2, 2, False), _result(False, 2, 1, True), _result(None, 0, 0, None)])
    assert summary["answered_with_valid_citation"] == 0.5  # the refusal is not counted
    assert summary["claim_support_rate"] == 0.75  # 3 of 4 cited sentences
    assert summary["unsupported_rate"] == 0.5
    table = markdown({"dataset": "d", "questions": 3, "model": "m", "configs": {"x": {"summary": summary}}})
    assert "| claim_support_rate | 0.750 |" in table and "| numeric_match | - |" in table
