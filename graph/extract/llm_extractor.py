"""Optional LLM refinement: a local model proposes typed triples per chunk, merged into the graph.

The model is reached through ``complete_json(prompt, schema) -> dict``, a callable the LLM layer
provides (llama.cpp constrained by a JSON schema / grammar, so the reply always parses). Work is
bounded by a chunk budget shared by every document of one ingest; the counts used, skipped and
failed are reported in ``DocumentGraph.notes``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graph.base import DocumentGraph, Entity, Mention, Relation, TextUnit
from graph.extract.normalize import KEPT_TYPES, clean_surface, entity_id, name_key, relation_type

logger = logging.getLogger(__name__)

CompleteJSON = Callable[[str, dict[str, Any]], dict[str, Any]]

PROMPT = """Extract facts from the text as (subject, predicate, object) triples.
Subjects and objects are named entities (people, organizations, places, products, events, laws).
The predicate is a short verb phrase such as "founded", "born in", "works for".
Use only facts stated in the text. At most {max_triples} triples.

Text:
{text}
"""


def triple_schema(max_triples: int) -> dict[str, Any]:
    """The JSON schema the LLM's reply must follow (fed to the grammar-constrained sampler)."""
    entity_type = {"type": "string", "enum": list(KEPT_TYPES)}
    triple = {
        "type": "object",
        "properties": {
            "subject": {"type": "string"},
            "subject_type": entity_type,
            "predicate": {"type": "string"},
            "object": {"type": "string"},
            "object_type": entity_type,
        },
        "required": ["subject", "subject_type", "predicate", "object", "object_type"],
    }
    return {
        "type": "object",
        "properties": {"triples": {"type": "array", "items": triple, "maxItems": max_triples}},
        "required": ["triples"],
    }


@dataclass(frozen=True)
class _Triple:
    subject: str
    subject_type: str
    predicate: str
    obj: str
    object_type: str


class LLMGraphRefiner:
    """Adds LLM-proposed relations (``kind="llm"``) to a spaCy-extracted document graph.

    Args:
        complete_json: ``(prompt, schema) -> dict`` from the LLM layer.
        budget_chunks: Chunks sent to the LLM at most until :meth:`reset_budget` (one ingest).
        max_triples_per_chunk: Triples asked for and kept per chunk.
        max_chunk_chars: Characters of a chunk put in the prompt.
    """

    def __init__(
        self,
        complete_json: CompleteJSON,
        budget_chunks: int,
        *,
        max_triples_per_chunk: int = 8,
        max_chunk_chars: int = 2000,
    ) -> None:
        if budget_chunks < 0:
            raise ValueError(f"budget_chunks must be >= 0, got {budget_chunks!r}")
        if max_triples_per_chunk < 1:
            raise ValueError(f"max_triples_per_chunk must be >= 1, got {max_triples_per_chunk!r}")
        if not callable(complete_json):
            raise TypeError(f"complete_json must be callable, got {complete_json!r}")
        self._complete = complete_json
        self.budget_chunks = budget_chunks
        self.max_triples_per_chunk = max_triples_per_chunk
        self.max_chunk_chars = max_chunk_chars
        self.used = 0
        self.skipped = 0
        self.failed = 0

    @property
    def remaining(self) -> int:
        """Chunks that may still be sent before the budget is spent."""
        return max(0, self.budget_chunks - self.used)

    def reset_budget(self) -> None:
        """Start a new ingest: zero the used / skipped / failed counters."""
        self.used = self.skipped = self.failed = 0

    def refine(self, graph: DocumentGraph, units: Sequence[TextUnit]) -> DocumentGraph:
        """Return ``graph`` plus the LLM's triples for as many chunks as the budget allows.

        Chunks naming the most entities go first; a failing call is logged, counted and skipped.
        """
        order = _by_entity_count(graph, units)
        used, skipped, failed = 0, 0, 0
        entities = {e.id: e for e in graph.entities}
        relations: list[Relation] = []
        mentions: list[Mention] = []
        for unit in order:
            if self.remaining == 0:
                skipped += 1
                continue
            self.used += 1
            used += 1
            try:
                triples = self._ask(unit.text)
            except Exception as e:  # the LLM layer may raise anything; one chunk must not stop ingest
                failed += 1
                logger.warning("llm extraction failed chunk_id=%s error=%s", unit.id, e)
                continue
            self._merge(graph.doc_id, unit, triples, entities, relations, mentions)
        self.skipped += skipped
        self.failed += failed
        note = f"llm refinement: {used} chunks sent, {skipped} skipped (budget), {failed} failed"
        return DocumentGraph(
            doc_id=graph.doc_id,
            entities=sorted(entities.values(), key=lambda e: e.id),
            relations=[*graph.relations, *relations],
            mentions=_merge_mentions(graph.mentions, mentions),
            notes=[*graph.notes, note, f"llm relations added: {len(relations)}"],
        )

    def _ask(self, text: str) -> list[_Triple]:
        prompt = PROMPT.format(max_triples=self.max_triples_per_chunk, text=text[: self.max_chunk_chars])
        reply = self._complete(prompt, triple_schema(self.max_triples_per_chunk))
        raw = reply.get("triples", []) if isinstance(reply, dict) else []
        out = []
        for item in raw[: self.max_triples_per_chunk] if isinstance(raw, list) else []:
            triple = _parse_triple(item)
            if triple is not None:
                out.append(triple)
        return out

    def _merge(
        self,
        doc_id: str,
        unit: TextUnit,
        triples: list[_Triple],
        entities: dict[str, Entity],
        relations: list[Relation],
        mentions: list[Mention],
    ) -> None:
        for t in triples:
            src = _entity_for(t.subject, t.subject_type, entities)
            dst = _entity_for(t.obj, t.object_type, entities)
            rtype = relation_type(t.predicate)
            if src is None or dst is None or src.id == dst.id or not rtype:
                continue
            for ent, surface in ((src, t.subject), (dst, t.obj)):
                entities.setdefault(ent.id, ent)
                mentions.append(Mention(ent.id, unit.id, doc_id, surface, unit.page_start, 1))
            sentence = _sentence_with(unit.text, t.subject, t.obj)
            relations.append(
                Relation(src.id, dst.id, rtype, "llm", 1.0, doc_id, unit.id, sentence, unit.page_start)
            )


