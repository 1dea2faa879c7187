"""The knowledge graph: entity lookup, neighbourhood, shortest path."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.api.deps import ready_runtime
from app.api.errors import ApiError
from app.api.runtime import Runtime
from app.api.schemas import EntityOut, EntityResponse, RelationOut, SubgraphResponse
from app.api.streaming import call

router = APIRouter(prefix="/v1/graph", tags=["graph"])
Ready = Annotated[Runtime, Depends(ready_runtime)]
Name = Annotated[str, Query(min_length=1, max_length=200, description="An entity name or alias (fuzzy).")]


def _store(runtime: Runtime) -> Any:
    if not runtime.settings.graph.enabled:
        raise ApiError(404, "the knowledge graph is disabled (graph.enabled = false)", "graph_disabled")
    return runtime.service.graph_store


def _entities(entities: Any) -> list[EntityOut]:
    return [EntityOut(id=e.id, name=e.name, type=e.type, aliases=list(e.aliases)) for e in entities]


def _relations(relations: Any) -> list[RelationOut]:
    return [RelationOut(**asdict(r)) for r in relations]


async def _resolve(store: Any, name: str, param: str) -> Any:
    found = await call(store.find_entities, name, limit=1)
    if not found:
        raise ApiError(404, f"no entity matches {name!r}", "not_found", param=param)
    return found[0]


@router.get("/entities", response_model=EntityResponse, summary="Find entities by name")
async def entities(
    runtime: Ready, name: Name, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> EntityResponse:
    """Entities matching ``name`` (exact, alias, then fuzzy), and the best match's relations."""
    store = _store(runtime)
    found = await call(store.find_entities, name, limit=limit)
    if not found:
        raise ApiError(404, f"no entity matches {name!r}", "not_found", param="name")
    relations = await call(store.relations_of, [found[0].id], limit=50)
    return EntityResponse(entities=_entities(found), relations=_relations(relations))


@router.get("/neighbors", response_model=SubgraphResponse, summary="An entity's neighbourhood")
async def neighbors(
    runtime: Ready,
    name: Name,
    hops: Annotated[int, Query(ge=0, le=4)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SubgraphResponse:
    """The entities within ``hops`` relations of the best match for ``name``, and their relations."""
    store = _store(runtime)
    center = await _resolve(store, name, "name")
    sub = await call(store.neighbors, [center.id], hops=hops, limit=limit)
    return SubgraphResponse(entities=_entities(sub.entities), relations=_relations(sub.relations))


@router.get("/path", response_model=SubgraphResponse, summary="Shortest path between two entities")
async def path(
    runtime: Ready,
    source: Name,
    target: Name,
    max_hops: Annotated[int, Query(ge=1, le=8)] = 4,
) -> SubgraphResponse:
    """A shortest chain of relations from ``source`` to ``target`` (404 when none within ``max_hops``)."""
    store = _store(runtime)
    a = await _resolve(store, source, "source")
    b = await _resolve(store, target, "target")
    sub = await call(store.shortest_path, a.id, b.id, max_hops=max_hops)
    if not sub.entities:
        raise ApiError(404, f"no path from {a.name!r} to {b.name!r} within {max_hops} hops", "not_found")
    return SubgraphResponse(entities=_entities(sub.entities), relations=_relations(sub.relations))
