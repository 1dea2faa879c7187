"""Core retrieval types: chunks, hits and the embedder protocol.

Every package that handles text pieces (ingest, retrieval, graph, app) speaks in these types.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from langchain_core.documents import Document


class RetrievalError(Exception):
    """Base class for retrieval failures."""


class EmbeddingError(RetrievalError):
    """The embedder could not be loaded or failed on input."""


class VectorStoreError(RetrievalError):
    """The vector store or its docstore is missing, unreadable or inconsistent."""


ChunkKind = Literal["child", "parent"]


@dataclass(frozen=True)
class Chunk:
    """A piece of a document.

    Child chunks are small, embedded and searched; parent chunks are the larger sections the
    answer step receives. A child's ``parent_id`` names its parent; a parent's is ``None``.
    """

    id: str
    doc_id: str
    text: str
    source: str
    file_name: str
    file_type: str
    page_start: int | None = None
    page_end: int | None = None
    section: str = ""
    chunk_index: int = 0
    parent_id: str | None = None
    content_hash: str = ""
    title: str = ""
    created: str | None = None
    modified: str | None = None
    kind: ChunkKind = "child"
    n_tokens: int = 0
    ocr: bool = False  # text recognised from a page image (no text layer), not read from one

    def metadata(self) -> dict[str, Any]:
        """All fields but the text, as a flat dict (the LangChain ``Document.metadata``)."""
        data = asdict(self)
        data.pop("text")
        return data

    def to_document(self, **extra: Any) -> Document:
        """This chunk as a LangChain Document; ``extra`` is merged into the metadata."""
        meta = self.metadata()
        meta.update(extra)
        return Document(page_content=self.text, metadata=meta, id=self.id)

    @classmethod
    def from_metadata(cls, text: str, metadata: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from ``text`` and a metadata dict made by :meth:`metadata`."""
        known = {k: metadata[k] for k in cls.__dataclass_fields__ if k in metadata and k != "text"}
        return cls(text=text, **known)

    def location_label(self) -> str:
        """Where the chunk sits, as its document counts: ``"p. 3"``, ``"slide 2"``, ``"sheet S, rows 2-9"``,
        ``"chapter 4"``, ``"message"`` (with ``" (OCR)"`` for recognised text; ``""`` when unknown)."""
        from retrieval.locations import location_label

        return location_label(self.file_type, self.page_start, self.page_end, self.section, ocr=self.ocr)

    def page_label(self) -> str:
        """Human form of the page span: ``"p. 3"``, ``"pp. 3-4"`` or ``""`` when unpaged."""
        if self.page_start is None:
            return ""
        if self.page_end is None or self.page_end == self.page_start:
            return f"p. {self.page_start}"
        return f"pp. {self.page_start}-{self.page_end}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score and where the score came from.

    ``provenance`` maps a retriever name (``dense``, ``bm25``, ``graph``...) to that retriever's
    rank (1-based) and raw score for this chunk.
    """

    chunk: Chunk
    score: float
    provenance: dict[str, dict[str, float]] = field(default_factory=dict)
    parent: Chunk | None = None
    context: str = ""

    @property
    def answer_text(self) -> str:
        """What the answer step reads: the compressed context, else the parent, else the chunk."""
        if self.context:
            return self.context
        return self.parent.text if self.parent is not None else self.chunk.text

    def to_document(self) -> Document:
        """The hit as a LangChain Document carrying score and provenance in its metadata."""
        return self.chunk.to_document(score=self.score, provenance=self.provenance)


@dataclass(frozen=True)
class RetrievalResult:
    """What a retriever returns for one question.

    ``query`` is the content query actually searched (after self-query removed filter words),
    ``filter`` the metadata filter applied (None when none), ``best_relevance`` the best dense cosine
    similarity seen (the refusal threshold compares against it), ``notes`` human-readable remarks
    (for example that a filter matched nothing and was dropped).
    """

    hits: tuple[Hit, ...]
    query: str
    filter: dict[str, Any] | None = None
    best_relevance: float = 0.0
    notes: tuple[str, ...] = ()


class Retriever(Protocol):
    """Anything the answer chain can retrieve from (``retrieval.retrievers.hybrid.HybridRetriever``)."""

    def retrieve(
        self, query: str, *, k: int | None = None, filters: dict[str, Any] | None = None, **options: Any
    ) -> RetrievalResult:
        """Retrieve hits for ``query``; ``options`` switch stages per call (graph=False, mmr=False...)."""
        ...


class Embedder(abc.ABC):
    """Turns texts into L2-normalized float32 vectors.

    Implementations provide :meth:`embed_batch`; everything else is built on it.
    """

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Vector dimension."""

    @property
    @abc.abstractmethod
    def max_seq_length(self) -> int:
        """Longest input, in the model's own tokens, that is embedded without truncation."""

    @abc.abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into an array of shape ``(len(texts), dim)``, rows L2-normalized."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` including special tokens."""

    @abc.abstractmethod
    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans of each text's tokens (special tokens excluded): what chunking measures."""

    @property
    @abc.abstractmethod
    def special_tokens(self) -> int:
        """Tokens the model adds around every input (they count against ``max_seq_length``)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Alias of :meth:`embed_batch` that accepts an empty list."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_batch(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query into a vector of shape ``(dim,)``."""
        return self.embed_batch([text])[0]
