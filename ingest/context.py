"""Contextual chunk headers: what a chunk is part of, prepended to the text that is embedded.

A row of a table ("Purchases of property, plant and equipment (1,577) (1,373)") does not say
whose table it is, for which year, or which statement it belongs to; its vector cannot match
"3M's FY2018 capital expenditure from the cash flow statement". The header gives it that
context in a few words: the document (registrant or file name, form, the year its period ends)
and the page's heading (its first lines, where a statement's name stands) or, for documents
with headings, the chunk's heading path. Only the embedded text gets the header: the stored
chunk text, BM25 and citations stay the document's own words.

The header is capped in words, and dropped for a chunk that would then exceed the embedder's
window (the window guarantee of ``ingest.chunking`` must hold for what is embedded).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import PurePath

from ingest.base import LoadedDocument, TextBlock
from retrieval.base import Chunk
from retrieval.targeting import document_facts

HEADING_WORDS = 16
HEADER_WORDS = 40
_REGISTRANT = re.compile(r"\(\s*exact\s+name\s+of\s+registrant", re.IGNORECASE)
_TRIVIAL = re.compile(r"^(?:table\s+of\s+contents|index|page\s*\d*|[\divxlc.\-\s]*)$", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]{2,}")


def page_headings(blocks: Sequence[TextBlock], words: int = HEADING_WORDS) -> dict[int, str]:
    """Each page's heading: its first two lines with at least two words (page numbers and
    "Table of Contents" links skipped), at most ``words`` words."""
    out: dict[int, str] = {}
    for block in blocks:
        if block.page is None or block.page in out:
            continue
        kept: list[str] = []
        for line in block.text.splitlines()[:8]:
            line = line.strip()
            if len(_WORD.findall(line)) < 2 or _TRIVIAL.match(line):
                continue
            kept.append(line)
            if len(kept) == 2:
                break
        out[block.page] = " ".join(" ".join(kept).split()[:words])
    return out


def registrant(first_page: str) -> str:
    """The company named on an SEC cover page: the line before "(Exact name of registrant ...)"."""
    lines = [line.strip() for line in first_page.splitlines()]
    for i, line in enumerate(lines):
        if _REGISTRANT.search(line):
            before = _REGISTRANT.split(line)[0].strip()
            if len(_WORD.findall(before)) >= 1:
                return before
            previous = [p for p in lines[max(0, i - 3) : i] if _WORD.search(p)]
            return previous[-1] if previous else ""
    return ""


def document_label(doc: LoadedDocument, file_name: str) -> str:
    """Who and what a document is: registrant (else title, else file name), form and period."""
    first = "\n".join(b.text for b in doc.blocks[:2])
    stem = " ".join(re.split(r"[_\s]+", PurePath(file_name).stem)).strip()
    name = registrant(first)
    title = doc.title.strip() if doc.title and len(doc.title.split()) <= 12 else ""
    parts = [name or title or stem]
    if stem and stem.casefold() not in parts[0].casefold():
        parts.append(stem)
    facts = document_facts(first[:4000], file_name)
    if facts.form:
        parts.append(f"Form {facts.form}")
    if facts.year:
        parts.append(f"period ending {facts.year}" + (f" Q{facts.quarter}" if facts.quarter else ""))
    return ", ".join(p for p in parts if p)


class ContextualHeaders:
    """Builds the embedded text of each child chunk of one document.

    Args:
        doc: The loaded document (its blocks give the page headings and the cover page).
        file_name: The file's name (a fallback for the document's name, and its year or form).
        count_tokens: The embedder's token counter (special tokens included).
        max_tokens: The embedder's window; a chunk whose header would not fit is embedded bare.
    """

    def __init__(
        self,
        doc: LoadedDocument,
        file_name: str,
        *,
        count_tokens: Callable[[str], int],
        max_tokens: int,
    ) -> None:
        self.label = document_label(doc, file_name)
        self.headings = page_headings(doc.blocks)
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self._sizes: dict[str, int] = {}

    def header(self, chunk: Chunk) -> str:
        """The header of ``chunk``: the document label and its page heading or heading path."""
        where = self.headings.get(chunk.page_start, "") if chunk.page_start is not None else ""
        where = where or chunk.section.replace(" > ", ", ")
        words = f"{self.label}. {where}".strip(". ").split()
        return " ".join(words[:HEADER_WORDS])

    def text(self, chunk: Chunk) -> str:
        """What to embed for ``chunk``: header and text, or the text alone when both would not fit."""
        head = self.header(chunk)
        if not head:
            return chunk.text
        if head not in self._sizes:
            self._sizes[head] = self.count_tokens(head)
        if chunk.n_tokens + self._sizes[head] > self.max_tokens:
            return chunk.text
        return f"{head}\n{chunk.text}"
