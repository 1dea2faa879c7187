"""Contextual compression: drop redundant passages, keep only the sentences that matter.

Both stages are LangChain ``BaseDocumentCompressor`` s, so :func:`build_compressor` returns a
``DocumentCompressorPipeline`` that drops into ``ContextualCompressionRetriever``. The hybrid
retriever hands them Documents whose ``page_content`` is the hit's *parent* text, so the answer
step reads the relevant sentences of each parent section rather than whole pages.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np
from langchain_classic.retrievers.document_compressors import DocumentCompressorPipeline
from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, PrivateAttr

from retrieval.base import Embedder

logger = logging.getLogger(__name__)

CompleteJSON = Callable[[str, dict[str, Any]], dict[str, Any]]

# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by space and a capital,
# digit or quote, or at a blank line. Abbreviations like "e.g." or "Inc." rarely precede a capital.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])|\n\s*\n")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Inc|Ltd|Co|Corp|No|vs|St|Jr|Sr|U\.S)\.$")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (whitespace-normalized, empty pieces dropped)."""
    pieces: list[str] = []
    for raw in _SENTENCE_END.split(text):
        piece = " ".join(raw.split())
        if not piece:
            continue
        if pieces and _ABBREV.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return pieces


class RedundancyFilter(BaseDocumentCompressor):
    """Drops documents that repeat an earlier one: same parent, or embeddings above a threshold.

    Uses ``metadata["embedding"]`` when every document carries one, else embeds the texts.

    Args:
        embedder: Embeds the documents' text.
        similarity_threshold: Cosine similarity above which a later document counts as a copy.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: Embedder
    similarity_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.99

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Keep the first of every group of near-identical documents, in the given order."""
        seen_parents: set[str] = set()
        unique: list[Document] = []
        for doc in documents:
            key = doc.metadata.get("parent_id") or doc.metadata.get("id") or doc.id
            if key is not None and key in seen_parents:
                continue
            if key is not None:
                seen_parents.add(str(key))
            unique.append(doc)
        if len(unique) < 2:
            return unique
        given = [d.metadata.get("embedding") for d in unique]
        if all(v is not None for v in given):  # stored vectors handed in by the retriever: no model call
            vecs = np.asarray(given, dtype=np.float32)
        else:
            vecs = self.embedder.embed([d.page_content for d in unique])
        kept: list[int] = []
        for i in range(len(unique)):
            if not kept or float(np.max(vecs[kept] @ vecs[i])) <= self.similarity_threshold:
                kept.append(i)
        return [unique[i] for i in kept]


