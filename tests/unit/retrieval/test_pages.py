"""Page scoring: a page's candidates add up; the first hits name distinct pages."""

from __future__ import annotations

import pytest

from retrieval.base import Chunk, Hit
from retrieval.retrievers.pages import chunk_pages, page_scores, rank_by_page


def _hit(
    cid: str, score: float, page: int | None, end: int | None = None, doc: str = "d", section: str = ""
) -> Hit:
    chunk = Chunk(
        id=cid,
        doc_id=doc,
        text=cid,
        source=doc,
        file_name=doc,
        file_type="pdf",
        page_start=page,
        page_end=end if end is not None else page,
        section=section,
        parent_id=f"p-{cid}",
    )
    return Hit(chunk=chunk, score=score)


def test_a_chunk_covers_every_page_it_spans_and_unpaged_chunks_stand_alone() -> None:
    assert chunk_pages(_hit("a", 1, 3, 4).chunk) == [("d", "3"), ("d", "4")]
    assert chunk_pages(_hit("b", 1, None).chunk) == [("d", "parent:p-b")]
    assert chunk_pages(_hit("c", 1, None, section="History > Founding").chunk) == [
        ("d", "section:History > Founding")
    ]


def test_page_score_is_best_chunk_plus_weighted_rest() -> None:
    hits = [_hit("a", 0.9, 10), _hit("b", 0.6, 12), _hit("c", 0.5, 12), _hit("d", 0.4, 12)]
    scores = page_scores(hits, 0.5)
    assert scores[("d", "10")] == pytest.approx(0.9)
    assert scores[("d", "12")] == pytest.approx(0.6 + 0.5 * (0.5 + 0.4))
    assert page_scores(hits, 0.0)[("d", "12")] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="page weight"):
        page_scores(hits, -1.0)


def test_the_page_with_most_evidence_leads_and_each_page_appears_once_before_repeats() -> None:
    hits = [_hit("a", 0.9, 10), _hit("b", 0.6, 12), _hit("c", 0.5, 12), _hit("d", 0.4, 12), _hit("e", 0.3, 7)]
    ranked = rank_by_page(hits, 0.5)
    assert [h.chunk.id for h in ranked] == ["b", "a", "e", "c", "d"]
    assert ranked[0].score == pytest.approx(1.05)
    assert ranked[0].provenance["page"] == {"score": pytest.approx(1.05), "chunks": 3.0}
    # weight 0: pages rank by their best chunk only, and repeats still follow the leaders.
    assert [h.chunk.id for h in rank_by_page(hits, 0.0)] == ["a", "b", "e", "c", "d"]
    assert rank_by_page([], 0.5) == []


def test_pages_of_different_documents_are_different_pages() -> None:
    hits = [_hit("a", 0.5, 3, doc="x"), _hit("b", 0.5, 3, doc="y"), _hit("c", 0.4, 3, doc="y")]
    ranked = rank_by_page(hits, 1.0)
    assert [h.chunk.id for h in ranked] == ["b", "a", "c"]
