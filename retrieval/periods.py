"""Reporting periods named in text: "FY2022", "fiscal 2022", "Q3 FY23", "the year ended December 31, 2022".

Analysts and filings spell the same period many ways: a question says "FY2022" or "3Q23" where the
10-K says "fiscal 2022", "the year ended December 31, 2022" or just "2022". :func:`parse_periods`
turns every spelling into a :class:`Period`: the span of days it can stand for. A label without
a date ("FY2022", "Q3 2023") is read leniently, because fiscal years end in any month: Microsoft's
fiscal 2023 ended on June 30, 2023, Walmart's fiscal 2020 on January 31, 2020, and a retailer's
"fiscal 2022" may end in January 2023. Such a period's ``earliest`` and ``latest`` days therefore
bound every calendar placement of the label, so comparing them with what documents cover never
refuses a question only because its company's fiscal calendar is unusual.

:func:`reported_through` finds the latest period a text reports on ("three months ended
September 30, 2023" gives September 30, 2023); :func:`mentioned_years` every year a text names in
any spelling. ``retrieval.coverage`` builds each document's coverage from these.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

_MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_SPAN_MONTHS = {"three": 3, "3": 3, "six": 6, "6": 6, "nine": 9, "9": 9, "twelve": 12, "12": 12}

_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_YY = r"'?(?P<year>(?:19|20)\d{2}|\d{2})"  # a year in a label: 2023, 23 or '23
_ORD = r"(?P<ord>" + "|".join(_ORDINALS) + r")"
_FISCAL = r"(?:(?P<fiscal>fiscal(?:\s+year)?|fy)\s*)"
_NOT_NUM_BEFORE = r"(?<![\w$.,])"
_NOT_NUM_AFTER = r"(?![\w]|[.,]\d)"

# "(the) three months / quarter / year / fiscal year ended December 31, 2022 (and 2021)"
_ENDED = re.compile(
    r"(?P<span>(?:three|six|nine|twelve|3|6|9|12)[-\s]+months?|(?:13|26|39|52|53)[-\s]+weeks?|(?:fiscal\s+)?quarter(?:ly\s+period)?|"
    r"(?:fiscal\s+)?years?|(?:fiscal\s+)?(?:half|six-month\s+period))\s+(?:then\s+)?end(?:ed|ing)\s+(?:on\s+)?"
    + _MONTH
    + r"\s+(?P<day>\d{1,2}),?\s+"
    + _YEAR
    + r"(?P<more>(?:\s*(?:,|and|,\s*and)\s*(?:19|20)\d{2}(?!\d))*)",
    re.IGNORECASE,
)
# "the year ended 2022", "fiscal year ending 2024": a year without its day
_ENDED_YEAR = re.compile(
    r"\b(?:fiscal\s+)?years?\s+end(?:ed|ing)\s+(?:in\s+)?" + _YEAR + r"\b", re.IGNORECASE
)
_DAY = re.compile(_MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+" + _YEAR + r"\b", re.IGNORECASE)
_DAY_FIRST = re.compile(r"\b(?P<day>\d{1,2})\s+" + _MONTH + r",?\s+" + _YEAR + r"\b", re.IGNORECASE)
_ISO_DAY = re.compile(r"\b" + _YEAR + r"-(?P<month>\d{2})-(?P<day>\d{2})\b")
_MONTH_YEAR = re.compile(r"\b" + _MONTH + r",?\s+(?:of\s+)?" + _YEAR + r"\b", re.IGNORECASE)
_QUARTER = (
    # Q3 FY23, Q3 2023, Q3'23, Q2 of FY2022, Q1 fiscal 2021
    re.compile(r"\bQ(?P<n>[1-4])\s*(?:of\s+)?" + _FISCAL + r"?" + _YY + r"\b", re.IGNORECASE),
    # 2021 Q1, FY2021 Q1, FY21-Q1 (a two-digit year only after FY)
    re.compile(
        r"\b(?:" + _FISCAL + _YY + r"|" + _YEAR.replace("year", "year4") + r")\s*[-/]?\s*Q(?P<n>[1-4])\b",
        re.IGNORECASE,
    ),
    # 3Q23, 3Q 2023, 3QFY23
    re.compile(r"\b(?P<n>[1-4])Q\s*" + _FISCAL + r"?" + _YY + r"\b", re.IGNORECASE),
    # the third quarter of (fiscal) 2023, fourth fiscal quarter 2022, second quarter of FY2022
    re.compile(
        r"\b" + _ORD + r"\s+(?:fiscal\s+)?quarter\s+(?:of\s+)?(?:the\s+)?" + _FISCAL + r"?" + _YY + r"\b",
        re.IGNORECASE,
    ),
)
_HALF = (
    re.compile(r"\bH(?P<n>[12])\s*(?:of\s+)?" + _FISCAL + r"?" + _YY + r"\b", re.IGNORECASE),
    re.compile(r"\b(?P<n>[12])H\s*" + _FISCAL + r"?" + _YY + r"\b", re.IGNORECASE),
    re.compile(
        r"\b(?P<ord>first|second|1st|2nd)\s+half\s+(?:of\s+)?(?:the\s+)?" + _FISCAL + r"?" + _YY + r"\b",
        re.IGNORECASE,
    ),
)
_CALENDAR = re.compile(r"\b(?:CY\s*|calendar\s+(?:year\s+)?)" + _YEAR + r"\b", re.IGNORECASE)
_FISCAL_YEAR = re.compile(r"\b(?:FY\s*|fiscal\s+(?:years?\s+)?)" + _YY + r"\b", re.IGNORECASE)
_BARE_YEAR = re.compile(_NOT_NUM_BEFORE + _YEAR + _NOT_NUM_AFTER)


@dataclass(frozen=True)
class Period:
    """A span of time named in text, bounded by every day it can stand for.

    Attributes:
        label: A normalised label: ``FY2022``, ``Q3 FY2023``, ``H1 2023``, ``2022-12-31``,
            ``3 months to 2023-09-30``, ``2023-06`` (a month), ``CY2022``, ``2022`` (a bare year).
        year: The year the label names (for an exact span, the year it ends in).
        earliest: The first day the period can begin on under any reading of its label.
        latest: The last day the period can end on under any reading of its label.
        exact: True when the text fixes the days (a date, a month, "three months ended ...").
    """

    label: str
    year: int
    earliest: date
    latest: date
    exact: bool = False

    def overlaps(self, start: date, end: date) -> bool:
        """Whether some reading of this period shares a day with ``start``..``end``."""
        return self.earliest <= end and start <= self.latest


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _year(text: str) -> int:
    value = int(text.lstrip("'"))
    if value >= 100:
        return value
    return 2000 + value if value < 70 else 1900 + value


def fiscal_year(year: int) -> Period:
    """A fiscal year label: it may end on any day from January 1 of ``year`` to February of the next.

    Retailers end fiscal years in late January or early February, and some name the year by the
    calendar year it starts in ("fiscal 2022" ending January 28, 2023), hence the window.
    """
    return Period(f"FY{year}", year, date(year - 1, 1, 1), _end_of_month(year + 1, 2))


def fiscal_part(year: int, n: int, months: int) -> Period:
    """Quarter (``months=3``) or half (``months=6``) ``n`` of fiscal ``year``, read leniently."""
    whole = fiscal_year(year)
    parts = 12 // months
    earliest = _add_months(whole.earliest, months * (n - 1))
    latest = _add_months(whole.latest, -months * (parts - n))
    label = f"Q{n} FY{year}" if months == 3 else f"H{n} FY{year}"
    return Period(label, year, earliest, _end_of_month(latest.year, latest.month))


def _end_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def span_ended(end: date, months: int) -> Period:
    """The ``months`` months ending on ``end`` (the day after the end ``months`` months earlier)."""
    start = date.fromordinal(_add_months(end, -months).toordinal() + 1)
    return Period(f"{months} months to {end.isoformat()}", end.year, start, end, exact=True)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _ended(m: re.Match[str]) -> Iterator[Period]:
    span = m.group("span").lower()
    months = next((v for k, v in _SPAN_MONTHS.items() if span.startswith(k)), 0)
    if "week" in span:  # 13, 26, 39 or 52-53 weeks: a retailer's quarter, half, three quarters or year
        months = min(12, round(int(span[:2]) / 13) * 3)
    months = months or (3 if "quarter" in span else 6 if ("half" in span or "six" in span) else 12)
    month, day = _MONTHS[m.group("month").lower()], int(m.group("day"))
    years = [int(m.group("year")), *(int(y) for y in re.findall(r"(?:19|20)\d{2}", m.group("more") or ""))]
    for year in years:
        end = _safe_date(year, month, day)
        if end is not None:
            yield span_ended(end, months)


def _day(m: re.Match[str]) -> Iterator[Period]:
    month = m.group("month")
    number = int(month) if month.isdigit() else _MONTHS[month.lower()]
    day = _safe_date(int(m.group("year")), number, int(m.group("day")))
    if day is not None:
        yield Period(day.isoformat(), day.year, day, day, exact=True)


def _month(m: re.Match[str]) -> Iterator[Period]:
    year, month = int(m.group("year")), _MONTHS[m.group("month").lower()]
    yield Period(f"{year}-{month:02d}", year, date(year, month, 1), _end_of_month(year, month), exact=True)


def _part_of_year(m: re.Match[str]) -> tuple[int, int]:
    groups = m.groupdict()
    n = int(groups["n"]) if groups.get("n") else _ORDINALS[groups["ord"].lower()]
    return _year(groups.get("year") or groups["year4"]), n


def _quarter(m: re.Match[str]) -> Iterator[Period]:
    year, n = _part_of_year(m)
    yield fiscal_part(year, n, 3)


def _half(m: re.Match[str]) -> Iterator[Period]:
    year, n = _part_of_year(m)
    yield fiscal_part(year, n, 6)


def _calendar(m: re.Match[str]) -> Iterator[Period]:
    year = int(m.group("year"))
    yield Period(f"CY{year}", year, date(year, 1, 1), date(year, 12, 31), exact=True)


def _loose_year(m: re.Match[str]) -> Iterator[Period]:
    yield fiscal_year(_year(m.group("year")))


def _bare_year(m: re.Match[str]) -> Iterator[Period]:
    """A year on its own ("in 2022"): a calendar or a fiscal year, so read like a fiscal one."""
    year = int(m.group("year"))
    whole = fiscal_year(year)
    yield Period(str(year), year, whole.earliest, whole.latest)


# Most specific first: a later pattern never reads text an earlier one matched.
_RULES = (
    (_ENDED, _ended),
    (_ENDED_YEAR, _loose_year),
    (_DAY, _day),
    (_DAY_FIRST, _day),
    (_ISO_DAY, _day),
    *((q, _quarter) for q in _QUARTER),
    *((h, _half) for h in _HALF),
    (_MONTH_YEAR, _month),
    (_CALENDAR, _calendar),
    (_FISCAL_YEAR, _loose_year),
    (_BARE_YEAR, _bare_year),
)


def find_periods(text: str) -> list[tuple[tuple[int, int], Period]]:
    """Every period ``text`` names with the character span naming it, in reading order."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[tuple[int, int], Period]] = []
    for pattern, read in _RULES:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            periods = list(read(m))
            if periods:
                taken.append(m.span())
                found.extend((m.span(), p) for p in periods)
    return sorted(found, key=lambda item: item[0])


