"""Clean extracted text so every loader hands the chunker the same kind of string.

The rules, in order: unify line breaks; Unicode NFKC (this also unfolds ligatures such as
"ﬁ" and full-width forms); drop soft hyphens, zero-width characters, byte-order marks, and
control characters except newline and tab; collapse runs of spaces; strip spaces and tabs at
both ends of each line; re-join words split across a line end ("infor-\\nmation" becomes
"information", while "state-of-the-\\nart" keeps its hyphen); keep paragraph breaks but at
most one blank line in a row; strip the whole text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text"]

# Line separators that are not "\n": CRLF and CR, vertical tab, form feed (a page break in
# extracted PDF text), NEL, and the Unicode line and paragraph separators.
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# Invisible characters that only get in the way of search: soft hyphen, zero-width space,
# word joiner, byte-order mark (zero-width no-break space).
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
# Control characters (Unicode category Cc) except tab and newline, and lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Any whitespace except newline and tab (NFKC already turned NBSP and friends into spaces).
_SPACE_RUN = re.compile(r"[^\S\n\t]+")
_LINE_EDGES = re.compile(r"^[ \t]+|[ \t]+$", re.MULTILINE)
# A hyphen (ASCII or U+2010) at the very end of a line, between word characters.
_SPLIT_WORD = re.compile(r"(?<=\w)[-\u2010]\n(?=\w)")
_HEAD_LOOKBACK = 100  # characters inspected before the hyphen; a longer "word" is not a word
_BLANK_LINES = re.compile(r"\n{3,}")
_LEADING_PUNCT = re.compile(r"^[^\w]+")


def normalize_text(text: str) -> str:
    """Return ``text`` cleaned for indexing (see the module docstring for the exact rules).

    Args:
        text: Raw text from a loader.

    Returns:
        The normalized text; an empty string when nothing printable is left.
    """
    if not text:
        return ""
    text = _LINE_BREAKS.sub("\n", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_INVISIBLE)
    text = _CONTROL.sub("", text)
    text = _SPACE_RUN.sub(" ", text)
    text = _LINE_EDGES.sub("", text)
    text = _SPLIT_WORD.sub(_join_split_word, text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _join_split_word(match: re.Match[str]) -> str:
    """Join a word broken at a line end; drop the hyphen only when it was a line-break hyphen.

    The hyphen is treated as a typesetting artefact when the part before it is a plain
    alphabetic word and the part after starts in lower case ("infor-" + "mation"). A compound
    that already contains a hyphen ("state-of-the-" + "art"), a number ("1990-" + "1995") or a
    capitalised continuation ("Anglo-" + "Saxon") keeps its hyphen.
    """
    text, start = match.string, match.start()
    head = text[max(0, start - _HEAD_LOOKBACK) : start].split()[-1]
    following = text[match.end()]
    if _LEADING_PUNCT.sub("", head).isalpha() and following.islower():
        return ""
    return "-"
