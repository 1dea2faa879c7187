"""Exposes any citewise Embedder through LangChain's ``Embeddings`` interface."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from retrieval.base import Embedder


class LangChainEmbeddings(Embeddings):
    """LangChain view of an :class:`~retrieval.base.Embedder` (lists of floats instead of arrays)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()
