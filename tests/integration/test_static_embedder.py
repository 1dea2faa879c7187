"""The static sentence scorer, distilled for real from the bundled MiniLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.container import build_sentence_scorer
from app.settings import Settings
from retrieval.base import EmbeddingError
from retrieval.embeddings.sentence_transformer_embedder import bundled_model_path
from retrieval.embeddings.static_embedder import StaticEmbedder

pytestmark = pytest.mark.integration


def test_distilled_once_into_the_cache_and_scores_the_answer_sentence_first(tmp_path: Path) -> None:
    first = StaticEmbedder(bundled_model_path(), cache_root=tmp_path, pca_dims=64)
    query = first.embed_query("What were total net sales in the quarter?")
    sentences = [
        "The weather in Cupertino was sunny all week.",
        "Total net sales for the quarter were $81.8 billion.",
        "The board met twice in March.",
    ]
    scores = first.embed(sentences) @ query
    assert int(np.argmax(scores)) == 1 and scores[1] - max(scores[0], scores[2]) > 0.2
    assert first.dim == 64
    assert np.allclose(np.linalg.norm(first.embed(sentences), axis=1), 1.0, atol=1e-5)
    assert (first.path / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary folder left behind
    written = (first.path / "model.safetensors").stat().st_mtime_ns

    again = StaticEmbedder(bundled_model_path(), cache_root=tmp_path, pca_dims=64)
    assert np.allclose(again.embed(sentences), first.embed(sentences))
    assert (again.path / "model.safetensors").stat().st_mtime_ns == written  # loaded, not distilled again
    assert again.count_tokens("Total net sales") == 3
    assert again.token_spans(["Total net sales"]) == [[(0, 5), (6, 9), (10, 15)]]


def test_a_missing_source_or_a_broken_cache_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="model directory to distill not found"):
        StaticEmbedder(tmp_path / "nowhere", cache_root=tmp_path)
    broken = StaticEmbedder(bundled_model_path(), cache_root=tmp_path, pca_dims=32)
    broken.path.mkdir(parents=True)
    (broken.path / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(EmbeddingError, match="cannot load the static model from"):
        broken.embed(["x"])


def test_the_setting_chooses_the_scorer(tmp_path: Path) -> None:
    embedder = object()
    static = build_sentence_scorer(Settings(cache_dir=tmp_path / "cache"), embedder)  # type: ignore[arg-type]
    assert isinstance(static, StaticEmbedder) and static.source == bundled_model_path().resolve()
    assert static.path.parent == (tmp_path / "cache" / "static").resolve()  # kept under cache_dir
    assert not static.path.exists()  # nothing is distilled until the first sentence is scored
    same = build_sentence_scorer(Settings(retrieval={"compression_scorer": "embedder"}), embedder)  # type: ignore[arg-type]
    assert same is embedder
