"""Embedders. ``create_embedder`` picks one by name; heavy libraries import on first use."""

from __future__ import annotations

import importlib
from typing import Any

from retrieval.base import Embedder, EmbeddingError

_BACKENDS = {
    "sentence_transformers": "retrieval.embeddings.sentence_transformer_embedder:SentenceTransformerEmbedder",
}


def create_embedder(backend: str = "sentence_transformers", **kwargs: Any) -> Embedder:
    """Build the embedder registered as ``backend`` with ``kwargs``."""
    try:
        target = _BACKENDS[backend]
    except KeyError:
        raise EmbeddingError(f"unknown embedder {backend!r}; choose one of {sorted(_BACKENDS)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)  # type: ignore[no-any-return]
