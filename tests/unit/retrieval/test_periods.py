"""Period normalisation: every spelling of a period becomes the span of days it can stand for."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.periods import (
    Period,
    cover_period_end,
    fiscal_year,
    mentioned_years,
    parse_periods,
    reported_through,
)


def labels(text: str) -> list[str]:
    return [p.label for p in parse_periods(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the FY2018 capital expenditure amount?", ["FY2018"]),
        ("FY 2022 data", ["FY2022"]),
        ("FY22 and FY'21", ["FY2022", "FY2021"]),
        ("in fiscal 2022", ["FY2022"]),
        ("in fiscal year 2022", ["FY2022"]),
        ("net sales in 2022", ["2022"]),
        ("the year ended 2022", ["FY2022"]),
        ("Q3 FY23", ["Q3 FY2023"]),
        ("Q3 2023", ["Q3 FY2023"]),
        ("Q3'23", ["Q3 FY2023"]),
        ("3Q23", ["Q3 FY2023"]),
        ("3Q 2023", ["Q3 FY2023"]),
        ("the third quarter of 2023", ["Q3 FY2023"]),
        ("the third quarter of fiscal 2023", ["Q3 FY2023"]),
        ("the 3rd fiscal quarter 2023", ["Q3 FY2023"]),
        ("2021 Q1", ["Q1 FY2021"]),
        ("FY21-Q2", ["Q2 FY2021"]),
        ("Q2 of FY2022", ["Q2 FY2022"]),
        ("H1 2023", ["H1 FY2023"]),
        ("1H23", ["H1 FY2023"]),
        ("the second half of fiscal 2022", ["H2 FY2022"]),
        ("calendar 2022 and CY2021", ["CY2022", "CY2021"]),
        ("at the end of June 2023", ["2023-06"]),
        ("as of December 31, 2022", ["2022-12-31"]),
        ("on 31 December 2022", ["2022-12-31"]),
        ("dated 2022-05-20", ["2022-05-20"]),
        ("the year ended December 31, 2022", ["12 months to 2022-12-31"]),
        ("the fiscal year ended June 30, 2023", ["12 months to 2023-06-30"]),
        ("the three months ended July 30, 2023", ["3 months to 2023-07-30"]),
        ("the quarterly period ended March 31, 2021", ["3 months to 2021-03-31"]),
        ("the nine months ended Sept. 30, 2023", ["9 months to 2023-09-30"]),
        ("the 52 weeks ended January 28, 2023", ["12 months to 2023-01-28"]),
        ("the 13 weeks ended April 30, 2022", ["3 months to 2022-04-30"]),
        (
            "for the years ended December 31, 2022, 2021 and 2020",
            ["12 months to 2022-12-31", "12 months to 2021-12-31", "12 months to 2020-12-31"],
        ),
        ("FY2017 - FY2019 3 year average", ["FY2017", "FY2019"]),
        ("between FY2023 and the FY2022 period", ["FY2023", "FY2022"]),
        ("2019-2021", ["2019", "2021"]),
    ],
)
def test_spellings_of_a_period(text: str, expected: list[str]) -> None:
    assert labels(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Revenue was $2,022 million and 2,023 units",
        "Round your answer to two decimal places: 365 * (average inventory)",
        "3M_2018_10K.pdf",
        "Q3 revenue",  # a quarter without a year names no period
        "1,500.2024 shares",
    ],
)
def test_figures_and_bare_labels_are_not_periods(text: str) -> None:
    assert parse_periods(text) == []


def test_a_fiscal_label_spans_every_fiscal_calendar() -> None:
    fy = fiscal_year(2023)
    # Microsoft's fiscal 2023 (July 2022 - June 2023), Walmart's fiscal 2020 style (Feb - Jan), and a
    # retailer's fiscal 2023 ending in late January 2024 all fall inside the label's span.
    for start, end in [
        (date(2022, 7, 1), date(2023, 6, 30)),
        (date(2022, 2, 1), date(2023, 1, 31)),
        (date(2023, 1, 29), date(2024, 1, 27)),
        (date(2023, 1, 1), date(2023, 12, 31)),
    ]:
        assert fy.earliest <= start and end <= fy.latest
    assert (fy.earliest, fy.latest) == (date(2022, 1, 1), date(2024, 2, 29))


def test_quarter_and_half_bounds() -> None:
    (q3,) = parse_periods("Q3 FY23")
    # earliest: a fiscal 2023 starting January 1, 2022 has its Q3 from July 1, 2022;
    # latest: one ending February 29, 2024 has its Q3 ending November 30, 2023.
    assert (q3.earliest, q3.latest, q3.year) == (date(2022, 7, 1), date(2023, 11, 30), 2023)
    (h1,) = parse_periods("H1 2023")
    assert (h1.earliest, h1.latest) == (date(2022, 1, 1), date(2023, 8, 31))


def test_exact_spans() -> None:
    (quarter,) = parse_periods("the quarter ended December 28, 2024")
    assert quarter == Period(
        "3 months to 2024-12-28", 2024, date(2024, 9, 29), date(2024, 12, 28), exact=True
    )
    (month,) = parse_periods("June 2023")
    assert (month.earliest, month.latest, month.exact) == (date(2023, 6, 1), date(2023, 6, 30), True)
    assert month.overlaps(date(2023, 6, 30), date(2023, 9, 30))
    assert not month.overlaps(date(2023, 7, 1), date(2023, 9, 30))


def test_reported_through_counts_only_ended_periods() -> None:
    text = (
        "For the fiscal year ended June 30, 2023. Revenue for the three months ended March 31, 2023 grew. "
        "Notes due 2030; the facility expires on March 31, 2026."
    )
    assert reported_through(text) == date(2023, 6, 30)
    assert reported_through("Our goal is to be carbon negative by 2030.") is None
    assert reported_through("the dividend for the fiscal year ending September 30, 2024") is None
    assert labels("the fiscal year ending September 30, 2024") == ["12 months to 2024-09-30"]


def test_a_cover_says_what_a_filing_reports_on() -> None:
    ten_k = "ANNUAL REPORT PURSUANT TO SECTION 13 For the fiscal year ended January 31, 2020 Commission file"
    assert cover_period_end(ten_k) == date(2020, 1, 31)
    ten_q = "QUARTERLY REPORT For the quarterly period ended March 31, 2021 or TRANSITION REPORT"
    assert cover_period_end(ten_q) == date(2021, 3, 31)
    eight_k = "Date of Report (Date of earliest event reported): August 19, 2022 FOOT LOCKER, INC."
    assert cover_period_end(eight_k) == date(2022, 8, 19)
    # A maturity table heads future columns "Year Ended December 31"; only a cover statement counts.
    assert cover_period_end("Three Months Ended December 31, Year Ended December 31, 2022 2023 2024") is None


def test_mentioned_years_in_any_spelling() -> None:
    assert mentioned_years("FY22, Q3'23, 1H21, fiscal 2019, notes due 2030") == {2019, 2021, 2022, 2023, 2030}
    assert mentioned_years("$2,022 million; 3M_2018_10K; 12,2024") == set()
