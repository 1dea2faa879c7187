"""The refusal benchmark's threshold choice and its table, on hand-made gate inputs."""

from __future__ import annotations

import pytest

from bench.refusal import calibrate, markdown


def _q(answerable: bool, best: float, reason: str | None = None) -> dict:  # type: ignore[type-arg]
    return {"id": f"q{best}", "answerable": answerable, "best": best, "reasons": {"default": reason}}


def test_calibration_picks_the_highest_threshold_that_adds_no_false_refusal() -> None:
    rows = [
        _q(True, 0.42), _q(True, 0.31), _q(True, 0.55, "a period the documents never mention"),
        _q(False, 0.12), _q(False, 0.28), _q(False, 0.50, "no retrieved passage names 'X'"),
    ]  # fmt: skip
    cal = calibrate(rows, candidates=[0.1, 0.2, 0.3, 0.35])
    by_t = {row["min_relevance"]: row for row in cal["table"]}
    # the other checks alone refuse 1 of 3 answerable; 0.35 would add the 0.31 question
    assert by_t[0.3]["false"] == pytest.approx(1 / 3) and by_t[0.35]["false"] == pytest.approx(2 / 3)
    # at 0.3: 0.12 and 0.28 fall below, the third is refused by a name: 3 of 3
    assert by_t[0.3]["correct"] == 1.0 and by_t[0.1]["correct"] == pytest.approx(1 / 3)
    assert cal["chosen"] == 0.3


def test_markdown_puts_answerable_and_unanswerable_side_by_side() -> None:
    def row(set_name: str, gate: str, answerable: bool, refused: int, scored: int) -> dict:  # type: ignore[type-arg]
        return {
            "set": set_name, "gate": gate, "answerable": answerable, "questions": scored, "scored": scored,
            "refused": refused, "rate": refused / scored, "reasons": {"name": refused} if refused else {},
        }  # fmt: skip

    result = {
        "half": "confirm",
        "min_relevance": 0.3,
        "rows": [
            {**row("fb answerable", "eval", True, 1, 20), "gate_only_agrees": "20/20"},
            row("fb answerable", "literal", True, 13, 20),
            {**row("fb unanswerable", "eval", False, 11, 13), "gate_only_agrees": "13/13"},
        ],
    }
    text = markdown(result)
    assert (
        "| fb answerable | 20 | false refusals | <= 0.03 | 0.050 (1/20) | - | 0.650 (13/20) | 20/20 |" in text
    )
    assert "| fb unanswerable | 13 | correct refusals | >= 0.8 | 0.846 (11/13) | - | - | 13/13 |" in text
