"""Claim checks: an answer sentence's figures, dates, years and names must be in the source it cites.

A sentence ``"Revenue was $13.5 billion in fiscal 2024 [1]."`` is *supported* when source 1 holds a
figure that rounds to 13.5 billion (``13,507`` in a table "in millions" does), the year 2024 and
every capitalised name the sentence uses. Comparison is normalised, not textual:

- figures: scale words (thousand, million, billion, trillion) are applied; a bare source number
  may also stand for thousands or millions (the unit sits in the table heading, not beside the
  number); ``(1,234)`` and ``-1,234`` are the same amount; two figures agree when they are equal
  within the rounding of the less precise one (``13.5 billion`` = ``13,507 million``);
  percentages are figures too;
- dates: ``July 30, 2023`` needs the month and day as a date in the source, and the year;
- years (1900-2100, written bare) must occur in the source;
- names: capitalised words must occur in the source, the question or the source's file name
  (the sentence's first word only when it looks like a name: possessive, acronym, camel-cased, or
  followed by another capitalised word).

A sentence with nothing checkable is supported when it cites a source; an uncited sentence never is.
:func:`best_support` finds the source sentence that best says what a failing sentence tried to
say, for the strict mode that shows that sentence instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.base import Hit
from retrieval.retrievers.compression import split_sentences

_CITE = re.compile(r"\s*\[(\d+)\]")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9$])|(?<=\])\s+(?=[\"'(]?[A-Z0-9$])")
_MONTHS = {
    m[:3]: i
    for i, m in enumerate(
        ["january", "february", "march", "april", "may", "june", "july", "august", "september",
         "october", "november", "december"], start=1)
}  # fmt: skip
_MONTH = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE = re.compile(
    rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+((?:19|20)\d{{2}})\b)?", re.IGNORECASE
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/((?:19|20)?\d{2})\b")
_NUMBER = re.compile(
    r"(?<![\w.,])(\()?([-\u2212])?\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\)?"
    r"(?:\s*(%|percent\b|pts\b))?(?:\s*(thousand|million|billion|trillion|bn|mn)\b)?",
    re.IGNORECASE,
)
_SCALES = {"thousand": 1e3, "million": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z&'\u2019-]*[A-Za-z]|\b[A-Z]{2,}\b")
_WORDS = re.compile(r"[a-z0-9&]+")
# Words capitalised for grammar, not because they name something.
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "in",
        "on",
        "of",
        "for",
        "to",
        "and",
        "or",
        "but",
        "as",
        "at",
        "by",
        "from",
        "with",
        "our",
        "we",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "their",
        "there",
        "he",
        "she",
        "they",
        "his",
        "her",
        "during",
        "total",
        "net",
        "fiscal",
        "quarter",
        "year",
        "years",
        "second",
        "first",
        "third",
        "fourth",
        "q1",
        "q2",
        "q3",
        "q4",
        "i",
        "no",
        "yes",
        "not",
    ]
)


@dataclass(frozen=True)
class Figure:
    """One number of a text: what was written, its value(s) and how precisely it was written."""

    raw: str
    values: tuple[float, ...]
    tolerance: float
    year: bool = False


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one answer sentence.

    Attributes:
        sentence: The sentence as the answer has it (citations included).
        sources: The source numbers it cites.
        supported: Every checkable part was found in a cited source.
        missing: What was not found (figures, dates, years, names), or why it cannot be checked.
        replacement: In strict mode, the source sentence shown instead of an unsupported one.
    """

    sentence: str
    sources: tuple[int, ...]
    supported: bool
    missing: tuple[str, ...] = ()
    replacement: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "sentence": self.sentence,
            "sources": list(self.sources),
            "supported": self.supported,
            "missing": list(self.missing),
            "replacement": self.replacement,
        }


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer, each keeping the citations written right after it.

    ``"A rose [1]. B fell. [2] C"`` gives ``["A rose [1].", "B fell. [2]", "C"]``: a citation
    that follows a full stop belongs to the sentence before it.
    """
    pieces = [p.strip() for p in _SPLIT.split(" ".join(text.split())) if p.strip()]
    out: list[str] = []
    for piece in pieces:
        lead = re.match(r"(?:\[\d+\]\s*)+", piece)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end() :].strip()
        if piece:
            out.append(piece)
    return out


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """The ``[n]`` numbers of ``sentence``, in order, without repeats."""
    return tuple(dict.fromkeys(int(n) for n in _CITE.findall(sentence)))


def _dates(text: str) -> tuple[list[tuple[int, int, int | None]], str]:
    """(month, day, year or None) of each date in ``text``, and the text with the dates blanked."""
    found: list[tuple[int, int, int | None]] = []

    def named(m: re.Match[str]) -> str:
        day = int(m.group(2))
        if not 1 <= day <= 31:
            return m.group(0)
        found.append((_MONTHS[m.group(1).lower()[:3]], day, int(m.group(3)) if m.group(3) else None))
        return " "

    def numeric(m: re.Match[str]) -> str:
        year = int(m.group(3))
        found.append((int(m.group(1)), int(m.group(2)), year + 2000 if year < 100 else year))
        return " "

    text = _NUMERIC_DATE.sub(numeric, _DATE.sub(named, text))
    return found, text


def figures(text: str, *, source: bool = False) -> list[Figure]:
    """The numbers of ``text`` (dates left out) with the values they may stand for.

    With ``source`` a bare number also reads as thousands and millions (table units).
    """
    _, text = _dates(_CITE.sub(" ", text))
    out = []
    for m in _NUMBER.finditer(text):
        whole, frac = m.group(3), m.group(4) or ""
        percent, scale_word = m.group(5), (m.group(6) or "").lower()
        value = float(whole.replace(",", "") + frac)
        decimals = len(frac) - 1 if frac else 0
        bare = not (frac or percent or scale_word or "," in whole or "$" in m.group(0))
        if bare and len(whole) == 4 and 1900 <= value <= 2100:
            out.append(Figure(m.group(0).strip(), (value,), 0.0, year=True))
            continue
        scale = _SCALES.get(scale_word, 1.0)
        unit = 0.5 * 10**-decimals
        values = [value * scale]
        if source and scale == 1.0 and not percent:
            values += [value * 1e3, value * 1e6]
        out.append(Figure(m.group(0).strip(), tuple(values), unit * scale))
    return out


def _agrees(claim: Figure, fact: Figure) -> bool:
    if claim.year or fact.year:
        return claim.year and fact.year and claim.values[0] == fact.values[0]
    for c in claim.values:
        for f in fact.values:
            scale = f / fact.values[0] if fact.values[0] else 1.0
            tolerance = max(claim.tolerance, fact.tolerance * scale, 1e-9 * abs(c))
            if math.isclose(c, f, abs_tol=tolerance + 1e-9):
                return True
    return False


def _names(sentence: str) -> list[str]:
    body = _CITE.sub(" ", sentence)
    names = []
    for i, m in enumerate(_CAPITALISED.finditer(body)):
        word = re.sub(r"['\u2019]s$", "", m.group(0))
        first = i == 0 and not body[: m.start()].strip(" \"'(")
        # The first word is capitalised anyway; it counts as a name only when it looks like one.
        looks_named = word != m.group(0) or word.isupper() or any(c.isupper() for c in word[1:])
        if first and not looks_named and not re.match(r"\s+[A-Z]", body[m.end() :]):
            continue
        if word.lower() in _NOT_NAMES or word.lower()[:3] in _MONTHS and word.isalpha():
            continue
        names.append(word)
    return names


def check_sentence(sentence: str, source: str, *, context: str = "") -> tuple[str, ...]:
    """What ``sentence`` states that ``source`` does not hold; empty when it is all supported.

    ``context`` (the question, the source's file name) may also supply names, never figures.
    """
    missing: list[str] = []
    claim_dates, _ = _dates(_CITE.sub(" ", sentence))
    source_dates, _ = _dates(source)
    day_months = {(m, d) for m, d, _ in source_dates}
    facts = figures(source, source=True)
    years = {f.values[0] for f in facts if f.year} | {float(y) for _, _, y in source_dates if y}
    for month, day, year in claim_dates:
        if (month, day) not in day_months:
            missing.append(f"date {month}/{day}")
        if year is not None and float(year) not in years:
            missing.append(f"year {year}")
    for claim in figures(sentence):
        if (
            claim.year
            and claim.values[0] not in years
            or not claim.year
            and not any(_agrees(claim, fact) for fact in facts)
        ):
            missing.append(claim.raw)
    words = set(_WORDS.findall(f"{source} {context}".lower()))
    for name in _names(sentence):
        if not set(_WORDS.findall(name.lower())) <= words:
            missing.append(name)
    return tuple(dict.fromkeys(missing))


def check_answer(
    text: str, sources: Sequence[str], *, context: Sequence[str] = (), refusal: str = ""
) -> list[ClaimCheck]:
    """Check every sentence of ``text`` against the sources it cites (``sources[n - 1]`` is ``[n]``).

    ``context[n - 1]`` may add names for source n (its file name, the question). A sentence equal
    to ``refusal`` is not a claim and is left out.
    """
    checks = []
    for sentence in answer_sentences(text):
        if refusal and _CITE.sub("", sentence).strip() == refusal.strip():
            continue
        cited = tuple(n for n in cited_numbers(sentence) if 1 <= n <= len(sources))
        if not cited:
            checks.append(ClaimCheck(sentence, (), False, ("cites no source",)))
            continue
        source = "\n".join(sources[n - 1] for n in cited)
        extra = " ".join(context[n - 1] for n in cited if n <= len(context))
        missing = check_sentence(sentence, source, context=extra)
        checks.append(ClaimCheck(sentence, cited, not missing, missing))
    return checks


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORDS.findall(text.lower()) if w not in _NOT_NAMES}


def best_support(sentence: str, candidates: Sequence[str]) -> str | None:
    """The candidate (a source sentence) sharing the most words and figures with ``sentence``.

    None when no candidate shares a word with it.
    """
    words = _stems(_CITE.sub(" ", sentence))
    claimed = figures(sentence)
    best, best_score = None, 0.0
    for candidate in candidates:
        score = len(words & _stems(candidate)) / (len(words) or 1)
        facts = figures(candidate, source=True)
        score += sum(1 for c in claimed if any(_agrees(c, f) for f in facts)) / (len(claimed) or 1)
        if score > best_score:
            best, best_score = candidate, score
    return best


def hit_source_text(hit: Hit) -> str:
    """What a citation of ``hit`` vouches for: the compressed context and the whole section."""
    whole = (hit.parent or hit.chunk).text
    return whole if hit.answer_text in whole else f"{hit.answer_text}\n{whole}"


def check_hits(text: str, hits: Sequence[Hit], *, question: str = "", refusal: str = "") -> list[ClaimCheck]:
    """:func:`check_answer` with ``[n]`` meaning ``hits[n - 1]``; the question and file names may supply names."""
    return check_answer(
        text,
        [hit_source_text(h) for h in hits],
        context=[f"{question} {h.chunk.file_name}" for h in hits],
        refusal=refusal,
    )


def strict_rewrite(checks: Sequence[ClaimCheck], hits: Sequence[Hit]) -> list[ClaimCheck]:
    """Replace each unsupported claim by the cited source's sentence that best says what it tried to.

    A sentence that cites nothing looks in every source. A claim with no candidate sharing a word is
    dropped (``replacement`` empty). Supported claims are kept as they are.
    """
    from retrieval.boilerplate import boilerplate_reason

    out = []
    for check in checks:
        if check.supported:
            out.append(check)
            continue
        numbers = check.sources or tuple(range(1, len(hits) + 1))
        options = [
            (n, s)
            for n in numbers
            for s in split_sentences(hit_source_text(hits[n - 1]))
            if len(s) >= 20 and boilerplate_reason(s) is None
        ]
        best = best_support(check.sentence, [s for _, s in options])
        n = next((m for m, s in options if s == best), None)
        replacement = f"{best.rstrip()} [{n}]" if best is not None else ""
        out.append(ClaimCheck(check.sentence, check.sources, False, check.missing, replacement))
    return out


def rewritten_text(checks: Sequence[ClaimCheck]) -> str:
    """The answer after :func:`strict_rewrite`: kept and replacement sentences, in order."""
    parts = [c.sentence if c.replacement is None else c.replacement for c in checks]
    return " ".join(p for p in dict.fromkeys(parts) if p)
