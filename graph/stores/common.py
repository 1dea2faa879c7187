"""What every graph store shares: validation, search, traversal, analytics and export.

A backend implements the storage primitives (``_entities``, ``_edges``, ``_name_index``...) and
gets fuzzy search, k-hop neighbourhoods, shortest paths, centrality, Louvain communities and
GraphML / Cypher export from this base, so both backends answer alike.
"""

from __future__ import annotations

import abc
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Literal, TypeVar

import networkx as nx
from rapidfuzz import fuzz, process

from graph.base import Community, DocumentGraph, Entity, GraphStoreError, Relation, Subgraph
from graph.extract.normalize import name_key

_T = TypeVar("_T")

KIND_ORDER = {"extracted": 0, "llm": 1, "cooccurs": 2}
FUZZY_CUTOFF = 80.0


def validate_graph(graph: DocumentGraph) -> None:
    """Refuse a document graph whose relations or mentions name entities it does not declare.

    Each document must declare every entity it uses, so that deleting another document never
    leaves an edge or mention pointing at a removed entity.
    """
    if not graph.doc_id:
        raise GraphStoreError("a DocumentGraph needs a doc_id")
    declared = {e.id for e in graph.entities}
    for r in graph.relations:
        if r.source_id not in declared or r.target_id not in declared:
            raise GraphStoreError(f"relation {r.type!r} of {graph.doc_id!r} names an undeclared entity")
        if r.doc_id not in ("", graph.doc_id):
            raise GraphStoreError(f"relation doc_id {r.doc_id!r} differs from {graph.doc_id!r}")
    for m in graph.mentions:
        if m.entity_id not in declared:
            raise GraphStoreError(
                f"mention of {m.entity_id!r} in {graph.doc_id!r} names an undeclared entity"
            )


def merge_entity(rows: Iterable[tuple[str, str, Sequence[str]]], id_: str, type_: str) -> Entity:
    """One entity from its per-document (doc_id, name, aliases) contributions.

    The name is the smallest contributed name (order-independent, so incremental and from-scratch
    builds agree); aliases are the union of the rest.
    """
    names: set[str] = set()
    aliases: set[str] = set()
    for _doc, name, als in rows:
        names.add(name)
        aliases.update(als)
    name = min(names)
    aliases.update(names)
    key = name_key(name)
    return Entity(
        id=id_, name=name, type=type_, aliases=tuple(sorted(a for a in aliases if name_key(a) != key))
    )


def aggregate(relations: Iterable[Relation]) -> list[Relation]:
    """Collapse evidence rows into one edge per (source, target, type, kind) with summed weight.

    The evidence kept is that of the smallest (doc_id, chunk_id, sentence), for determinism.
    """
    groups: dict[tuple[str, str, str, str], list[Relation]] = defaultdict(list)
    for r in relations:
        groups[(r.source_id, r.target_id, r.type, r.kind)].append(r)
    out = []
    for _key, rows in sorted(groups.items()):
        first = min(rows, key=lambda r: (r.doc_id, r.chunk_id, r.sentence))
        weight = sum(r.weight for r in rows)
        out.append(replace(first, weight=weight))
    return out


def relation_sort_key(r: Relation) -> tuple[int, float, str, str, str, str, str]:
    return (KIND_ORDER.get(r.kind, 9), -r.weight, r.type, r.source_id, r.target_id, r.doc_id, r.chunk_id)


