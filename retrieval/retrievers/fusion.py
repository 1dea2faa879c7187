"""Weighted reciprocal rank fusion of ranked lists, keeping each hit's provenance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retrieval.base import Chunk, Hit

RankedList = Sequence[tuple[Chunk, float]]


def weighted_rrf(
    ranked: Mapping[str, RankedList],
    weights: Mapping[str, float] | None = None,
    *,
    rrf_k: int = 60,
) -> list[Hit]:
    """Fuse ranked lists: ``score(c) = sum_r weight_r / (rrf_k + rank_r(c))``, ranks 1-based.

    Args:
        ranked: Retriever name -> its hits best first, as ``(chunk, raw score)``. A chunk listed twice
            by one retriever counts at its best rank.
        weights: Retriever name -> weight (missing names weigh 1.0; 0 removes a retriever's votes
            but keeps its provenance).
        rrf_k: The RRF constant; larger flattens the rank curve.

    Returns:
        Hits best first. ``provenance[name] = {"rank": r, "score": raw}`` for every retriever that
        found the chunk. Ties break on the best single rank, then on chunk id.
    """
    if rrf_k < 1:
        raise ValueError(f"rrf_k must be >= 1, got {rrf_k!r}")
    weights = weights or {}
    bad = {n: w for n, w in weights.items() if w < 0}
    if bad:
        raise ValueError(f"fusion weights must be >= 0, got {bad!r}")
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    prov: dict[str, dict[str, dict[str, float]]] = {}
    for name, items in ranked.items():
        weight = float(weights.get(name, 1.0))
        for rank, (chunk, raw) in enumerate(items, start=1):
            if name in prov.get(chunk.id, {}):
                continue
            chunks.setdefault(chunk.id, chunk)
            prov.setdefault(chunk.id, {})[name] = {"rank": float(rank), "score": float(raw)}
            scores[chunk.id] = scores.get(chunk.id, 0.0) + weight / (rrf_k + rank)

    def order(cid: str) -> tuple[float, float, str]:
        return (-scores[cid], min(p["rank"] for p in prov[cid].values()), cid)

    return [
        Hit(chunk=chunks[cid], score=scores[cid], provenance=prov[cid]) for cid in sorted(scores, key=order)
    ]
