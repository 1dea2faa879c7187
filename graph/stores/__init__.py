"""Graph store backends, chosen by name: ``open_graph_store("sqlite", path=...)``.

Backends are imported lazily, so the neo4j driver is only needed when the neo4j backend is used.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from graph.base import GraphStore, GraphStoreError

BACKENDS: dict[str, str] = {
    "sqlite": "graph.stores.sqlite_store:SQLiteGraphStore",
    "neo4j": "graph.stores.neo4j_store:Neo4jGraphStore",
}
EXTRAS: dict[str, str] = {"neo4j": "neo4j"}


def open_graph_store(backend: str, **kwargs: Any) -> GraphStore:
    """Build the graph store registered as ``backend`` with the backend's keyword arguments.

    Args:
        backend: A name in :data:`BACKENDS` (``"sqlite"``: ``path``; ``"neo4j"``: ``uri``, ``user``,
            ``password``, ``database``).
        **kwargs: Passed to the backend class.

    Raises:
        GraphStoreError: For an unknown name (the message lists the choices) or a missing optional
            package (the message names the extra to install).
    """
    target = BACKENDS.get(backend)
    if target is None:
        raise GraphStoreError(f"unknown graph backend {backend!r}; choices: {', '.join(sorted(BACKENDS))}")
    module_name, _, class_name = target.partition(":")
    extra = EXTRAS.get(backend)
    if extra is not None and importlib.util.find_spec(extra) is None:
        raise GraphStoreError(f"the {backend} graph backend needs {extra!r}: pip install 'citewise[{extra}]'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as e:
        hint = f": pip install 'citewise[{extra}]'" if extra else ""
        raise GraphStoreError(f"cannot load graph backend {backend!r} ({e}){hint}") from e
    store: GraphStore = cls(**kwargs)
    return store


__all__ = ["BACKENDS", "open_graph_store"]