def parse_periods(text: str) -> list[Period]:
    """Every period ``text`` names, in reading order, each once.

    >>> [p.label for p in parse_periods("Q3 FY23 vs the third quarter of 2022")]
    ['Q3 FY2023', 'Q3 FY2022']
    """
    ordered: list[Period] = []
    for _, period in find_periods(text):
        if period not in ordered:
            ordered.append(period)
    return ordered


_ENDED_WORD = re.compile(r"\bend(?:ed|ing)\b", re.IGNORECASE)
_LOOK_BACK, _LOOK_AHEAD = 40, 40  # "three months " before "ended", "December 31, 2022, 2021 and 2020" after


def reported_through(text: str) -> date | None:
    """The latest day a "... ended <date>" period of ``text`` ends on (None when it names none).

    Only periods that have ended count: a filing reports on them. Dates a filing merely mentions
    (notes due 2030, a plan for 2025) do not extend what it reports on. Only the text around each
    "ended" is matched, so a whole filing is read in milliseconds.
    """
    latest: date | None = None
    for word in _ENDED_WORD.finditer(text):
        if word.group(0).lower() == "ending":  # "the fiscal year ending September 30, 2024" lies ahead
            continue
        window = text[max(0, word.start() - _LOOK_BACK) : word.end() + _LOOK_AHEAD]
        for m in _ENDED.finditer(window):
            for period in _ended(m):
                latest = period.latest if latest is None else max(latest, period.latest)
    return latest


