"""What the answer chain yields: the :class:`Answer` with its :class:`Citation` list, and the
stream events (:class:`Retrieved`, then :class:`TextDelta` pieces, then :class:`Done`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from retrieval.base import Hit
from retrieval.claims import ClaimCheck
from retrieval.locations import location_label

AnswerMode = Literal["llm", "extractive"]
Turn = tuple[str, str]
"""One earlier exchange: (question, answer text)."""


@dataclass(frozen=True)
class Citation:
    """A source the answer cites as ``[n]``, mapped to its file, pages and supporting snippet."""

    n: int
    chunk_id: str
    source: str
    file_name: str
    page_start: int | None
    page_end: int | None
    snippet: str
    file_type: str = ""
    section: str = ""
    ocr: bool = False

    def location(self) -> str:
        """Where in the file: ``"p. 3"``, ``"slide 2"``, ``"sheet S, rows 2-9"``, ``"chapter 4"``, ``"message"``."""
        return location_label(self.file_type, self.page_start, self.page_end, self.section, ocr=self.ocr)

    def label(self) -> str:
        """``"report.pdf p. 3"``-style reference (``"deck.pptx slide 2"``, ``"book.xlsx sheet S, rows 2-9"``)."""
        location = self.location()
        return f"{self.file_name} {location}" if location else self.file_name


@dataclass(frozen=True)
class Answer:
    """The chain's result for one question.

    ``citations`` are the sources the text actually cites. When it cites none, ``flagged`` is set
    and ``consulted`` lists the top sources the model was given, so a reader can still check them.
    ``hits[n - 1]`` is the hit behind citation ``n``. ``claims`` holds the claim check of each
    answer sentence (:mod:`retrieval.claims`); ``supported`` is False when any cited claim failed.
    """

    question: str
    standalone_question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    refused: bool
    flagged: bool
    mode: AnswerMode
    notes: tuple[str, ...] = ()
    filter: dict[str, Any] | None = None
    consulted: tuple[Citation, ...] = ()
    claims: tuple[ClaimCheck, ...] = ()

    @property
    def supported(self) -> bool:
        """Every checked sentence holds up against the source it cites."""
        return all(c.supported for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (hits reduced to chunk id, file, pages and score)."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "citations": [{**asdict(c), "location": c.location()} for c in self.citations],
            "consulted": [{**asdict(c), "location": c.location()} for c in self.consulted],
            "refused": self.refused,
            "flagged": self.flagged,
            "mode": self.mode,
            "notes": list(self.notes),
            "filter": self.filter,
            "hits": [_hit_summary(h) for h in self.hits],
            "claims": [c.to_dict() for c in self.claims],
            "supported": self.supported,
        }


@dataclass(frozen=True)
class Retrieved:
    """Stream event: retrieval finished (sent before any answer text)."""

    standalone_question: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class TextDelta:
    """Stream event: the next piece of the answer text."""

    text: str


@dataclass(frozen=True)
class Done:
    """Stream event: the final, validated answer (always the last event)."""

    answer: Answer


ChainEvent = Retrieved | TextDelta | Done


def _hit_summary(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "chunk_id": chunk.id,
        "file_name": chunk.file_name,
        "source": chunk.source,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "score": hit.score,
    }
