"""CrossEncoderReranker with a tiny cross-encoder trained and saved inside the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retrieval.base import Hit
from retrieval.retrievers.rerank import CrossEncoderReranker
from tests.unit.retrieval.conftest import chunk

WORDS = ["cat", "dog", "fish", "bird", "sat", "ran", "on", "the", "mat", "tree", "where"]


def _train_tiny_cross_encoder(path: Path) -> None:
    """A 1-layer BERT taught that a passage is relevant to "where cat" when it is about the cat."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tok = BertTokenizerFast(vocab=vocab)
    cfg = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = BertForSequenceClassification(cfg)
    animals = ["cat", "dog", "fish", "bird"]
    pairs = [
        (f"where {q}", f"the {p} sat on the mat", 1.0 if q == p else 0.0) for q in animals for p in animals
    ]
    assert tok.convert_tokens_to_ids(["cat"]) == [vocab["cat"]]
    batch = tok([q for q, _, _ in pairs], [p for _, p, _ in pairs], padding=True, return_tensors="pt")
    labels = torch.tensor([y for _, _, y in pairs])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same float sums, so the same training, every run
    try:
        for _ in range(400):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(**batch).logits.squeeze(-1), labels
            )
            loss.backward()
            opt.step()
            if loss.item() < 0.05:
                break
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.05, f"the tiny cross-encoder did not learn (loss {loss.item():.3f})"
    model.eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: Any) -> Path:
    path = tmp_path_factory.mktemp("cross-encoder")
    _train_tiny_cross_encoder(path)
    return path


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


def test_reranker_validates_its_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        CrossEncoderReranker(tmp_path / "missing")
