"""Maximal marginal relevance: pick relevant candidates that are not near-copies of each other."""

from __future__ import annotations

import numpy as np


def mmr_select(
    relevance: np.ndarray,
    vectors: np.ndarray,
    k: int,
    lambda_mult: float = 0.7,
    duplicate_threshold: float = 0.97,
) -> list[int]:
    """Indices of ``k`` candidates chosen greedily by ``lambda*rel - (1-lambda)*max_sim_to_chosen``.

    A candidate at least ``duplicate_threshold`` similar to one already chosen is a near-copy: it
    is taken only when nothing else is left, however relevant (plain MMR lets a copy through when
    its relevance leads the others by more than the similarity penalty). ``lambda_mult=1`` keeps
    the plain relevance order, copies included.

    Args:
        relevance: Relevance of each candidate, shape ``(n,)``; best kept first. Any scale works but
            it is weighed against cosine similarities, so pass values in about ``[0, 1]``.
        vectors: L2-normalized candidate vectors, shape ``(n, dim)``.
        k: How many to choose (fewer when there are fewer candidates).
        lambda_mult: 1 ranks by relevance only, 0 by diversity only.
        duplicate_threshold: Cosine similarity from which a candidate counts as a near-copy.

    Returns:
        Chosen candidate indices in selection order.
    """
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be in [0, 1], got {lambda_mult!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    rel = np.asarray(relevance, dtype=np.float64)
    vecs = np.asarray(vectors, dtype=np.float64)
    if vecs.ndim != 2 or vecs.shape[0] != rel.shape[0]:
        raise ValueError(f"vectors shape {vecs.shape} does not match {rel.shape[0]} relevances")
    n = rel.shape[0]
    if n == 0:
        return []
    sim = vecs @ vecs.T
    chosen = [int(np.argmax(rel))]
    max_sim = sim[chosen[0]].copy()
    available = np.ones(n, dtype=bool)
    available[chosen[0]] = False
    while len(chosen) < min(k, n):
        gain = lambda_mult * rel - (1.0 - lambda_mult) * max_sim
        if lambda_mult < 1.0:  # 1 asks for plain relevance order, copies included
            gain[max_sim >= duplicate_threshold] -= 1e6  # near-copies last
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, sim[best])
    return chosen


def normalized_relevance(scores: np.ndarray) -> np.ndarray:
    """Scale fused scores to ``[0, 1]`` by the best one (RRF scores are tiny and rank-shaped)."""
    arr = np.asarray(scores, dtype=np.float64)
    top = float(arr.max()) if arr.size else 0.0
    return arr / top if top > 0 else np.zeros_like(arr)
