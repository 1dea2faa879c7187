"""Fakes for unit tests of the logic around real components (never instead of them)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from retrieval.base import Embedder

_WORD = re.compile(r"\w+|[^\w\s]")


class HashEmbedder(Embedder):
    """Deterministic bag-of-words embedder: each word hashes to a dimension.

    Texts sharing words get similar vectors, which is all the logic around an embedder needs.
    It tokenizes into words and punctuation, so token counts are easy to predict in tests.
    """

    def __init__(self, dim: int = 64, max_seq_length: int = 64) -> None:
        self._dim = dim
        self._max = max_seq_length
        self.calls: list[int] = []

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_seq_length(self) -> int:
        return self._max

    @property
    def special_tokens(self) -> int:
        return 2

    @property
    def name(self) -> str:
        return f"hash-{self._dim}"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self._dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text)) + 2

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in _WORD.finditer(t)] for t in texts]

    @property
    def embedded(self) -> int:
        """Total texts embedded so far."""
        return sum(self.calls)