# A filing's cover: "For the fiscal year ended December 31, 2022", "For the quarterly period ended
# March 31, 2021"; an 8-K's "Date of Report (Date of earliest event reported): May 18, 2022".
_COVER = re.compile(
    r"\bfor\s+the\s+(?:fiscal\s+year|quarterly\s+period|transition\s+period|(?:fiscal\s+)?quarter|year)"
    r"\s+ended\s+" + _MONTH + r"\s+(?P<day>\d{1,2}),?\s+" + _YEAR,
    re.IGNORECASE,
)
_REPORT_DATE = re.compile(
    r"\bdate\s+of\s+report\b[^0-9]{0,80}?" + _MONTH + r"\s+(?P<day>\d{1,2}),?\s+" + _YEAR, re.IGNORECASE
)


def cover_period_end(text: str) -> date | None:
    """The period a filing's cover says it reports on ("For the fiscal year ended ..."), or None.

    A filing's tables also head future columns "Year Ended December 31, 2025" (maturities,
    vesting schedules), so its cover, where there is one, is the better word on what it covers.
    """
    for pattern in (_COVER, _REPORT_DATE):
        m = pattern.search(text)
        if m is not None:
            return _safe_date(int(m.group("year")), _MONTHS[m.group("month").lower()], int(m.group("day")))
    return None


_YEAR_ONLY = re.compile(_NOT_NUM_BEFORE + _YEAR + _NOT_NUM_AFTER)
_SHORT_YEAR = re.compile(r"\b(?:FY|Q[1-4]|[1-4]Q|H[12]|[12]H)\s*'?(?P<short>\d{2})\b", re.IGNORECASE)


def mentioned_years(text: str) -> set[int]:
    """Every year ``text`` names: ``2022``, ``FY22``, ``Q3'23``, ``1H23`` (figures such as $2,022 excluded)."""
    years = {int(m.group("year")) for m in _YEAR_ONLY.finditer(text)}
    years |= {_year(m.group("short")) for m in _SHORT_YEAR.finditer(text)}
    return years