class EmbeddingSentenceExtractor(BaseDocumentCompressor):
    """Keeps the sentences of each document that are similar enough to the query.

    A sentence is kept when its cosine similarity to the query is at least ``min_similarity`` and at
    least ``relative`` times the best sentence's (of the same document); the best sentence is always
    kept. ``window`` also keeps that many neighbours on each side of a kept sentence. Kept sentences
    stay in document order. Documents whose best sentence is below ``drop_below`` are dropped.
    The original text moves to ``metadata["full_text"]``. Pieces longer than ``max_words`` (tables,
    lists) are cut into runs of that many words, and only the first ``embed_chars`` characters of a piece are
    embedded: this bounds the model work per query. Piece vectors are kept in an LRU cache of
    ``cache_size`` entries, so parents that come back are not embedded again.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: Embedder
    min_similarity: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.3
    relative: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    window: Annotated[int, Field(ge=0)] = 0
    max_sentences: Annotated[int, Field(ge=1)] = 8
    drop_below: Annotated[float, Field(ge=-1.0, le=1.0)] = -1.0
    max_words: Annotated[int, Field(ge=5)] = 60
    embed_chars: Annotated[int, Field(ge=20)] = 300
    cache_size: Annotated[int, Field(ge=0)] = 20_000
    _cache: OrderedDict[str, np.ndarray] = PrivateAttr(default_factory=OrderedDict)

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """One Document per input (minus dropped ones) whose text is the kept sentences."""
        if not documents:
            return []
        per_doc = [_split_long(split_sentences(d.page_content), self.max_words) for d in documents]
        flat = [s[: self.embed_chars] for sents in per_doc for s in sents]
        if not flat:
            return list(documents)
        sims = self._embed_cached(flat) @ self.embedder.embed_query(query)
        out: list[Document] = []
        offset = 0
        for doc, sents in zip(documents, per_doc, strict=True):
            doc_sims = sims[offset : offset + len(sents)]
            offset += len(sents)
            if not sents:
                out.append(doc)
                continue
            if float(doc_sims.max()) < self.drop_below:
                continue
            keep = self._select(doc_sims)
            text = " ".join(sents[i] for i in keep)
            meta = {**doc.metadata, "full_text": doc.page_content, "kept_sentences": len(keep)}
            meta["sentence_scores"] = [round(float(doc_sims[i]), 4) for i in keep]
            out.append(Document(page_content=text, metadata=meta, id=doc.id))
        return out

    def _embed_cached(self, pieces: list[str]) -> np.ndarray:
        """Embed pieces through an LRU cache: the same parent sections come back question after question."""
        cache = self._cache
        todo = list(dict.fromkeys(p for p in pieces if p not in cache))
        if todo:
            for piece, vec in zip(todo, self.embedder.embed(todo), strict=True):
                cache[piece] = vec
        out = np.stack([cache[p] for p in pieces])
        for piece in pieces:
            cache.move_to_end(piece)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)
        return out

    def _select(self, sims: np.ndarray) -> list[int]:
        best = float(sims.max())
        cut = max(self.min_similarity, best * self.relative) if best > 0 else best
        ranked = [int(i) for i in np.argsort(-sims, kind="stable") if sims[i] >= cut][: self.max_sentences]
        chosen = set(ranked or [int(np.argmax(sims))])
        for i in list(chosen):
            chosen.update(range(max(0, i - self.window), min(len(sims), i + self.window + 1)))
        return sorted(chosen)


def _split_long(sentences: list[str], max_words: int) -> list[str]:
    """Cut pieces over ``max_words`` words (tables, lists without full stops) into runs of that size."""
    out: list[str] = []
    for sent in sentences:
        words = sent.split()
        if len(words) <= max_words:
            out.append(sent)
        else:
            out.extend(" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words))
    return out


_LLM_EXTRACT_PROMPT = """Pick the sentences that help answer the question. Reply with their numbers only.
If none helps, reply with an empty list.
Question: {question}
Sentences:
{sentences}
"""


class LLMSentenceExtractor(BaseDocumentCompressor):
    """Keeps the sentences an LLM picks, by number, so nothing it writes can enter the context.

    Args:
        complete_json: ``complete_json(prompt, schema) -> dict`` returning ``{"sentences": [int]}``.
        max_sentences: Sentences offered per document (the rest are cut off).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    complete_json: Callable[[str, dict[str, Any]], dict[str, Any]]
    max_sentences: Annotated[int, Field(ge=1)] = 40

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Documents reduced to the chosen sentences; ones with none chosen are dropped."""
        schema = {
            "type": "object",
            "properties": {"sentences": {"type": "array", "items": {"type": "integer"}}},
            "required": ["sentences"],
        }
        out: list[Document] = []
        for doc in documents:
            sents = split_sentences(doc.page_content)[: self.max_sentences]
            listing = "\n".join(f"{i}. {s}" for i, s in enumerate(sents, start=1))
            try:
                reply = self.complete_json(
                    _LLM_EXTRACT_PROMPT.format(question=query, sentences=listing), schema
                )
                picked = sorted({int(n) for n in reply.get("sentences", []) if 1 <= int(n) <= len(sents)})
            except Exception as e:  # a failing LLM must not lose the passage
                logger.warning("llm extractor failed, keeping the passage: %s", e)
                out.append(doc)
                continue
            if picked:
                meta = {**doc.metadata, "full_text": doc.page_content, "kept_sentences": len(picked)}
                out.append(
                    Document(page_content=" ".join(sents[n - 1] for n in picked), metadata=meta, id=doc.id)
                )
        return out


def build_compressor(
    embedder: Embedder,
    *,
    redundancy_threshold: float = 0.99,
    min_similarity: float = 0.3,
    relative: float = 0.75,
    window: int = 1,
    complete_json: CompleteJSON | None = None,
    sentence_embedder: Embedder | None = None,
) -> DocumentCompressorPipeline:
    """Redundancy filter, then sentence extraction: by embeddings, or by the LLM when ``complete_json``.

    ``sentence_embedder`` scores the sentences (default: ``embedder``); the service passes the
    static model distilled from ``embedder`` (:mod:`retrieval.embeddings.static_embedder`), which
    scores a query's hundred sentences in about 10 ms instead of MiniLM's about 450 ms on two cores
    (docs/benchmarks.md, retrieval latency).

    ``redundancy_threshold`` is high on purpose: the same boilerplate in two quarterly reports is
    near-identical text with different figures, and both are sources; only copies are dropped.
    ``window=1`` keeps the sentence after and before each relevant one: answers often sit in the
    next sentence behind a pronoun ("The Havørn was built in 1929 ... She was 38 metres long").
    """
    extractor: BaseDocumentCompressor
    if complete_json is not None:
        extractor = LLMSentenceExtractor(complete_json=complete_json)
    else:
        extractor = EmbeddingSentenceExtractor(
            embedder=sentence_embedder or embedder,
            min_similarity=min_similarity,
            relative=relative,
            window=window,
        )
    return DocumentCompressorPipeline(
        transformers=[
            RedundancyFilter(embedder=embedder, similarity_threshold=redundancy_threshold),
            extractor,
        ]
    )