class BaseGraphStore(abc.ABC):
    """Shared behaviour of the graph stores, built on a few storage primitives."""

    @abc.abstractmethod
    def upsert_document(self, graph: DocumentGraph) -> None: ...

    @abc.abstractmethod
    def delete_document(self, doc_id: str) -> None: ...

    @abc.abstractmethod
    def chunks_mentioning(self, entity_ids: Sequence[str]) -> dict[str, list[str]]: ...

    @abc.abstractmethod
    def relations_of(self, entity_ids: Sequence[str], limit: int = 200) -> list[Relation]: ...

    @abc.abstractmethod
    def stats(self) -> dict[str, int]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def _entities(self, ids: Sequence[str] | None = None) -> list[Entity]:
        """Entities with these ids (all when ``None``), sorted by id."""

    @abc.abstractmethod
    def _edges(self, ids: Sequence[str] | None = None) -> list[Relation]:
        """Evidence rows touching ``ids`` (all when ``None``)."""

    @abc.abstractmethod
    def _ids_by_key(self, key: str) -> list[str]:
        """Ids of entities whose name or an alias has name key ``key``."""

    @abc.abstractmethod
    def _name_index(self) -> list[tuple[str, str]]:
        """(name or alias, entity id) for every entity."""

    def _stamp(self) -> object | None:
        """A value that changes whenever the stored graph may have changed; None disables caching.

        Stores that can tell cheaply (SQLite: ``PRAGMA data_version`` plus their own writes) let
        read paths keep derived structures (name keys, adjacency) between calls.
        """
        return None

    def _cached(self, name: str, build: Callable[[], _T]) -> _T:
        """``build()``'s value, reused while :meth:`_stamp` is unchanged."""
        stamp = self._stamp()
        if stamp is None:
            return build()
        cache: dict[str, tuple[object, object]] = self.__dict__.setdefault("_derived", {})
        hit = cache.get(name)
        if hit is not None and hit[0] == stamp:
            return hit[1]  # type: ignore[return-value]
        value = build()
        cache[name] = (stamp, value)
        return value

    def _fuzzy_choices(self) -> tuple[list[tuple[str, str]], list[str]]:
        index = self._name_index()
        return index, [name_key(n) for n, _ in index]

    def find_entities(self, name: str, limit: int = 10) -> list[Entity]:
        """Exact matches on name or alias first (by key), then fuzzy matches (rapidfuzz WRatio)."""
        key = name_key(name)
        if not key or limit < 1:
            return []
        ids = list(dict.fromkeys(self._ids_by_key(key)))
        if len(ids) < limit:
            index, choices = self._cached("fuzzy_choices", self._fuzzy_choices)
            hits = process.extract(
                key, choices, scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF, limit=limit * 5
            )
            for _choice, _score, pos in sorted(hits, key=lambda h: (-h[1], index[h[2]][1])):
                if index[pos][1] not in ids:
                    ids.append(index[pos][1])
        by_id = {e.id: e for e in self._entities(ids[:limit])}
        return [by_id[i] for i in ids[:limit] if i in by_id]

    def neighbors(self, entity_ids: Sequence[str], hops: int = 1, limit: int = 200) -> Subgraph:
        """Breadth-first ``hops``-hop neighbourhood, at most ``limit`` entities, nearest first."""
        if hops < 0 or limit < 1:
            raise ValueError(f"hops must be >= 0 and limit >= 1, got hops={hops!r} limit={limit!r}")
        keep = [e.id for e in self._entities(list(dict.fromkeys(entity_ids)))][:limit]
        frontier = list(keep)
        for _ in range(hops):
            if not frontier or len(keep) >= limit:
                break
            nxt = sorted({o for r in self._edges(frontier) for o in (r.source_id, r.target_id)} - set(keep))
            nxt = nxt[: limit - len(keep)]
            keep.extend(nxt)
            frontier = nxt
        return self._subgraph(keep)

    def shortest_path(self, source_id: str, target_id: str, max_hops: int = 4) -> Subgraph:
        """Shortest path over edges of any kind, either direction; empty when none within ``max_hops``.

        Stores that can cache (see :meth:`_stamp`) search a cached undirected graph from both ends
        (networkx ``bidirectional_shortest_path``); others run a breadth-first search that asks
        the store for the edges of each frontier.
        """
        if not self._entities([source_id, target_id]) or max_hops < 0:
            return Subgraph()
        if self._stamp() is not None:
            graph = self._cached("path_graph", self._path_graph)
            try:
                path = nx.bidirectional_shortest_path(graph, source_id, target_id)
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                return Subgraph()
            return self._path_subgraph(path) if len(path) - 1 <= max_hops else Subgraph()
        parents: dict[str, str | None] = {source_id: None}
        frontier = [source_id]
        for _ in range(max_hops):
            if target_id in parents or not frontier:
                break
            nxt: list[str] = []
            for r in sorted(self._edges(frontier), key=lambda r: (r.source_id, r.target_id)):
                for a, b in ((r.source_id, r.target_id), (r.target_id, r.source_id)):
                    if a in frontier and b not in parents:
                        parents[b] = a
                        nxt.append(b)
            frontier = sorted(nxt)
        if target_id not in parents:
            return Subgraph()
        path = [target_id]
        while parents[path[-1]] is not None:
            path.append(parents[path[-1]])  # type: ignore[arg-type]
        path.reverse()
        return self._path_subgraph(path)

    def top_entities(
        self, k: int = 20, by: Literal["degree", "pagerank"] = "degree"
    ) -> list[tuple[Entity, float]]:
        """Degree = distinct neighbours; PageRank over the weighted undirected graph; ties by name."""
        if by not in ("degree", "pagerank"):
            raise ValueError(f"by must be 'degree' or 'pagerank', got {by!r}")
        graph = self._nx_undirected()
        if graph.number_of_nodes() == 0:
            return []
        scores = dict(graph.degree()) if by == "degree" else nx.pagerank(graph, weight="weight")
        name = dict(graph.nodes(data="name"))
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], name[kv[0]], kv[0]))[:k]
        by_id = {e.id: e for e in self._entities([i for i, _ in ranked])}
        return [(by_id[i], float(s)) for i, s in ranked]

    def communities(self, min_size: int = 3) -> list[Community]:
        """Louvain communities (seeded, so repeatable), largest first, central members first."""
        graph = self._nx_undirected()
        if graph.number_of_edges() == 0:
            return []
        parts = nx.community.louvain_communities(graph, weight="weight", seed=42)
        strength = dict(graph.degree(weight="weight"))
        groups = [sorted(p, key=lambda n: (-strength[n], n)) for p in parts if len(p) >= min_size]
        groups.sort(key=lambda g: (-len(g), min(g)))
        names = {n: d.get("name", n) for n, d in graph.nodes(data=True)}
        return [
            Community(id=i, entity_ids=tuple(g), top_names=tuple(names[n] for n in g[:5]), size=len(g))
            for i, g in enumerate(groups)
        ]

    def export(self, fmt: Literal["graphml", "cypher"]) -> str:
        """GraphML of the entity graph, or Cypher statements (one per line) that load into Neo4j."""
        if fmt == "graphml":
            return _graphml(self._entities(), aggregate(self._edges()))
        if fmt == "cypher":
            return _cypher(self._entities(), aggregate(self._edges()))
        raise ValueError(f"fmt must be 'graphml' or 'cypher', got {fmt!r}")

    def _subgraph(self, ids: Sequence[str]) -> Subgraph:
        wanted = set(ids)
        edges = [r for r in self._edges(list(ids)) if r.source_id in wanted and r.target_id in wanted]
        entities = {e.id: e for e in self._entities(list(ids))}
        return Subgraph(
            entities=tuple(entities[i] for i in ids if i in entities),
            relations=tuple(sorted(aggregate(edges), key=relation_sort_key)),
        )

    def _path_subgraph(self, path: list[str]) -> Subgraph:
        edges = aggregate(self._edges(path))
        steps = []
        for a, b in zip(path, path[1:], strict=False):
            between = [r for r in edges if {r.source_id, r.target_id} == {a, b}]
            steps.append(min(between, key=relation_sort_key))
        entities = {e.id: e for e in self._entities(path)}
        return Subgraph(entities=tuple(entities[i] for i in path), relations=tuple(steps))

    def _path_graph(self) -> nx.Graph:
        """The undirected graph for path search, nodes and edges added in sorted order.

        Sorted, so the path chosen among equally short ones does not depend on the order in which
        documents were ingested.
        """
        graph = nx.Graph()
        graph.add_nodes_from(sorted(e.id for e in self._entities()))
        graph.add_edges_from(
            sorted({(r.source_id, r.target_id) for r in self._edges() if r.source_id != r.target_id})
        )
        return graph

    def _nx_undirected(self) -> nx.Graph:
        graph = nx.Graph()
        for e in self._entities():
            graph.add_node(e.id, name=e.name)
        for r in self._edges():
            if r.source_id == r.target_id:
                continue
            old = graph.get_edge_data(r.source_id, r.target_id, {"weight": 0.0})["weight"]
            graph.add_edge(r.source_id, r.target_id, weight=old + r.weight)
        return graph