def _parse_triple(item: Any) -> _Triple | None:
    if not isinstance(item, dict):
        return None
    try:
        triple = _Triple(
            str(item["subject"]).strip(),
            str(item["subject_type"]),
            str(item["predicate"]).strip(),
            str(item["object"]).strip(),
            str(item["object_type"]),
        )
    except KeyError:
        return None
    if triple.subject_type not in KEPT_TYPES or triple.object_type not in KEPT_TYPES:
        return None
    return triple


def _entity_for(surface: str, type_: str, entities: dict[str, Entity]) -> Entity | None:
    """The existing entity with this name or alias (any type), else a new one of ``type_``."""
    display = clean_surface(surface, type_)
    key = name_key(display)
    if not key or len(display) > 80:
        return None
    for ent in entities.values():
        if key == name_key(ent.name) or key in {name_key(a) for a in ent.aliases}:
            return ent
    return Entity(id=entity_id(type_, key), name=display, type=type_)


def _sentence_with(text: str, a: str, b: str) -> str:
    """The first sentence of ``text`` naming both ``a`` and ``b`` (else the chunk's start)."""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        low = sentence.casefold()
        if a.casefold() in low and b.casefold() in low:
            return sentence.strip()[:400]
    return text.strip()[:400]


def _by_entity_count(graph: DocumentGraph, units: Sequence[TextUnit]) -> list[TextUnit]:
    counts: dict[str, int] = {}
    for m in graph.mentions:
        counts[m.chunk_id] = counts.get(m.chunk_id, 0) + 1
    live = [u for u in units if (u.text or "").strip()]
    return sorted(live, key=lambda u: -counts.get(u.id, 0))


def _merge_mentions(base: list[Mention], extra: list[Mention]) -> list[Mention]:
    """Add LLM mentions for (entity, chunk) pairs spaCy did not already record."""
    seen = {(m.entity_id, m.chunk_id) for m in base}
    out = list(base)
    for m in extra:
        if (m.entity_id, m.chunk_id) not in seen:
            seen.add((m.entity_id, m.chunk_id))
            out.append(m)
    return out
