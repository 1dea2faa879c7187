"""Knowledge-graph types and the GraphStore / GraphExtractor protocols.

The graph package never imports ``app``, ``ingest`` or ``retrieval``: it takes text units by
structure (:class:`TextUnit`), so any chunk type with those attributes can be extracted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable


class GraphError(Exception):
    """Base class for knowledge-graph failures."""


class GraphStoreError(GraphError):
    """The graph store is unreachable, misconfigured or refused an operation."""


class ExtractionError(GraphError):
    """Entity or relation extraction failed on a text."""


@runtime_checkable
class TextUnit(Protocol):
    """What extraction needs of a chunk (``retrieval.base.Chunk`` satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def page_start(self) -> int | None: ...


@dataclass(frozen=True)
class Entity:
    """A canonical entity: one per normalized name and type across the corpus."""

    id: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relation:
    """A directed edge between two entities with the evidence it was read from.

    ``kind`` separates relations read from the parse or the LLM (``extracted``) from
    same-sentence co-occurrence edges (``cooccurs``), which are kept apart and weighted.
    """

    source_id: str
    target_id: str
    type: str
    kind: Literal["extracted", "llm", "cooccurs"] = "extracted"
    weight: float = 1.0
    doc_id: str = ""
    chunk_id: str = ""
    sentence: str = ""
    page: int | None = None


@dataclass(frozen=True)
class Mention:
    """An entity named in a chunk."""

    entity_id: str
    chunk_id: str
    doc_id: str
    surface: str = ""
    page: int | None = None
    count: int = 1


@dataclass
class DocumentGraph:
    """Everything one document contributes to the graph."""

    doc_id: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class GraphExtractor(Protocol):
    """Reads entities, relations and mentions out of a document's chunks."""

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        """Extract the graph contribution of one document."""
        ...


@dataclass(frozen=True)
class Subgraph:
    """Entities and the relations among them, e.g. a k-hop neighbourhood or a path."""

    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()


@dataclass(frozen=True)
class Community:
    """A cluster of densely connected entities (Louvain), with its most central members first."""

    id: int
    entity_ids: tuple[str, ...]
    top_names: tuple[str, ...] = ()
    size: int = 0


class GraphStore(Protocol):
    """Persistent knowledge graph. Backends: ``SQLiteGraphStore`` (embedded), ``Neo4jGraphStore``.

    A document's contribution is replaced as a whole: after any sequence of ``upsert_document``
    and ``delete_document`` calls the store equals one built from scratch on the final corpus.
    """

    def upsert_document(self, graph: DocumentGraph) -> None:
        """Replace everything ``graph.doc_id`` contributed with ``graph``, atomically."""
        ...

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's contribution; entities and edges no other document backs go too."""
        ...

    def find_entities(self, name: str, limit: int = 10) -> list[Entity]:
        """Entities whose name or alias matches ``name`` (exact first, then fuzzy)."""
        ...

    def neighbors(self, entity_ids: Sequence[str], hops: int = 1, limit: int = 200) -> Subgraph:
        """The ``hops``-hop neighbourhood of ``entity_ids`` (at most ``limit`` entities)."""
        ...

    def chunks_mentioning(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Map chunk id -> ids of the given entities it mentions."""
        ...

    def relations_of(self, entity_ids: Sequence[str], limit: int = 200) -> list[Relation]:
        """Relations (with evidence) touching any of ``entity_ids``."""
        ...

    def shortest_path(self, source_id: str, target_id: str, max_hops: int = 4) -> Subgraph:
        """A shortest path between two entities, empty when none within ``max_hops``."""
        ...

    def top_entities(
        self, k: int = 20, by: Literal["degree", "pagerank"] = "degree"
    ) -> list[tuple[Entity, float]]:
        """The ``k`` most central entities with their scores."""
        ...

    def communities(self, min_size: int = 3) -> list[Community]:
        """Louvain communities of the entity graph, largest first."""
        ...

    def export(self, fmt: Literal["graphml", "cypher"]) -> str:
        """The whole graph as GraphML or as Cypher statements that load into Neo4j."""
        ...

    def stats(self) -> dict[str, int]:
        """Counts: ``entities``, ``relations``, ``mentions``, ``documents``."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
