"""Dense retrieval: cosine similarity of the question vector to child chunk vectors (FAISS)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from retrieval.base import Chunk


class VectorSearch(Protocol):
    """What dense retrieval needs of the vector store (``FaissVectorStore`` provides it)."""

    def search_by_vector(
        self, vector: np.ndarray, k: int, filter: dict[str, Any] | None = None
    ) -> list[tuple[Chunk, float]]: ...


class DenseRetriever:
    """Nearest child chunks to a query vector, filtered by metadata in the store.

    Args:
        store: The vector store.
    """

    name = "dense"

    def __init__(self, store: VectorSearch) -> None:
        self.store = store

    def search(
        self, vector: np.ndarray, k: int, filter: dict[str, Any] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Up to ``k`` ``(chunk, cosine)`` pairs, best first."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        return list(self.store.search_by_vector(np.asarray(vector, dtype=np.float32), k, filter=filter))
