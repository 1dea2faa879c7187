"""The refusal gate: refuse before any model runs only when the evidence cannot answer.

A small model handed five passages about the wrong company or the wrong year writes a confident
figure from them, so some questions must be refused before generation. The gate refuses for
reasons that rest on the index, never on how a question is spelled:

1. **Nothing relevant**: nothing was retrieved, or the best dense similarity is below
   ``min_relevance``.
2. **An uncovered period**: the question names a period (FY2022, Q3 FY23, the year ended
   December 31, 2022...; see ``retrieval.periods``) that the documents it is about do not cover:
   it begins after the latest period they report on (FY2030 over filings that end in 2023) and no
   retrieved passage names its year (a 10-K's table of benefit payments expected in 2024 does), or
   no such document names its year at all. "The documents it is about" are those whose names
   (file name, title, cover page) match a name in the question, else every document.
3. **An unnamed entity**: a name in the question (a company, a person, a place: a capitalised
   word or phrase that is not an acronym, or any possessive) that no retrieved passage and no
   retrieved passage's document names in any spelling ("Footlocker" finds "Foot Locker",
   "Amazon" finds "AMAZON.COM", "JPM's" finds "JPMorgan").

``unknown_terms`` is the older, literal check (any capitalised word or year the corpus vocabulary
lacks), kept as an opt-in: it refuses "FY2022" in filings that write "fiscal 2022".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.base import Hit, RetrievalResult
from retrieval.coverage import CorpusCoverage, DocumentCoverage, documents_named, name_pattern, normalize
from retrieval.periods import Period, find_periods, mentioned_years

# Words that start questions or join them: never names, even capitalised.
NOT_NAMES = frozenset({
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "is", "are", "was", "were",
    "did", "does", "do", "can", "could", "would", "should", "the", "a", "an", "and", "in", "on", "of",
    "for", "to", "tell", "list", "give", "show", "i", "it", "he", "she", "they", "we", "you", "his", "her",
    "its", "their", "this", "that", "these", "those", "also", "please", "if", "as", "by", "at", "from",
    "with", "here", "there", "let",
})  # fmt: skip
_CALENDAR_WORDS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
})  # fmt: skip
_WORD = re.compile(r"[^\W_][\w&'’.-]*")
_SENTENCE_END = re.compile(r"[.?!;:](?:\s|$)|\n")
_POSSESSIVE = re.compile(r"(?:'s|’s)$", re.IGNORECASE)  # "Companies'" arrives without its apostrophe
_ACRONYM_PLURAL = re.compile(r"(?<=[A-Z0-9])s$")
_CONNECTORS = frozenset({"of", "&", "de", "du", "van", "von", "der"})

# Names (capitalized, 4+ letters, or acronyms) and years: the literal check's words.
_KEY_TERM = re.compile(r"\b(?:[A-Z][\w&-]{3,}|(?:19|20)\d{2})\b")


@dataclass(frozen=True)
class Name:
    """A name a question relies on; ``acronym`` names (all capitals) may begin a longer word."""

    text: str
    acronym: bool = False


def unknown_terms(question: str, knows: Callable[[str], bool]) -> list[str]:
    """Capitalised words and years in ``question`` that ``knows`` (a corpus vocabulary) never saw.

    The literal check: the question's first word is skipped (often a verb such as "Summarize"), as
    are question words; possessives are stripped. It knows no spelling but the corpus's own.
    """
    missing: list[str] = []
    first = re.match(r"\W*(\w+)", question)
    for match in _KEY_TERM.finditer(question):
        term = match.group(0)
        if (first and match.start() == first.start(1)) or term.lower() in NOT_NAMES:
            continue
        if term not in missing and not knows(term):
            missing.append(term)
    return missing


def _is_capitalised(word: str) -> bool:
    return word[0].isupper() or (word[0].isdigit() and any(c.isupper() for c in word))


def _groups(sentence: str) -> list[list[str]]:
    """Runs of adjacent capitalised words (joined by "of", "&"...); the sentence's first word marked "\0".

    Punctuation between two words ends a run: "Microsoft, Apple" are two names.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    matches = list(_WORD.finditer(sentence))
    for i, m in enumerate(matches):
        word = m.group(0).rstrip(".-'’")
        if current and sentence[matches[i - 1].end() : m.start()].strip():
            groups.append(current)
            current = []
        if current and _POSSESSIVE.search(current[-1]):  # "Foot Locker's CEO": the name ends at 's
            groups.append(current)
            current = []
        bare = _POSSESSIVE.sub("", word).casefold()
        if word and _is_capitalised(word) and bare not in NOT_NAMES | _CALENDAR_WORDS:
            current.append(word if i else "\0" + word)
            continue
        following = matches[i + 1].group(0) if i + 1 < len(matches) else ""
        if current and word.casefold() in _CONNECTORS and following[:1].isupper():
            current.append(word)
            continue
        if current:
            groups.append(current)
        current = []
    if current:
        groups.append(current)
    return groups


