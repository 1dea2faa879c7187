"""Document profiles and the document-level prior of the hybrid retriever.

A chunk rarely names the document it comes from: a paragraph of a quarterly filing says "net sales
decreased" without saying whose or which quarter, so a question about "Apple's Q3 2022 report"
matches the same paragraph in every company's filing. Each document therefore gets a *profile*:
its file name (without the extension), its title and the opening words of its text (a filing's
cover page names the company and the period; a paper's names its title and authors). The
profile is embedded once at ingest and stored next to the chunks.

At query time :class:`DocumentRanker` scores every document by its profile, half by embedding
similarity (min-max scaled over the documents) and half by BM25 over the profiles (scaled by the
best score), a prior in [0, 1] per document. The hybrid retriever adds it, weighted, to the fused
score of each candidate chunk. On the sec10q set (195 questions) it lifted document hit@1 from
0.400 to 0.538 and hit@5 from 0.790 to 0.872 over plain dense+BM25 fusion (0.846 -> 0.872 against
dense alone; docs/benchmarks.md, "Retrieval quality"). The same ranker reads each document's
*facts* (form, period) from its profile for document targeting (``retrieval.targeting``).
Written by hand because no library offers a document prior over a chunk index; the scoring
itself is bm25s and a matrix product.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

import numpy as np

from retrieval.base import Chunk, Embedder
from retrieval.targeting import DocumentFacts, document_facts, question_scope, scope_fit

logger = logging.getLogger(__name__)

PROFILE_WORDS = 150
_SEPARATORS = re.compile(r"_+")


def document_profile(file_name: str, title: str, chunks: Sequence[Chunk], words: int = PROFILE_WORDS) -> str:
    """The profile text of a document: file stem, title and its first ``words`` words.

    ``chunks`` may mix parents and children; the opening words come from the children in order.
    """
    stem = PurePath(file_name).stem
    head: list[str] = []
    for chunk in sorted((c for c in chunks if c.kind == "child"), key=lambda c: c.chunk_index):
        head.extend(chunk.text.split())
        if len(head) >= words:
            break
    lines = [stem]
    if title.strip() and title.strip() != stem:
        lines.append(title.strip())
    lines.append(" ".join(head[:words]))
    return "\n".join(line for line in lines if line)


class DocumentRanker:
    """Scores the documents of an index against a question by their profiles.

    Args:
        docstore: The ``SQLiteDocStore`` (profiles, chunks, generation).
        embedder: The index's embedder (embeds profiles an older index lacks, once, in memory).
        embedding_share: Share of the embedding similarity in the prior; the rest is BM25.
        stemmer_language: PyStemmer language of the profile BM25 (``""``: no stemming).
    """

    def __init__(
        self,
        docstore: Any,
        embedder: Embedder,
        *,
        embedding_share: float = 0.5,
        stemmer_language: str = "english",
    ) -> None:
        if not 0.0 <= embedding_share <= 1.0:
            raise ValueError(f"embedding_share must be in [0, 1], got {embedding_share!r}")
        self.docstore = docstore
        self.embedder = embedder
        self.embedding_share = embedding_share
        self.stemmer_language = stemmer_language
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._doc_ids: list[str] = []
        self._matrix = np.zeros((0, embedder.dim), dtype=np.float32)
        self._bm25: Any = None
        self._stemmer: Any = None
        self._facts: list[DocumentFacts] = []

    def _tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        import bm25s

        if self._stemmer is None and self.stemmer_language:
            import Stemmer

            self._stemmer = Stemmer.Stemmer(self.stemmer_language)
        # "3M_2018_10K" is one token to bm25s (underscores are word characters): split it.
        tokens = bm25s.tokenize(
            [_SEPARATORS.sub(" ", t) for t in texts],
            stopwords="en",
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )
        return [list(t) for t in tokens]  # type: ignore[union-attr]

    def _refresh(self) -> None:
        """Reload profiles when the docstore changed (another process may have ingested)."""
        generation = self.docstore.generation
        if generation == self._generation:
            return
        rows = self.docstore.profiles()
        missing = [i for i, (_, text, vec) in enumerate(rows) if text is None or vec is None]
        texts = [r[1] or "" for r in rows]
        vectors: list[np.ndarray | None] = [r[2] for r in rows]
        if missing:
            # Written before profiles existed: build them from the stored chunks, in memory only.
            logger.info("building %d document profiles missing from the index", len(missing))
            for i in missing:
                doc_id = rows[i][0]
                record = self.docstore.document(doc_id)
                chunks = list(self.docstore.iter_chunks("child", doc_id=doc_id))
                texts[i] = document_profile(
                    record.file_name if record else "", record.title if record else "", chunks
                )
            embedded = self.embedder.embed([texts[i] for i in missing])
            for j, i in enumerate(missing):
                vectors[i] = np.asarray(embedded[j], dtype=np.float32)
        self._doc_ids = [r[0] for r in rows]
        names = {d.doc_id: d.file_name for d in self.docstore.documents()}
        self._facts = [document_facts(t, names.get(r[0], "")) for r, t in zip(rows, texts, strict=True)]
        self._matrix = (
            np.vstack([np.asarray(v, dtype=np.float32) for v in vectors])
            if rows
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )
        self._bm25 = None
        tokens = self._tokenize(texts) if rows else []
        if any(tokens):
            import bm25s

            self._bm25 = bm25s.BM25(method="lucene")
            self._bm25.index(tokens, show_progress=False)
        self._generation = generation

    def scores(self, query: str, query_vector: np.ndarray) -> dict[str, float]:
        """Each document's prior in [0, 1] for ``query``; empty when the index has no documents.

        Documents that cannot be told apart (one document, equal profiles) get equal priors, which
        leaves the order of the chunks unchanged.
        """
        with self._lock:
            self._refresh()
            if not self._doc_ids:
                return {}
            sims = self._matrix @ np.asarray(query_vector, dtype=np.float32)
            prior = self.embedding_share * _min_max(sims)
            if self._bm25 is not None and self.embedding_share < 1.0:
                words = self._tokenize([query])[0]
                lexical = np.asarray(self._bm25.get_scores(words), dtype=np.float64) if words else None
                if lexical is not None and lexical.max() > 0:
                    prior = prior + (1.0 - self.embedding_share) * lexical / lexical.max()
            return dict(zip(self._doc_ids, prior.tolist(), strict=True))

    def targeting(self, query: str) -> dict[str, float]:
        """Each document's fit in [0, 1] to the periods and form ``query`` names (``retrieval.targeting``).

        Empty when the question names none, or when every document fits equally (nothing to tell
        apart).
        """
        scope = question_scope(query)
        if scope.empty:
            return {}
        with self._lock:
            self._refresh()
            fits = {d: scope_fit(scope, f) for d, f in zip(self._doc_ids, self._facts, strict=True)}
        values = {d: v for d, v in fits.items() if v is not None}
        if len(set(values.values())) < 2:
            return {}
        return values

    def facts(self) -> dict[str, DocumentFacts]:
        """Each document's facts as read from its profile and file name."""
        with self._lock:
            self._refresh()
            return dict(zip(self._doc_ids, self._facts, strict=True))


def _min_max(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    span = float(values.max() - values.min()) if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)
