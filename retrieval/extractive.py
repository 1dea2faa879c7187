"""Extractive answers: the retrieved sentences closest to the question, without page furniture."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.base import Chunk, Embedder, Hit
from retrieval.boilerplate import boilerplate_reason, repeated_lines, strip_repeated
from retrieval.citations import overlap, split_sentences

# --- extractive answers -----------------------------------------------------------------------


def extractive_sentences(
    question: str, hits: Sequence[Hit], embedder: Embedder | None, *, max_sentences: int = 3
) -> list[tuple[int, str]]:
    """The sentences of ``hits`` most similar to ``question``, as (source number, sentence).

    Similarity is cosine over ``embedder`` vectors, or word overlap without an embedder. Sentences
    within 0.15 of the best score are kept, at most ``max_sentences``, best first.
    """
    pool = _answer_like_sentences(hits)[:400]
    if not pool:
        return []
    if embedder is not None:
        vectors = embedder.embed([s for _, s in pool])
        scores = [float(x) for x in vectors @ embedder.embed_query(question)]
    else:
        scores = [overlap(question, s) for _, s in pool]
    ranked = sorted(range(len(pool)), key=lambda i: -scores[i])
    best = scores[ranked[0]]
    picked: list[tuple[int, str]] = []
    for i in ranked:
        if len(picked) == max_sentences or scores[i] < best - 0.15:
            break
        if pool[i][1] not in (s for _, s in picked):
            picked.append(pool[i])
    return picked


def _answer_like_sentences(hits: Sequence[Hit]) -> list[tuple[int, str]]:
    """(source number, sentence) of every sentence that could answer: page furniture left out.

    Running lines (recurring on two pages of one document among the hits), headings, contents
    lines and capitals-only lines are removed (:mod:`retrieval.boilerplate`).
    """
    running = repeated_lines(
        (h.chunk.file_name, _one_page(c), c.text)
        for h in hits
        for c in ((h.chunk,) if h.parent is None else (h.chunk, h.parent))
    )
    pool: list[tuple[int, str]] = []
    for n, hit in enumerate(hits, start=1):
        for sentence in split_sentences(hit.answer_text):
            sentence = strip_repeated(sentence, running)
            if len(sentence) >= 20 and boilerplate_reason(sentence) is None:
                pool.append((n, sentence))
    return pool


def _one_page(chunk: Chunk) -> int | None:
    """The page ``chunk`` lies on, or ``None`` when it spans pages: a line of a chunk over pages 2-3
    and of its child on page 3 is one line on one page, not a running line on two."""
    if chunk.page_end is not None and chunk.page_end != chunk.page_start:
        return None
    return chunk.page_start