def question_names(question: str) -> list[Name]:
    """The names ``question`` relies on, periods left out ("FY2022", "Q3" are periods, not names).

    A name is a run of capitalised words with a lower-case letter in it ("Netflix", "Foot Locker",
    "JPMorgan") or any possessive ("IBM's"). All-capital words on their own ("EBITDA", "USD",
    "DPO") are left out: analysts' abbreviations, which documents spell out. A sentence's first
    word counts only when possessive ("Tesla's revenue?"), as it is capitalised anyway.
    """
    text = question
    for (start, end), _ in find_periods(question):
        text = text[:start] + "#" * (end - start) + text[end:]
    names: list[Name] = []
    for sentence in _SENTENCE_END.split(text):
        for group in _groups(sentence):
            words = list(group)
            if words[0].startswith("\0"):
                first = words[0][1:]
                words = [first, *words[1:]] if _POSSESSIVE.search(first) else words[1:]
            while words and words[-1].casefold() in _CONNECTORS:
                words.pop()
            if not words:
                continue
            possessive = bool(_POSSESSIVE.search(words[-1]))
            words[-1] = _POSSESSIVE.sub("", words[-1]) if possessive else words[-1]
            # "10-Qs", "CEOs": an acronym's plural is still an acronym
            acronym = not any(c.islower() for w in words for c in _ACRONYM_PLURAL.sub("", w))
            name = Name(" ".join(words), acronym)
            if (possessive or not acronym) and name not in names and normalize(name.text):
                names.append(name)
    return names


def _hit_texts(hits: Sequence[Hit]) -> list[str]:
    """The retrieved passages, normalised: each child chunk with its parent section."""
    return [normalize(h.chunk.text + " " + (h.parent.text if h.parent is not None else "")) for h in hits]


def _named_texts(hits: Sequence[Hit], passages: list[str], coverage: Sequence[DocumentCoverage]) -> list[str]:
    """Each passage with its document's names: file name, title and cover page."""
    names = {d.doc_id: d.names for d in coverage}
    return [
        " ".join((text, normalize(h.chunk.file_name + " " + h.chunk.title), names.get(h.chunk.doc_id, "")))
        for h, text in zip(hits, passages, strict=True)
    ]


class RefusalGate:
    """Decides, from the retrieval result and the index's coverage, whether to refuse without a model.

    Args:
        min_relevance: Refuse when the best dense similarity of the retrieval is lower.
        coverage: The index's :class:`CorpusCoverage`; None skips the period and name checks.
        check_periods: Refuse a question about a period the documents do not cover.
        check_names: Refuse a question relying on a name no retrieved evidence carries.
        knows: The literal check's vocabulary (see :func:`unknown_terms`); None leaves it off.
    """

    def __init__(
        self,
        *,
        min_relevance: float = 0.25,
        coverage: CorpusCoverage | None = None,
        check_periods: bool = True,
        check_names: bool = True,
        knows: Callable[[str], bool] | None = None,
    ) -> None:
        self.min_relevance = min_relevance
        self.coverage = coverage
        self.check_periods = check_periods
        self.check_names = check_names
        self.knows = knows

    def reason(self, question: str, result: RetrievalResult) -> str | None:
        """Why ``question`` must be refused given ``result``; None when the evidence may answer it."""
        if not result.hits:
            return "nothing was retrieved"
        if result.best_relevance < self.min_relevance:
            return (
                f"best relevance {result.best_relevance:.3f} is below min_relevance {self.min_relevance:.3f}"
            )
        if self.knows is not None:
            missing = unknown_terms(question, self.knows)
            if missing:
                return f"the documents never mention {', '.join(repr(t) for t in missing)}"
        if self.coverage is None or not (self.check_periods or self.check_names):
            return None
        documents = self.coverage.documents()
        names = question_names(question)
        passages = _hit_texts(result.hits)
        if self.check_names:
            evidence = _named_texts(result.hits, passages, documents)
            unnamed = [n.text for n in names if not _named_in(n, evidence)]
            if unnamed:
                listed = ", ".join(repr(n) for n in unnamed)
                return f"no retrieved passage or its document names {listed}"
        if self.check_periods:
            return self._period_reason(question, names, documents, passages)
        return None

    def _period_reason(
        self, question: str, names: Sequence[Name], documents: Sequence[DocumentCoverage], evidence: list[str]
    ) -> str | None:
        about = documents_named(documents, [n.text for n in names]) or list(documents)
        which = "the documents"
        if len(about) < len(documents):
            which = "the documents about " + ", ".join(n.text for n in names)
        for _, period in find_periods(question):
            problem = uncovered(period, about, evidence)
            if problem:
                return f"{which} {problem}"
        return None


def _named_in(name: Name, evidence: Sequence[str]) -> bool:
    pattern = name_pattern(name.text, prefix=name.acronym)
    return pattern is None or any(pattern.search(text) for text in evidence)


def uncovered(period: Period, documents: Sequence[DocumentCoverage], evidence: Sequence[str]) -> str | None:
    """Why ``documents`` cannot cover ``period`` (None when they may).

    A period that begins after the latest one the documents report on is covered only when a
    retrieved passage names its year (a forecast, a maturity table); a period whose year no
    document names is not covered.
    """
    ends = [d.through for d in documents if d.through is not None]
    if ends and period.earliest > max(ends):
        if any(period.year in mentioned_years(text) for text in evidence):
            return None
        return f"report on periods up to {max(ends).isoformat()}, before {period.label}"
    if not any(period.year in d.years for d in documents):
        return f"never mention {period.year} ({period.label})"
    return None
