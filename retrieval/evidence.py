"""Evidence, not everything: the sentences of each source that answer the question, within a budget.

The prompt's cost is paid before the first token: a CPU model processes a few hundred prompt
tokens a second (the bundled Gemma 3 270M about 380 on two idle cores, a 7B model 15-30), so a
prompt packed to the context window (about 3,500 tokens) means seconds to minutes of silence.
:func:`prompt_budget` turns a target time to first token and the model's measured prompt speed
into a token budget; :func:`select_evidence` fills it with the best sentences of the retrieved
sources (each with its neighbours, which often hold the figure behind a pronoun), best source
first, round by round, so every source gets its best sentence before any gets a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.retrievers.compression import split_sentences

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "is",
        "was",
        "were",
        "are",
        "what",
        "how",
        "which",
        "who",
        "did",
        "does",
        "do",
        "by",
        "with",
        "from",
        "as",
        "at",
        "that",
        "this",
        "its",
        "it",
        "be",
        "been",
    ]
)
_GAP = " \u2026 "
MAX_SENTENCE_WORDS = 80


def prompt_budget(target_ttft_s: float, prompt_tokens_per_s: float, *, floor: int, ceiling: int) -> int:
    """Prompt tokens a model can process in ``target_ttft_s``, kept within ``[floor, ceiling]``.

    ``floor`` keeps an answer possible on a slow machine (the target is then missed, and the
    answer still has evidence); ``ceiling`` is what the context window leaves after the answer.
    """
    if target_ttft_s <= 0 or prompt_tokens_per_s <= 0:
        raise ValueError(f"bad target_ttft_s={target_ttft_s} prompt_tokens_per_s={prompt_tokens_per_s}")
    return max(min(floor, ceiling), min(ceiling, int(target_ttft_s * prompt_tokens_per_s)))


@dataclass(frozen=True)
class Evidence:
    """The text kept for each source (a prefix of the sources, in rank order) and its token cost."""

    texts: tuple[str, ...]
    tokens: int
    sentences: int


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP}


def _pieces(text: str) -> list[str]:
    """Sentences of ``text``; runs over :data:`MAX_SENTENCE_WORDS` words (table rows) are cut."""
    out = []
    for sentence in split_sentences(text):
        words = sentence.split()
        out += [" ".join(words[i : i + MAX_SENTENCE_WORDS]) for i in range(0, len(words), MAX_SENTENCE_WORDS)]
    return out


def _ranked(question: str, pieces: Sequence[str]) -> list[int]:
    """Piece indexes, most question words first (earlier pieces first on ties)."""
    wanted = _stems(question)
    scores = [len(wanted & _stems(p)) for p in pieces]
    return sorted(range(len(pieces)), key=lambda i: (-scores[i], i))


def select_evidence(
    question: str,
    texts: Sequence[str],
    *,
    count_tokens: Callable[[str], int],
    budget: int,
    neighbours: int = 1,
    per_source_overhead: int = 16,
) -> Evidence:
    """Pick sentences of ``texts`` (sources in rank order) for ``question`` within ``budget`` tokens.

    Round r gives every source, best first, its r-th best sentence plus ``neighbours`` on each
    side, as long as the total (sentences plus ``per_source_overhead`` tokens for each source's
    fence and label) stays within ``budget``. A source that gets nothing ends the sources used, so
    the kept sources are a prefix of the ranking and keep their numbers.
    """
    pieces = [_pieces(t) for t in texts]
    order = [_ranked(question, p) for p in pieces]
    chosen: list[set[int]] = [set() for _ in texts]
    cost: dict[tuple[int, int], int] = {}
    used, active = 0, len(texts)
    for round_ in range(max((len(p) for p in pieces), default=0)):
        for s in range(active):
            if round_ >= len(order[s]):
                if not chosen[s]:  # a source without text ends the prefix too
                    active = s
                    break
                continue
            best = order[s][round_]
            unit = {i for i in range(best - neighbours, best + neighbours + 1) if 0 <= i < len(pieces[s])}
            new = unit - chosen[s]
            extra = sum(cost.setdefault((s, i), count_tokens(pieces[s][i]) + 1) for i in new)
            extra += per_source_overhead if not chosen[s] and new else 0
            if used + extra > budget:
                if not chosen[s]:
                    active = s  # this source and every later one get nothing
                    break
                continue
            chosen[s] |= new
            used += extra
    # Round 0 stops at the first source that does not fit, so the chosen sources are a prefix.
    kept = [_join(pieces[s], chosen[s]) for s in range(active) if chosen[s]]
    return Evidence(tuple(kept), used, sum(len(c) for c in chosen))


def _join(pieces: Sequence[str], indexes: set[int]) -> str:
    """The chosen pieces in document order, with an ellipsis where sentences were skipped."""
    out: list[str] = []
    previous = None
    for i in sorted(indexes):
        if previous is not None and i != previous + 1:
            out.append(_GAP.strip())
        out.append(pieces[i])
        previous = i
    return " ".join(out)
