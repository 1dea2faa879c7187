"""A static embedder (model2vec) distilled from the local sentence-transformers model.

Contextual compression scores every sentence of every retrieved parent against the question: about
a hundred pieces per query. Through MiniLM that was about 450 ms per query on two cores, most of the
full retriever's time; with this model it is about 10 ms (docs/benchmarks.md, retrieval latency).
A model2vec static model is MiniLM's view of each vocabulary token, reduced by PCA and weighted: a
sentence vector is a lookup and a mean.

The static model is distilled once from the same local model directory (about 15 s on two cores,
offline, no data needed) and kept in a cache folder keyed by that directory: the service passes
``<cache_dir>/static`` (``data/cache/static`` by default), so every index that shares a cache
shares it; used directly without ``cache_root`` it goes to :func:`default_cache_root`. It is
written with safetensors by model2vec; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.base import Embedder, EmbeddingError
from retrieval.embeddings.sentence_transformer_embedder import LazyModel, offline_hf

log = logging.getLogger(__name__)

DEFAULT_PCA_DIMS = 256


def default_cache_root() -> Path:
    """``$CITEWISE_STATIC_CACHE``, else ``$XDG_CACHE_HOME/citewise/static`` (``~/.cache/...``)."""
    explicit = os.environ.get("CITEWISE_STATIC_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "citewise" / "static"


class StaticEmbedder(LazyModel, Embedder):
    """Mean-of-token static embeddings distilled from a local sentence-transformers model.

    Args:
        source: Directory of the sentence-transformers model to distill (the embedder's model).
        cache_root: Where distilled models are kept, one folder per source and PCA size.
        pca_dims: Dimensions kept by the distillation's PCA.
    """

    def __init__(
        self, source: Path | str, *, cache_root: Path | None = None, pca_dims: int = DEFAULT_PCA_DIMS
    ):
        if pca_dims < 2:
            raise ValueError(f"pca_dims must be >= 2, got {pca_dims}")
        self.source = Path(source).expanduser().resolve()
        if not self.source.is_dir():
            raise EmbeddingError(f"model directory to distill not found: {self.source}")
        self.pca_dims = pca_dims
        digest = hashlib.sha256(f"{self.source}|{pca_dims}".encode()).hexdigest()[:12]
        self.path = (cache_root or default_cache_root()) / f"{self.source.name}-{pca_dims}-{digest}"
        self._model: Any = None
        self._lock = threading.Lock()
        self._use_lock = threading.Lock()

    def _load(self) -> Any:
        """The ``model2vec.StaticModel``, distilled first if it is not in the cache yet."""
        offline_hf()
        try:
            from model2vec import StaticModel
        except ImportError as e:
            raise EmbeddingError("model2vec is missing: pip install 'citewise[models]'") from e
        if not (self.path / "model.safetensors").is_file():
            self._distill()
        try:
            return StaticModel.from_pretrained(str(self.path))
        except Exception as e:  # a half-written or foreign folder: say which
            raise EmbeddingError(f"cannot load the static model from {self.path}: {e}") from e

    def _distill(self) -> None:
        """Distill into a temporary folder beside the target, then move it into place whole."""
        from model2vec.distill import distill

        log.info("distilling a static model from %s into %s (once)", self.source, self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".distill-", dir=self.path.parent))
        try:
            try:
                model = distill(model_name=str(self.source), pca_dims=self.pca_dims, device="cpu")
            except Exception as e:
                raise EmbeddingError(f"cannot distill a static model from {self.source}: {e}") from e
            model.save_pretrained(str(tmp))
            try:
                tmp.rename(self.path)
            except OSError:
                if not (self.path / "model.safetensors").is_file():  # not another process winning the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @property
    def name(self) -> str:
        return f"static:{self.source.name}:{self.pca_dims}"

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    @property
    def max_seq_length(self) -> int:
        return 512  # the distilled model embeds longer inputs too; this is only what chunking would use

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self.in_use() as model:
            vectors = np.asarray(model.encode(list(texts), show_progress_bar=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self.in_use() as model:
            return len(model.tokenizer.encode(text, add_special_tokens=False).ids)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        with self.in_use() as model:
            encodings = model.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [[(int(a), int(b)) for a, b in enc.offsets] for enc in encodings]

    @property
    def special_tokens(self) -> int:
        return 0
