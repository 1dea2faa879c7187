"""Sparse retrieval: BM25 over the keyword index, resolved to chunks through the vector store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from retrieval.base import Chunk
from retrieval.bm25_store import BM25Index

logger = logging.getLogger(__name__)


class ChunkLookup(Protocol):
    """Resolves chunk ids to chunks (``FaissVectorStore.get_chunks``)."""

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]: ...


class SparseRetriever:
    """BM25 hits as chunks.

    Args:
        index: The BM25 index.
        chunks: Where chunk texts and metadata live (the vector store's docstore).
    """

    name = "bm25"

    def __init__(self, index: BM25Index, chunks: ChunkLookup) -> None:
        self.index = index
        self.chunks = chunks

    def search(self, query: str, k: int, filter: dict[str, Any] | None = None) -> list[tuple[Chunk, float]]:
        """Up to ``k`` ``(chunk, bm25 score)`` pairs, best first; ids unknown to the store are skipped."""
        ranked = self.index.search(query, k, filter=filter)
        if not ranked:
            return []
        by_id = {c.id: c for c in self.chunks.get_chunks([cid for cid, _ in ranked])}
        missing = [cid for cid, _ in ranked if cid not in by_id]
        if missing:
            logger.warning("bm25 ids missing from the store count=%s first=%s", len(missing), missing[0])
        return [(by_id[cid], score) for cid, score in ranked if cid in by_id]
