"""Weighted reciprocal rank fusion against hand-computed values."""

from __future__ import annotations

import pytest

from retrieval.retrievers.fusion import weighted_rrf
from tests.unit.retrieval.conftest import chunk

A, B, C, D = (chunk(f"{x}#0", x) for x in "abcd")


def test_weighted_rrf_matches_hand_computed_scores_and_keeps_provenance() -> None:
    ranked = {
        "dense": [(A, 0.9), (B, 0.8), (C, 0.7)],
        "bm25": [(B, 12.5), (D, 3.0)],
        "graph": [(D, 2.0)],
    }
    hits = weighted_rrf(ranked, {"dense": 1.0, "bm25": 1.0, "graph": 0.5}, rrf_k=60)
    assert [h.chunk.id for h in hits] == ["b#0", "d#0", "a#0", "c#0"]
    expected = {
        "b#0": 1 / 62 + 1 / 61,  # dense rank 2, bm25 rank 1
        "d#0": 1 / 62 + 0.5 / 61,  # bm25 rank 2, graph rank 1 at weight 0.5
        "a#0": 1 / 61,
        "c#0": 1 / 63,
    }
    for h in hits:
        assert h.score == pytest.approx(expected[h.chunk.id], abs=1e-12)
    assert hits[0].provenance == {"dense": {"rank": 2.0, "score": 0.8}, "bm25": {"rank": 1.0, "score": 12.5}}
    assert hits[1].provenance["graph"] == {"rank": 1.0, "score": 2.0}


def test_zero_weight_keeps_provenance_but_adds_nothing_and_ties_break_on_best_rank() -> None:
    hits = weighted_rrf({"dense": [(A, 0.5), (B, 0.4)], "bm25": [(B, 1.0), (A, 0.9)]}, {"bm25": 0.0}, rrf_k=1)
    assert [h.chunk.id for h in hits] == ["a#0", "b#0"]
    assert hits[0].score == pytest.approx(1 / 2) and hits[1].score == pytest.approx(1 / 3)
    assert set(hits[1].provenance) == {"dense", "bm25"}
    tie = weighted_rrf({"x": [(A, 1.0)], "y": [(C, 1.0), (B, 1.0)], "z": [(B, 1.0)]}, rrf_k=10)
    # b: 1/12 + 1/11 beats a and c (1/11 each); a and c tie on score and best rank, so id decides
    assert [h.chunk.id for h in tie] == ["b#0", "a#0", "c#0"]


def test_duplicates_within_one_list_count_once_and_bad_arguments_fail() -> None:
    hits = weighted_rrf({"dense": [(A, 0.9), (A, 0.1), (B, 0.5)]}, rrf_k=60)
    assert hits[0].score == pytest.approx(1 / 61) and hits[0].provenance["dense"]["score"] == 0.9
    assert hits[1].score == pytest.approx(1 / 63)
    with pytest.raises(ValueError, match="rrf_k"):
        weighted_rrf({}, rrf_k=0)
    with pytest.raises(ValueError, match="weights"):
        weighted_rrf({"dense": [(A, 1.0)]}, {"dense": -1.0})
