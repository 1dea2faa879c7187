"""MMR on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.retrievers.mmr import mmr_select, normalized_relevance

VECS = np.array([[1, 0, 0], [1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
REL = np.array([1.0, 0.98, 0.8, 0.6])


def test_mmr_removes_the_planted_duplicate() -> None:
    # step 2 gains at lambda 0.5: dup 0.49-0.5=-0.01, v2 0.4-0.3=0.1, v3 0.3-0=0.3 -> v3; step 3: v2 (0.1) over dup
    assert mmr_select(REL, VECS, k=3, lambda_mult=0.5) == [0, 3, 2]


def test_a_near_copy_comes_last_even_when_its_relevance_outweighs_the_penalty() -> None:
    # lambda 0.9, step 2: plain MMR gains are dup 0.882-0.1=0.782, v2 0.72-0.06=0.66, v3 0.54 -> dup.
    # The copy (similarity 1.0 >= 0.97) is skipped while others remain, then taken last.
    rel = np.array([1.0, 0.98, 0.8, 0.6])
    assert mmr_select(rel, VECS, k=3, lambda_mult=0.9, duplicate_threshold=1.01) == [0, 1, 2]
    assert mmr_select(rel, VECS, k=3, lambda_mult=0.9) == [0, 2, 3]
    assert mmr_select(rel, VECS, k=4, lambda_mult=0.9) == [0, 2, 3, 1]


def test_lambda_one_is_plain_relevance_order_and_keeps_the_duplicate() -> None:
    assert mmr_select(REL, VECS, k=3, lambda_mult=1.0) == [0, 1, 2]


def test_k_larger_than_candidates_and_validation() -> None:
    assert sorted(mmr_select(REL, VECS, k=10, lambda_mult=0.7)) == [0, 1, 2, 3]
    assert mmr_select(np.zeros(0), np.zeros((0, 3)), k=2) == []
    with pytest.raises(ValueError, match="lambda"):
        mmr_select(REL, VECS, k=2, lambda_mult=1.5)
    with pytest.raises(ValueError, match="shape"):
        mmr_select(REL[:2], VECS, k=2)


def test_normalized_relevance() -> None:
    assert normalized_relevance(np.array([0.02, 0.01, 0.0])).tolist() == [1.0, 0.5, 0.0]
    assert normalized_relevance(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]
