"""CrossEncoderReranker with a tiny cross-encoder whose weights are set by hand (nothing trained)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retrieval.base import Hit
from retrieval.retrievers.rerank import CrossEncoderReranker
from tests.support.tiny_cross_encoder import build_tiny_cross_encoder
from tests.unit.retrieval.conftest import chunk

pytestmark = pytest.mark.integration  # real transformers / sentence-transformers model loading


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: Any) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))


def test_reranker_puts_the_relevant_passage_first(tiny_model: Path) -> None:
    hits = [
        Hit(
            chunk(f"{a}#0", f"the {a} sat on the mat"),
            score=0.03 - i * 0.001,
            provenance={"dense": {"rank": i + 1.0, "score": 0.5}},
        )
        for i, a in enumerate(["dog", "bird", "cat", "fish"])
    ]
    out = CrossEncoderReranker(tiny_model).rerank("where cat", hits)
    assert out[0].chunk.id == "cat#0"
    assert out[0].provenance["rerank"]["rank"] == 1.0
    assert out[0].provenance["fused"] == {"rank": 3.0, "score": pytest.approx(0.028)}
    assert out[0].provenance["dense"] == {"rank": 3.0, "score": 0.5}
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert sorted(h.chunk.id for h in out) == sorted(h.chunk.id for h in hits)


@pytest.mark.parametrize("animal", ["cat", "dog", "fish", "bird"])
def test_the_hand_set_model_scores_a_shared_content_word_far_above_none(
    tiny_model: Path, animal: str
) -> None:
    passages = [f"the {a} sat on the mat" for a in ["dog", "bird", "cat", "fish"]]
    scores = CrossEncoderReranker(tiny_model).scores(f"where {animal}", passages)
    relevant = scores[passages.index(f"the {animal} sat on the mat")]
    others = [s for p, s in zip(passages, scores) if animal not in p]
    # A margin far wider than any rounding difference between library versions.
    assert relevant - max(others) > 0.2, scores


def test_reranker_validates_its_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        CrossEncoderReranker(tmp_path / "missing")
