"""Page furniture detection on lines as pypdf extracts them from real 10-Q filings.

The lines are copied from NVIDIA's 10-Q for the quarter ended July 30, 2023 (``2023 Q2 NVDA.pdf``,
pages 1-3 and 27): the cover, the table of contents, a statement heading and a table row.
"""

from __future__ import annotations

import pytest

from retrieval.boilerplate import boilerplate_reason, repeated_lines, strip_repeated


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("UNITED STATES SECURITIES AND EXCHANGE COMMISSION Washington, D.C. 20549", "capitals"),
        ("FOR THE QUARTER ENDED JULY 30, 2023", "capitals"),
        ("Item 2. Management’s Discussion and Analysis of Financial Condition and Results of Operations 25",
         "contents line"),
        ("Item 1A. Risk Factors 35", "contents line"),
        ("Notes to Condensed Consolidated Financial Statements . . . . . . 9", "leaders"),
        ("Second Quarter of Fiscal Year 2024 Summary", None),  # has a figure: kept (may be a table title)
        ("Critical Accounting Policies and Estimates", "heading"),
        # The sample corpus's PDF title, cut by the sentence splitter before its section "1.".
        ("A Short History of the Skarvik Marine Institute 1.", "heading"),
    ],
)  # fmt: skip
def test_furniture(line: str, reason: str | None) -> None:
    assert boilerplate_reason(line) == reason


@pytest.mark.parametrize(
    "line",
    [
        "Revenue $ 13,507 $ 6,704 $ 20,699 $ 14,992",
        "Interest income 187 46 338 64",
        "Revenue for the second quarter of fiscal year 2024 was $13.51 billion, up 101% from a year ago.",
        "Data Center revenue was up 171% from a year ago and up 141% sequentially.",
        "Sigrid Aasen found the Aasen Reef on cruise 4.",  # a sentence that ends in a number
    ],
)
def test_answers_are_not_furniture(line: str) -> None:
    assert boilerplate_reason(line) is None


def test_running_lines_recur_on_two_pages_of_one_document() -> None:
    header = "NVIDIA Corporation and Subsidiaries\nNotes to Condensed Consolidated Financial Statements\n"
    pages = [
        (
            "nvda.pdf",
            10,
            header + "Note 1 - Summary of Significant Accounting Policies\nOur fiscal year is 52 weeks.",
        ),
        ("nvda.pdf", 11, header + "Note 2 - Leases\nWe lease offices."),
        ("msft.pdf", 11, "Notes to Condensed Consolidated Financial Statements\nOther text."),
        ("nvda.pdf", 10, "Our fiscal year is 52 weeks."),  # same page twice: not a running line
    ]
    repeated = repeated_lines(pages)
    assert repeated == {
        "nvidia corporation and subsidiaries",
        "notes to condensed consolidated financial statements",
    }
    glued = "NVIDIA Corporation and Subsidiaries Notes to Condensed Consolidated Financial Statements We lease offices."
    assert strip_repeated(glued, repeated) == "We lease offices."
    assert strip_repeated("NVIDIA Corporation and Subsidiaries", repeated) == ""
    assert strip_repeated("NVIDIA Corporation and Subsidiaries grew.", repeated) == "grew."


def test_running_footers_differ_only_in_the_page_number() -> None:
    # Apple's 10-Q footer as pypdf extracts it (2023 Q2 AAPL.pdf), on two pages.
    pages = [
        ("aapl.pdf", 15, "Net sales rose.\nApple Inc. | Q2 2023 Form 10-Q | 15"),
        ("aapl.pdf", 16, "Apple Inc. | Q2 2023 Form 10-Q | 16\nServices grew."),
    ]
    repeated = repeated_lines(pages)
    assert repeated == {"apple inc. | q# # form #-q | #"}
    glued = "Apple Inc. | Q2 2023 Form 10-Q | 17 Products and Services Performance The table shows net sales."
    assert strip_repeated(glued, repeated) == "Products and Services Performance The table shows net sales."


def test_a_capitals_title_glued_to_the_text_is_stripped() -> None:
    glued = (
        "5 NVIDIA CORPORATION AND SUBSIDIARIES CONDENSED CONSOLIDATED STATEMENTS (Unaudited) Balance 1,234"
    )
    assert strip_repeated(glued, set()) == "(Unaudited) Balance 1,234"
    assert strip_repeated("NVIDIA AND AMD", set()) == "NVIDIA AND AMD"  # nothing would be left
