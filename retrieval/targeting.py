"""Document targeting: which document a question is about, by the period and form it names.

A question about a filing names a company, a form and a period ("3M's FY2018 capital
expenditure", "JPM's segments in 2021 Q1"). The company is left to the document prior
(``retrieval.documents``: BM25 and embeddings over the document profiles); what that prior cannot
do is tell two filings of the same company apart, since both name the company on every page.
This module reads each document's *facts* from its profile (the cover page, the file name and
the title) and scores how well they fit the periods and form the question names:

- the period: a document reporting the year ``Y`` (a 10-K for the fiscal year ended in ``Y``, a
  10-Q for a quarter ended in ``Y``, a report dated in ``Y``) fits a question whose latest year is
  ``Y`` best: an annual report also shows the one or two years before it, so "FY2016 to FY2017"
  is answered by the FY2017 report, not the FY2016 one. A year the question names but not as
  its latest still fits a little. The quarter (``Q3``, ``third quarter``) must agree when both
  sides give one;
- the form (10-K, 10-Q, 8-K, annual or quarterly report) when the question names one.

Facts are read from the words of the documents themselves (cover-page phrases such as "for the
fiscal year ended December 31, 2018", "FORM 10-Q") and from the file name the user gave; never
from the questions of an evaluation set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# "for the fiscal year ended December 31, 2018", "quarterly period ended June 25, 2022",
# "for the year ended 31 December 2021", "Date of Report (Date of earliest event reported): May 18, 2022".
_PERIOD_ENDED = re.compile(
    r"\b(fiscal\s+year|quarterly\s+period|year|quarter|period|six\s+months|nine\s+months)\s+ended\s*:?\s+"
    rf"(?:(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+|\d{{1,2}}\s+(?:{_MONTHS})\.?,?\s+)((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_REPORT_DATE = re.compile(
    rf"date\s+of\s+report[^:]{{0,60}}:\s*(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+((?:19|20)\d\d)\b", re.IGNORECASE
)
_FORM = re.compile(r"\bform\s+(10-?k|10-?q|8-?k|20-?f|6-?k|40-?f)\b", re.IGNORECASE)
_STEM_FORM = re.compile(r"(?<![a-z0-9])(10-?k|10-?q|8-?k|20-?f)(?![a-z0-9])", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_STEM_QUARTER = re.compile(r"(?<![a-z])q([1-4])(?![0-9])", re.IGNORECASE)

# Question side.
_Q_FY = re.compile(r"\b(?:fy|fiscal(?:\s+year)?)\s*'?\s*((?:19|20)?\d\d)\b(?!-)", re.IGNORECASE)
_Q_QUARTER = re.compile(
    r"\bq([1-4])\b|\b(first|second|third|fourth)\s+(?:fiscal\s+)?quarter\b", re.IGNORECASE
)
_Q_QUARTER_YEAR = re.compile(
    r"\b((?:19|20)\d\d)\s*q([1-4])\b|\bq([1-4])\s*(?:fy\s*)?'?((?:19|20)?\d\d)\b(?!-)", re.IGNORECASE
)
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_Q_FORMS = (
    (re.compile(r"\b10-?k\b|\bannual\s+report\b", re.IGNORECASE), "10-K"),
    (re.compile(r"\b10-?q\b|\bquarterly\s+report\b", re.IGNORECASE), "10-Q"),
    (re.compile(r"\b8-?k\b", re.IGNORECASE), "8-K"),
)


def _norm_form(text: str) -> str:
    t = text.upper().replace("-", "")
    return f"{t[:-1]}-{t[-1]}"


@dataclass(frozen=True)
class DocumentFacts:
    """What a document says about itself: its form, the year its period ends in, its quarter."""

    form: str | None = None
    year: int | None = None
    quarter: int | None = None


@dataclass(frozen=True)
class QuestionScope:
    """The periods and form a question names (empty when it names none)."""

    years: tuple[int, ...] = ()
    quarter: int | None = None
    form: str | None = None

    @property
    def empty(self) -> bool:
        """True when the question names no year, quarter or form."""
        return not self.years and self.quarter is None and self.form is None


def document_facts(profile: str, file_name: str = "") -> DocumentFacts:
    """Read a document's form, period-end year and quarter from its profile text and file name.

    The cover page (the start of the profile) wins over the file name; the file name fills what the
    text does not say. ``"FORM 10-K ... For the fiscal year ended December 31, 2018"`` gives
    ``DocumentFacts("10-K", 2018, None)``; a file ``"2021 Q1 ACME.pdf"`` gives year 2021, quarter 1.
    """
    stem = PurePath(file_name).stem if file_name else ""
    form_m = _FORM.search(profile)
    form = _norm_form(form_m.group(1)) if form_m else None
    if form is None and (stem_form := _STEM_FORM.search(stem)):
        form = _norm_form(stem_form.group(1))
    year: int | None = None
    if period := _PERIOD_ENDED.search(profile):
        year = int(period.group(2))
    elif report := _REPORT_DATE.search(profile):
        year = int(report.group(1))
    elif stem_year := _YEAR.search(stem):
        year = int(stem_year.group(1))
    quarter_m = _STEM_QUARTER.search(stem)
    return DocumentFacts(form, year, int(quarter_m.group(1)) if quarter_m else None)


def _full_year(text: str) -> int:
    value = int(text)
    return value if value >= 100 else 2000 + value


def question_scope(question: str) -> QuestionScope:
    """The years, quarter and form ``question`` names.

    ``"FY2017 - FY2019"`` gives years (2017, 2019); ``"Q3 FY23"`` quarter 3 and 2023; ``"the third
    quarter of 2023"`` quarter 3 and 2023; ``"10-K"`` or ``"annual report"`` the form 10-K.
    """
    years = {_full_year(m.group(1)) for m in _Q_FY.finditer(question)}
    years |= {int(m.group(1)) for m in _YEAR.finditer(question)}
    quarter = None
    for m in _Q_QUARTER_YEAR.finditer(question):
        quarter = int(m.group(2) or m.group(3))
        if m.group(4):
            years.add(_full_year(m.group(4)))
    if quarter is None and (qm := _Q_QUARTER.search(question)):
        quarter = int(qm.group(1)) if qm.group(1) else _ORDINAL[qm.group(2).lower()]
    form = next((name for pattern, name in _Q_FORMS if pattern.search(question)), None)
    return QuestionScope(tuple(sorted(years)), quarter, form)


def scope_fit(scope: QuestionScope, facts: DocumentFacts) -> float | None:
    """How well a document fits the question's scope, in [0, 1]; None when the scope is empty.

    Each part the question gives is scored and the parts are averaged: the year (1 when the
    document's year is the question's latest, 0.5 when it is another year the question names, 0 when
    it is none of them), the quarter (1 or 0 when both sides give one) and the form (1 or 0). A part
    the document does not state scores 0.5: unknown is neither a match nor a mismatch.
    """
    if scope.empty:
        return None
    parts: list[float] = []
    if scope.years:
        if facts.year is None:
            parts.append(0.5)
        elif facts.year == max(scope.years):
            parts.append(1.0)
        else:
            parts.append(0.5 if facts.year in scope.years else 0.0)
    if scope.quarter is not None and facts.quarter is not None:
        parts.append(1.0 if facts.quarter == scope.quarter else 0.0)
    if scope.form is not None:
        parts.append(0.5 if facts.form is None else float(facts.form == scope.form))
    return sum(parts) / len(parts) if parts else None
