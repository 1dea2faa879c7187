"""Page scoring: rank pages by all the candidate chunks that lie on them, not chunks one by one.

A question about a financial statement matches several small chunks of the same page (the
statement's title, two rows of its table, its footnote), each only moderately; a single chunk of
some other page can beat every one of them. Aggregating the candidates by page lets the page
with the most evidence win: a page scores its best chunk plus ``weight`` times the sum of its
other chunks' scores. Each page is then represented by its best chunk, and the other chunks of a
page follow after every page's best, so the first ``k`` hits name ``k`` different pages.

A chunk that spans two pages counts for both. Documents without pages (Markdown, HTML, DOCX,
text) are grouped by what stands for a page there: the chunk's heading path, else its parent
section; otherwise a PDF page with five candidate chunks would outscore every unpaged section
for having been cut finer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from retrieval.base import Chunk, Hit

PageKey = tuple[str, str]


def chunk_pages(chunk: Chunk) -> list[PageKey]:
    """The ``(doc_id, page)`` keys a chunk lies on; unpaged: its heading path, else its parent."""
    if chunk.page_start is None:
        if chunk.section:
            return [(chunk.doc_id, f"section:{chunk.section}")]
        return [(chunk.doc_id, f"parent:{chunk.parent_id or chunk.id}")]
    end = chunk.page_end if chunk.page_end is not None else chunk.page_start
    return [(chunk.doc_id, str(p)) for p in range(chunk.page_start, max(end, chunk.page_start) + 1)]


def page_scores(hits: Sequence[Hit], weight: float) -> dict[PageKey, float]:
    """Each page's score: its best chunk's score plus ``weight`` x the sum of its other chunks'."""
    if weight < 0:
        raise ValueError(f"page weight must be >= 0, got {weight!r}")
    by_page: dict[PageKey, list[float]] = defaultdict(list)
    for hit in hits:
        for key in chunk_pages(hit.chunk):
            by_page[key].append(hit.score)
    return {key: max(s) + weight * (sum(s) - max(s)) for key, s in by_page.items()}


def rank_by_page(hits: Sequence[Hit], weight: float) -> list[Hit]:
    """``hits`` re-ranked by their pages' scores, the best chunk of each page first.

    Every hit takes the score of its best page (``provenance["page"]``: that score and how many
    candidates lie on the page). Hits are ordered by that score; the first hit of each page keeps
    its place and later hits of an already represented page move behind all page leaders.
    """
    if not hits:
        return []
    scores = page_scores(hits, weight)
    counts: dict[PageKey, int] = defaultdict(int)
    for hit in hits:
        for key in chunk_pages(hit.chunk):
            counts[key] += 1
    rescored: list[tuple[Hit, PageKey]] = []
    for hit in hits:
        key = max(chunk_pages(hit.chunk), key=lambda k: (scores[k], k))
        prov = {**hit.provenance, "page": {"score": scores[key], "chunks": float(counts[key])}}
        rescored.append((replace(hit, score=scores[key], provenance=prov), key))
    order = sorted(range(len(rescored)), key=lambda i: (-rescored[i][0].score, -hits[i].score, i))
    leaders: list[Hit] = []
    rest: list[Hit] = []
    seen: set[PageKey] = set()
    for i in order:
        hit, key = rescored[i]
        (rest if key in seen else leaders).append(hit)
        seen.add(key)
    return leaders + rest
