"""Optional cross-encoder reranking (sentence-transformers ``CrossEncoder`` from a local directory)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from retrieval.base import Hit, RetrievalError

logger = logging.getLogger(__name__)


class CrossEncoderReranker:
    """Scores ``(question, passage)`` pairs jointly and reorders hits by that score.

    Args:
        model_path: Directory of a saved ``CrossEncoder`` (nothing is downloaded).
        device: torch device.
        batch_size: Pairs per forward pass.
        max_length: Token limit of a pair.
    """

    def __init__(
        self, model_path: Path, *, device: str = "cpu", batch_size: int = 32, max_length: int = 512
    ) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise ValueError(f"reranker model_path is not a directory: {str(path)!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.model_path, self.device = path, device
        self.batch_size, self.max_length = batch_size, max_length
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The CrossEncoder, loaded on first use."""
        if self._model is None:
            from sentence_transformers import CrossEncoder

            try:
                self._model = CrossEncoder(
                    str(self.model_path),
                    device=self.device,
                    max_length=self.max_length,
                    local_files_only=True,
                )
            except Exception as e:  # sentence-transformers raises many types for a bad model dir
                raise RetrievalError(f"cannot load the reranker from {self.model_path}: {e}") from e
        return self._model

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        """Relevance score of each passage for ``query`` (higher is better)."""
        if not passages:
            return []
        raw = self.model.predict(
            [(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in raw]

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` reordered by cross-encoder score, which becomes ``Hit.score``.

        The fused score stays in ``provenance["fused"]``; ``provenance["rerank"]`` holds the new rank.
        """
        scores = self.scores(query, [h.chunk.text for h in hits])
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        out: list[Hit] = []
        for rank, i in enumerate(order, start=1):
            prov = {**hits[i].provenance, "fused": {"rank": float(i + 1), "score": hits[i].score}}
            prov["rerank"] = {"rank": float(rank), "score": scores[i]}
            out.append(replace(hits[i], score=scores[i], provenance=prov))
        return out
