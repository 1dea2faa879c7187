"""Claim checks on real 10-Q text.

The source strings below are copied from NVIDIA's 10-Q for the quarter ended July 30, 2023
(``sec10q/docs/2023 Q2 NVDA.pdf``, pages 3 and 27 as pypdf extracts them), so the checks meet the
layout they will meet in use: table rows with ``$`` and parenthesised negatives, units in headings.
"""

from __future__ import annotations

import pytest

from retrieval.claims import (
    answer_sentences,
    best_support,
    check_answer,
    check_sentence,
    cited_numbers,
    figures,
)

# Page 3: the income statement ("In millions, except per share data").
INCOME = """NVIDIA CORPORATION AND SUBSIDIARIES
CONDENSED CONSOLIDATED STATEMENTS OF INCOME
(In millions, except per share data)
(Unaudited)
 Three Months Ended Six Months Ended
 July 30, July 31, July 30, July 31,
2023 2022 2023 2022
Revenue $ 13,507 $ 6,704 $ 20,699 $ 14,992
Cost of revenue 4,045 3,789 6,589 6,646
Interest expense (65) (65) (131) (132)
Net income $ 6,188 $ 656 $ 8,232 $ 2,274"""

# Page 27: the MD&A summary.
SUMMARY = (
    "Revenue for the second quarter of fiscal year 2024 was $13.51 billion, up 101% from a year ago "
    "and up 88% sequentially.\nData Center revenue was up 171% from a year ago and up 141% "
    "sequentially, led by CSPs and large consumer internet companies. Gaming revenue was up 22% "
    "from a year ago and up 11% sequentially, primarily reflecting demand for our GeForce RTX 40 "
    "Series GPUs based on the NVIDIA Ada Lovelace architecture following normalization of channel "
    "inventory levels."
)


@pytest.mark.parametrize(
    "sentence",
    [
        "Revenue for the three months ended July 30, 2023 was $13,507 million [1].",
        "NVIDIA's revenue was $13.5 billion in the quarter ended July 30, 2023 [1].",
        "Revenue was 13,507,000,000 dollars [1].",
        "Interest expense was $65 million [1].",  # (65) in the table
        "Interest expense was -131 million for the six months [1].",
        "Net income for the six months ended July 31, 2022 was $2,274 million [1].",
    ],
)
def test_figures_in_the_income_statement_are_supported(sentence: str) -> None:
    assert check_sentence(sentence, INCOME, context="2023 Q2 NVDA.pdf") == ()


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("Revenue for the quarter was $13.2 billion [1].", "$13.2 billion"),
        ("Net income was $6,400 million [1].", "$6,400 million"),
        ("Revenue for the quarter ended October 29, 2023 was $13,507 million [1].", "date 10/29"),
        ("Revenue in 2021 was $6,704 million [1].", "2021"),
        ("Tesla's revenue was $13,507 million [1].", "Tesla"),
    ],
)
def test_invented_figures_dates_years_and_names_are_not(sentence: str, missing: str) -> None:
    assert missing in check_sentence(sentence, INCOME, context="2023 Q2 NVDA.pdf")


def test_percentages_and_names_against_prose() -> None:
    assert check_sentence("Revenue rose 101% from a year ago, to $13.51 billion [1].", SUMMARY) == ()
    assert check_sentence("Gaming revenue was up 22% on GeForce RTX 40 Series demand [1].", SUMMARY) == ()
    assert check_sentence("Data Center revenue was up 171% [1].", SUMMARY) == ()
    assert check_sentence("Data Center revenue was up 117% [1].", SUMMARY) == ("117%",)
    assert check_sentence("Gaming revenue grew 22% on Radeon demand [1].", SUMMARY) == ("Radeon",)


def test_scale_readings() -> None:
    (billions,) = figures("$13.5 billion")
    assert billions.values == (13.5e9,) and billions.tolerance == pytest.approx(0.05e9)
    (negative,) = figures("(1,234)")
    assert negative.values == (1234.0,)
    years = [f for f in figures("In fiscal 2024 and on July 30, 2023") if f.year]
    assert [f.values[0] for f in years] == [2024.0]  # the date's year belongs to the date


def test_answer_sentences_keep_their_citations() -> None:
    text = "Revenue was $13.5 billion [1]. Net income was $6,188 million. [2] It rose."
    assert answer_sentences(text) == [
        "Revenue was $13.5 billion [1].",
        "Net income was $6,188 million. [2]",
        "It rose.",
    ]
    assert cited_numbers("A [2][1] b [2]") == (2, 1)


def test_check_answer_per_sentence() -> None:
    text = (
        "Revenue was $13.51 billion, up 101% from a year ago [2]. "
        "Net income was $7.1 billion [1]. Gaming did well."
    )
    checks = check_answer(text, [INCOME, SUMMARY], context=["a.pdf", "b.pdf"])
    assert [c.supported for c in checks] == [True, False, False]
    assert checks[0].sources == (2,)
    assert checks[1].missing == ("$7.1 billion",)
    assert checks[2].missing == ("cites no source",)


def test_refusal_is_not_a_claim_and_out_of_range_citations_do_not_count() -> None:
    refusal = "The documents do not contain the answer."
    assert check_answer(refusal, [INCOME], refusal=refusal) == []
    (check,) = check_answer("Revenue was $13,507 million [3].", [INCOME])
    assert not check.supported and check.missing == ("cites no source",)


def test_best_support_picks_the_sentence_that_says_it() -> None:
    candidates = [
        "Data Center revenue was up 171% from a year ago and up 141% sequentially.",
        "Revenue for the second quarter of fiscal year 2024 was $13.51 billion, up 101% from a year ago.",
        "Gaming revenue was up 22% from a year ago.",
    ]
    assert best_support("Revenue in the second quarter was $12 billion [1].", candidates) == candidates[1]
    assert best_support("Zebras [1].", candidates) is None
