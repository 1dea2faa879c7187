"""Evidence selection within a token budget, with a word-count tokenizer so budgets are exact."""

from __future__ import annotations

import pytest

from retrieval.evidence import prompt_budget, select_evidence


def words(text: str) -> int:
    return len(text.split())


SOURCE_1 = (
    "The company was founded in 1993. Revenue for the quarter was $13.5 billion. "
    "That was up 101% from a year ago. The board met twice. Offices are in Santa Clara."
)
SOURCE_2 = "Gaming revenue was $2.49 billion. Gaming grew on new GPUs. The weather was mild."


def test_budget_is_target_time_times_speed_within_floor_and_ceiling() -> None:
    assert prompt_budget(2.0, 380.0, floor=300, ceiling=3800) == 760
    assert prompt_budget(2.0, 20.0, floor=300, ceiling=3800) == 300  # slow model: the floor
    assert prompt_budget(2.0, 5000.0, floor=300, ceiling=3800) == 3800  # fast: the window
    assert prompt_budget(2.0, 20.0, floor=300, ceiling=200) == 200
    with pytest.raises(ValueError, match="prompt_tokens_per_s=0"):
        prompt_budget(2.0, 0, floor=1, ceiling=2)


def test_best_sentence_and_neighbours_of_each_source_first() -> None:
    # Round 0: source 1's best sentence (revenue, quarter) with its neighbours: 6+7+8 words, +1 each,
    # +4 overhead = 28; source 2's best ("Gaming revenue was...") and its neighbour: 5+5, +2, +4 = 16.
    # Round 1 would add "The board met twice." (5), over the budget of 44.
    evidence = select_evidence(
        "What was revenue for the quarter?",
        [SOURCE_1, SOURCE_2],
        count_tokens=words,
        budget=44,
        per_source_overhead=4,
    )
    assert evidence.texts == (
        "The company was founded in 1993. Revenue for the quarter was $13.5 billion. "
        "That was up 101% from a year ago.",
        "Gaming revenue was $2.49 billion. Gaming grew on new GPUs.",
    )
    assert evidence.tokens == 44 and evidence.sentences == 5


def test_a_source_that_does_not_fit_ends_the_prefix() -> None:
    evidence = select_evidence(
        "What was revenue for the quarter?", [SOURCE_1, SOURCE_2], count_tokens=words, budget=30,
        per_source_overhead=4,
    )  # fmt: skip
    assert len(evidence.texts) == 1 and "$13.5 billion" in evidence.texts[0]
    assert evidence.tokens <= 30


def test_skipped_sentences_are_marked_and_order_is_the_documents() -> None:
    evidence = select_evidence(
        "Where are the offices?", [SOURCE_1], count_tokens=words, budget=1000, neighbours=0
    )
    assert evidence.texts[0].startswith("The company was founded")  # later rounds add the rest
    small = select_evidence(
        "Where are the offices?",
        [SOURCE_1],
        count_tokens=words,
        budget=6,
        neighbours=0,
        per_source_overhead=0,
    )
    assert small.texts == ("Offices are in Santa Clara.",)
    two = select_evidence(
        "When was it founded and where are the offices?", [SOURCE_1], count_tokens=words, budget=13,
        neighbours=0, per_source_overhead=0,
    )  # fmt: skip
    assert two.texts == ("The company was founded in 1993. \u2026 Offices are in Santa Clara.",)


def test_empty_first_source_keeps_numbering_a_prefix() -> None:
    evidence = select_evidence("revenue", ["", SOURCE_2], count_tokens=words, budget=100)
    assert evidence.texts == ()
