"""What the indexed documents cover: the periods they report on, the years and names they mention.

The refusal gate (``retrieval.refusal``) asks two questions of the index that no single retrieved
chunk can answer: "does any document report on FY2030?" and "which documents are about Netflix?".
:class:`CorpusCoverage` answers both from the stored chunks, one :class:`DocumentCoverage` per
document: its name text (file name, title, opening words; a filing's cover page names the company),
the latest day a "... ended <date>" period of its text ends on, and every year it names in any
spelling. Coverage is built on first use and rebuilt for a document only when the docstore's
generation says something changed, so a question costs a dictionary lookup.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

from retrieval.periods import cover_period_end, mentioned_years, reported_through

logger = logging.getLogger(__name__)

NAME_WORDS = 150
"""Opening words of a document that count as its name text (a filing's cover page)."""
COVER_CHARS = 6000
"""Opening characters searched for a filing's cover statement ("For the fiscal year ended ...")."""


def normalize(text: str) -> str:
    """Lower-case ``text`` with every run of non-alphanumerics as one space ("AMAZON.COM" -> "amazon com")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def name_pattern(name: str, *, prefix: bool = False) -> re.Pattern[str] | None:
    """A pattern finding ``name`` in :func:`normalize`-d text in any spacing and case.

    "Foot Locker", "Footlocker" and "FOOT LOCKER" all find one another, "Amazon" finds
    "amazon com" and "Kraft Heinz" finds a file stem "kraftheinz". With ``prefix`` the name may
    start a longer word: the ticker-like "JPM" finds "jpmorgan". None for a name with no letters.
    """
    squashed = normalize(name).replace(" ", "")
    if not squashed or not any(c.isalpha() for c in squashed):
        return None
    body = r"\s?".join(re.escape(c) for c in squashed)
    return re.compile(r"(?<!\w)" + body + ("" if prefix else r"(?!\w)"))


@dataclass(frozen=True)
class DocumentCoverage:
    """What one document covers.

    Attributes:
        doc_id: The document.
        file_name: Its file name.
        names: Its name text, normalised: file stem, title and opening words.
        through: The last day of the period it reports on: its cover's ("For the fiscal year ended
            ..."), else the latest "... ended <date>" in its text; None if neither.
        years: Every year its text names, in any spelling.
    """

    doc_id: str
    file_name: str
    names: str
    through: date | None
    years: frozenset[int]

    def named(self, pattern: re.Pattern[str]) -> bool:
        """Whether the document's name text matches ``pattern`` (see :func:`name_pattern`)."""
        return pattern.search(self.names) is not None


def document_coverage(doc_id: str, file_name: str, title: str, texts: Iterable[str]) -> DocumentCoverage:
    """Coverage of a document from its chunk texts in reading order.

    ``through`` is the period its cover states when it has one (a filing), else the latest
    "... ended <date>" period anywhere in it.
    """
    head: list[str] = []
    opening = ""
    through: date | None = None
    years: set[int] = set()
    for text in texts:
        if len(head) < NAME_WORDS:
            head.extend(text.split()[: NAME_WORDS - len(head)])
        if len(opening) < COVER_CHARS:
            opening += text[: COVER_CHARS - len(opening)] + "\n"
        ended = reported_through(text)
        if ended is not None and (through is None or ended > through):
            through = ended
        years |= mentioned_years(text)
    names = normalize(" ".join((PurePath(file_name).stem, title, " ".join(head))))
    through = cover_period_end(opening) or through
    return DocumentCoverage(doc_id, file_name, names, through, frozenset(years))


class CorpusCoverage:
    """Coverage of every document of an index, kept in step with the docstore.

    Args:
        docstore: The ``SQLiteDocStore`` (``generation``, ``documents()``, ``iter_chunks``).
    """

    def __init__(self, docstore: Any) -> None:
        self.docstore = docstore
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._documents: dict[str, DocumentCoverage] = {}
        self._hashes: dict[str, str] = {}

    def documents(self) -> list[DocumentCoverage]:
        """Coverage of every live document (built or refreshed as needed)."""
        with self._lock:
            generation = self.docstore.generation
            if generation != self._generation:
                self._refresh()
                self._generation = generation
            return list(self._documents.values())

    def document(self, doc_id: str) -> DocumentCoverage | None:
        """Coverage of one document, or None when it is not indexed."""
        return next((d for d in self.documents() if d.doc_id == doc_id), None)

    def _refresh(self) -> None:
        records = {r.doc_id: r for r in self.docstore.documents()}
        for gone in set(self._documents) - set(records):
            del self._documents[gone], self._hashes[gone]
        for doc_id, record in records.items():
            if self._hashes.get(doc_id) == record.content_hash and doc_id in self._documents:
                continue
            # Parent sections hold the text once (children overlap); an index without them has children.
            texts = [c.text for c in self.docstore.iter_chunks("parent", doc_id=doc_id)]
            texts = texts or [c.text for c in self.docstore.iter_chunks("child", doc_id=doc_id)]
            self._documents[doc_id] = document_coverage(doc_id, record.file_name, record.title, texts)
            self._hashes[doc_id] = record.content_hash
        logger.debug("coverage refreshed documents=%d", len(self._documents))


def documents_named(documents: Sequence[DocumentCoverage], names: Sequence[str]) -> list[DocumentCoverage]:
    """The documents whose name text matches one of ``names`` (a question's companies, say)."""
    patterns = [p for p in (name_pattern(n) for n in names) if p is not None]
    return [d for d in documents if any(d.named(p) for p in patterns)]
