"""Page furniture that answers nothing: running headers, titles and table-of-contents lines.

Recognised by general properties of the text, never by a list of words from particular documents:

- shouting: mostly capital letters and mostly letters (``UNITED STATES SECURITIES AND EXCHANGE
  COMMISSION Washington, D.C. 20549``);
- leaders: runs of dots or underscores that lead the eye to a page number;
- contents lines: title-cased words ending in a bare page number, no money or percentages;
- headings: title-cased words without figures or a sentence's closing punctuation;
- running lines: a line that recurs on two or more different pages of the same document
  (:func:`repeated_lines`), such as a company name and statement title atop every page.

Table rows (a label followed by several figures) are kept: they hold the answers to most
questions about amounts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

_LEADERS = re.compile(r"(?:\.\s?){4,}|_{4,}|\u2026{2,}")
_TRAILING_PAGE = re.compile(r"\s\d{1,3}$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019&-]*")
_SMALL = frozenset(
    ["a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "vs"]
)


def _title_share(text: str) -> float:
    words = [w for w in _WORD.findall(text) if w.lower() not in _SMALL]
    return sum(w[0].isupper() for w in words) / len(words) if words else 0.0


def boilerplate_reason(text: str) -> str | None:
    """Why ``text`` (a line or sentence) is page furniture, or None when it may answer something."""
    text = " ".join(text.split())
    letters = [c for c in text if c.isalpha()]
    visible = [c for c in text if not c.isspace()]
    if not letters:
        return None if any(c.isdigit() for c in text) else "no words"
    upper = sum(c.isupper() for c in letters) / len(letters)
    if len(letters) >= 4 and upper >= 0.7 and len(letters) / len(visible) >= 0.5:
        return "capitals"
    if _LEADERS.search(text):
        return "leaders"
    title = _title_share(text)
    money = "$" in text or "%" in text
    numbers = len(re.findall(r"\d+(?:[.,]\d+)*", text))
    if _TRAILING_PAGE.search(text) and title >= 0.6 and not money and numbers <= 2:
        return "contents line"
    # "A Short History of the Institute 1." is a title the splitter cut before section "1. ...".
    text = _NEXT_SECTION_NUMBER.sub("", text)
    sentence_like = any(c.isdigit() for c in text) or text.endswith((".", "!", "?"))
    if title >= 0.8 and not sentence_like and len(_WORD.findall(text)) >= 2:
        return "heading"
    return None


_DIGITS = re.compile(r"\d+")
_NEXT_SECTION_NUMBER = re.compile(r"\s+\d{1,2}\.$")


def _norm(text: str) -> str:
    """White space folded, case folded, digit runs as ``#`` (page numbers differ line to line)."""
    return _DIGITS.sub("#", " ".join(text.split()).casefold())


def repeated_lines(pages: Iterable[tuple[str, int | None, str]], *, max_words: int = 20) -> set[str]:
    """Lines (normalised: case and white space folded, digit runs as ``#``) on 2+ pages of one document.

    ``Apple Inc. | Q2 2023 Form 10-Q | 15`` and ``... | 16`` are the same running footer.

    Args:
        pages: ``(document, page, text)`` triples, such as the parents of retrieved hits. ``page``
            is the one page the text lies on; text without one (unknown, or spanning pages) is
            not counted, since the same line in two overlapping chunks is not on two pages.
        max_words: Longer lines are prose that happens to repeat, not furniture.
    """
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for document, page, text in pages:
        if page is None:
            continue
        for line in text.splitlines():
            norm = _norm(line)
            if norm and len(norm.split()) <= max_words and any(c.isalpha() for c in norm):
                seen[(document, norm)].add(page)
    return {line for (_, line), where in seen.items() if len(where) >= 2}


def _pattern(line: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in line.split("#")]
    return re.compile(r"\d+".join(parts).replace(r"\ ", r"\s+") + r"(?![\w])", re.IGNORECASE)


_LEADING_CAPITALS = re.compile(r"^(?:[\d.,()]+\s+)*(?:[A-Z][A-Z0-9&'\u2019.,-]*\s+){3,}(?=\S)")


def strip_repeated(sentence: str, repeated: set[str]) -> str:
    """``sentence`` without page furniture at its start: running lines (:func:`repeated_lines`) and
    a run of three or more all-capital words (a statement title glued to the text after it)."""
    text = " ".join(sentence.split())
    patterns = [_pattern(line) for line in sorted(repeated, key=len, reverse=True)]
    changed = True
    while changed and text:
        changed = False
        for pattern in patterns:
            m = pattern.match(text)
            if m:
                text = text[m.end() :].strip()
                changed = True
                break
        m = _LEADING_CAPITALS.match(text)
        if m and text[m.end() :].strip():
            text = text[m.end() :].strip()
            changed = True
    return text
