"""``citewise graph ...``: look into the knowledge graph (stats, entity, neighbors, path, export).

The store comes from the service: ``ctx.obj`` is a callable returning an :class:`app.service.Citewise`
(or a dict holding one under ``"service"``); without either, the default index is opened read-only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from graph.base import Entity, GraphError, GraphStore, Relation, Subgraph

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def _store(ctx: click.Context) -> GraphStore:
    obj = ctx.obj
    factory = obj if callable(obj) else obj.get("service") if isinstance(obj, dict) else None
    if callable(factory):
        service = factory()
    else:
        from app.cli import _open_service

        service = _open_service(None, read_only=True)
    store: GraphStore = service.graph_store
    return store


def _graph_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (GraphError, ValueError) as e:
            raise click.ClickException(str(e)) from e

    return wrapper


def _resolve(store: GraphStore, name: str) -> Entity:
    found = store.find_entities(name, limit=1)
    if not found:
        raise click.ClickException(f"no entity matches {name!r}")
    return found[0]


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _entity_table(title: str, entities: Any) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in ("name", "type", "aliases", "id"):
        table.add_column(col)
    for e in entities:
        table.add_row(e.name, e.type, ", ".join(e.aliases), e.id)
    return table


def _relation_table(title: str, relations: list[Relation], names: dict[str, str]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in ("source", "relation", "target", "kind", "weight", "page", "evidence"):
        table.add_column(col)
    for r in relations:
        page = "" if r.page is None else str(r.page)
        table.add_row(
            names.get(r.source_id, r.source_id), r.type, names.get(r.target_id, r.target_id), r.kind,
            f"{r.weight:g}", page, r.sentence[:120],
        )  # fmt: skip
    return table


def _show(*renderables: Any) -> None:
    from rich.console import Console

    console = Console()
    for item in renderables:
        console.print(item)


def _use_index(ctx: click.Context, index: Path | None) -> None:
    """Point ``ctx`` at ``index``; without one, keep a factory a caller passed in (tests, embedding apps)."""
    from app.cli import _open_service

    given = ctx.obj if callable(ctx.obj) else (ctx.obj or {}).get("service")
    if index is not None or given is None:
        ctx.obj = {"service": lambda: _open_service(index, read_only=True)}


def _index_callback(ctx: click.Context, _param: click.Parameter, index: Path | None) -> None:
    if index is not None:
        _use_index(ctx, index)


def _index_option(**kwargs: Any) -> Callable[[Any], Any]:
    return click.option(
        "--index",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Index directory (default: settings index_dir, data/index).",
        **kwargs,
    )


# `--index` is accepted before the subcommand (`graph --index DIR stats`) and after it
# (`graph stats --index DIR`), like every other command's options.
subcommand_index_option = _index_option(expose_value=False, is_eager=True, callback=_index_callback)


@click.group(name="graph")
@_index_option()
@click.pass_context
def graph(ctx: click.Context, index: Path | None) -> None:
    """Explore the knowledge graph: stats, entities, neighbourhoods, paths, export."""
    _use_index(ctx, index)


@graph.command()
@json_option
@subcommand_index_option
@click.pass_context
@_graph_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of entities, relations, mentions and documents, and the most connected entities."""
    store = _store(ctx)
    counts = store.stats()
    top = store.top_entities(k=10)
    if as_json:
        _print_json({"stats": counts, "top_entities": [{**asdict(e), "degree": s} for e, s in top]})
        return
    from rich.table import Table

    table = Table(title="knowledge graph")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(key, str(value))
    _show(table, _entity_table("most connected", [e for e, _ in top]))


@graph.command()
@click.argument("name")
@click.option("--limit", default=10, show_default=True, help="Entities listed at most.")
@json_option
@subcommand_index_option
@click.pass_context
@_graph_errors
def entity(ctx: click.Context, name: str, limit: int, as_json: bool) -> None:
    """Entities matching NAME (exact, alias, then fuzzy) and the best match's relations."""
    store = _store(ctx)
    found = store.find_entities(name, limit=limit)
    if not found:
        raise click.ClickException(f"no entity matches {name!r}")
    rels = store.relations_of([found[0].id], limit=50)
    if as_json:
        _print_json({"entities": [asdict(e) for e in found], "relations": [asdict(r) for r in rels]})
        return
    names = {e.id: e.name for e in store.neighbors([found[0].id], hops=1).entities}
    _show(_entity_table(f"entities matching {name!r}", found), _relation_table(found[0].name, rels, names))


@graph.command()
@click.argument("name")
@click.option("--hops", default=1, show_default=True, type=click.IntRange(0, 4), help="Neighbourhood radius.")
@click.option("--limit", default=50, show_default=True, help="Entities listed at most.")
@json_option
@subcommand_index_option
@click.pass_context
@_graph_errors
def neighbors(ctx: click.Context, name: str, hops: int, limit: int, as_json: bool) -> None:
    """The entities within HOPS of NAME and the relations among them."""
    store = _store(ctx)
    center = _resolve(store, name)
    sub = store.neighbors([center.id], hops=hops, limit=limit)
    _print_subgraph(sub, f"{hops}-hop neighbourhood of {center.name}", as_json)


@graph.command()
@click.argument("source")
@click.argument("target")
@click.option("--max-hops", default=4, show_default=True, type=click.IntRange(1, 8))
@json_option
@subcommand_index_option
@click.pass_context
@_graph_errors
def path(ctx: click.Context, source: str, target: str, max_hops: int, as_json: bool) -> None:
    """A shortest chain of relations from SOURCE to TARGET."""
    store = _store(ctx)
    a, b = _resolve(store, source), _resolve(store, target)
    sub = store.shortest_path(a.id, b.id, max_hops=max_hops)
    if not sub.entities:
        raise click.ClickException(f"no path from {a.name!r} to {b.name!r} within {max_hops} hops")
    _print_subgraph(sub, " -> ".join(e.name for e in sub.entities), as_json)


@graph.command()
@click.option(
    "--format", "fmt", type=click.Choice(["graphml", "cypher"]), default="graphml", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File to write."
)
@subcommand_index_option
@click.pass_context
@_graph_errors
def export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Export the whole graph as GraphML or as Cypher statements that load into Neo4j."""
    text = _store(ctx).export(fmt)  # type: ignore[arg-type]
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {fmt} to {output}", err=True)


def _print_subgraph(sub: Subgraph, title: str, as_json: bool) -> None:
    if as_json:
        _print_json(
            {"entities": [asdict(e) for e in sub.entities], "relations": [asdict(r) for r in sub.relations]}
        )
        return
    names = {e.id: e.name for e in sub.entities}
    _show(_entity_table(title, sub.entities), _relation_table("relations", list(sub.relations), names))