def _graphml(entities: list[Entity], relations: list[Relation]) -> str:
    graph = nx.MultiDiGraph()
    for e in entities:
        graph.add_node(e.id, name=e.name, type=e.type, aliases=json.dumps(list(e.aliases)))
    for r in relations:
        graph.add_edge(
            r.source_id, r.target_id, key=f"{r.type}|{r.kind}", type=r.type, kind=r.kind, weight=r.weight,
            doc_id=r.doc_id, chunk_id=r.chunk_id, sentence=r.sentence, page=-1 if r.page is None else r.page,
        )  # fmt: skip
    buf = io.BytesIO()
    nx.write_graphml(graph, buf)
    return buf.getvalue().decode("utf-8")


def cypher_literal(value: object) -> str:
    """A Cypher literal for a str / int / float / bool / None / list of those (export only)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{text}'"


def _cypher(entities: list[Entity], relations: list[Relation]) -> str:
    """Idempotent MERGE statements, one per line, each ending with ``;``."""
    lines = ["CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE;"]
    for e in entities:
        props = f"e.name = {cypher_literal(e.name)}, e.type = {cypher_literal(e.type)}, "
        props += f"e.key = {cypher_literal(name_key(e.name))}, e.aliases = {cypher_literal(list(e.aliases))}"
        lines.append(f"MERGE (e:Entity {{id: {cypher_literal(e.id)}}}) SET {props};")
    for r in relations:
        match = f"MATCH (a:Entity {{id: {cypher_literal(r.source_id)}}}), (b:Entity {{id: {cypher_literal(r.target_id)}}})"
        ident = f"type: {cypher_literal(r.type)}, kind: {cypher_literal(r.kind)}"
        props = (
            f"r.weight = {cypher_literal(r.weight)}, r.doc_id = {cypher_literal(r.doc_id)}, "
            f"r.chunk_id = {cypher_literal(r.chunk_id)}, r.sentence = {cypher_literal(r.sentence)}, "
            f"r.page = {cypher_literal(r.page)}"
        )
        lines.append(f"{match} MERGE (a)-[r:RELATED {{{ident}}}]->(b) SET {props};")
    return "\n".join(lines) + "\n"
