"""Citations in answer text: the streaming ``[n]`` filter, sentence splitting, and the
:class:`Citation` of a hit narrowed to the page its claim is on."""

from __future__ import annotations

import re

from retrieval.answer import Citation
from retrieval.base import Hit

# --- citations --------------------------------------------------------------------------------

_CITATION = re.compile(r"\s*\[\s*(?:sources?\s*)?(\d+(?:\s*,\s*\d+)*)\s*\]", re.IGNORECASE)
_MAYBE_CITATION = re.compile(r"\[[A-Za-z0-9,\s]{0,20}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9]+")


class CitationFilter:
    """Streams answer text while checking ``[n]`` citations against ``n_sources``.

    Text that might still become a citation (an open ``[``) and trailing whitespace are held back
    until the next delta settles them; valid citations pass, out-of-range ones are removed and
    recorded. ``text`` is always the concatenation of what :meth:`feed` and :meth:`flush` returned.
    """

    def __init__(self, n_sources: int) -> None:
        self._n = n_sources
        self._pending = ""
        self._parts: list[str] = []
        self.cited: list[int] = []
        self.invalid: list[int] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, delta: str) -> str:
        """Take the next model delta; return the text that is now safe to show."""
        buffer = self._pending + delta
        open_at = buffer.rfind("[")
        hold = ""
        if open_at >= 0 and _MAYBE_CITATION.fullmatch(buffer[open_at:]):
            buffer, hold = buffer[:open_at], buffer[open_at:]
        ready = self._clean(buffer)
        settled = ready.rstrip()
        self._pending = ready[len(settled) :] + hold
        return self._emit(settled)

    def flush(self) -> str:
        """End of stream: release what is held, minus trailing whitespace."""
        rest, self._pending = self._clean(self._pending).rstrip(), ""
        return self._emit(rest)

    def _emit(self, text: str) -> str:
        if not self._parts:
            text = text.lstrip()
        if text:
            self._parts.append(text)
        return text

    def _clean(self, text: str) -> str:
        return _CITATION.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= self._n]
        self.invalid.extend(n for n in numbers if n not in valid)
        self.cited.extend(n for n in valid if n not in self.cited)
        if not valid:
            return ""
        return " " + "".join(f"[{n}]" for n in valid)


def split_sentences(text: str) -> list[str]:
    """Rough sentence split that keeps numbers like 3.5 together and table rows apart.

    Lines are units first (PDF tables put one row per line); a line that starts in lower case
    continues the previous one (prose wrapped by the PDF), then sentences are split inside units.
    """
    units: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if units and line[0].islower() and not units[-1].endswith((".", "!", "?", ":")):
            units[-1] = f"{units[-1]} {line}"
        else:
            units.append(line)
    return [s.strip() for unit in units for s in _SENTENCE_END.split(unit) if s.strip()]


def stems(text: str) -> set[str]:
    # A crude stem (first four letters) so "marry" meets "married" without a stemmer.
    return {w.lower()[:4] for w in _WORD.findall(text)}


def overlap(a: str, b: str) -> float:
    """Share of ``a``'s word stems that occur in ``b``."""
    wa = stems(a)
    return len(wa & stems(b)) / (len(wa) or 1)


def make_citation(n: int, hit: Hit, claim: str = "") -> Citation:
    """Citation ``n`` for ``hit``; the snippet is the source sentence closest to ``claim``."""
    sentences = split_sentences(hit.answer_text) or [hit.answer_text]
    snippet = max(sentences, key=lambda s: overlap(claim, s)) if claim else sentences[0]
    if len(snippet) > 300:
        snippet = snippet[: snippet.rfind(" ", 0, 300) if " " in snippet[:300] else 300] + " \u2026"
    chunk = hit.chunk
    # The child's pages are narrower than the parent's; use them when the snippet is in the child.
    # Sentence splitting folds line breaks, so compare with white space folded on both sides.
    in_child = " ".join(snippet.split())[:80] in " ".join(chunk.text.split())
    pages_of = chunk if hit.parent is None or in_child else hit.parent
    return Citation(
        n=n,
        chunk_id=chunk.id,
        source=chunk.source,
        file_name=chunk.file_name,
        page_start=pages_of.page_start,
        page_end=pages_of.page_end,
        snippet=snippet,
        file_type=chunk.file_type,
        section=pages_of.section,
        ocr=pages_of.ocr,
    )


def sentences_citing(text: str, n: int) -> str:
    """The answer sentences that cite ``[n]``."""
    return " ".join(s for s in split_sentences(text) if f"[{n}]" in s)
