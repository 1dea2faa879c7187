"""Command-line front ends: ``ingest`` and ``citewise`` (ask, chat, ui, status, forget, graph, doctor).

Thin by design: every command parses options, calls :class:`app.service.Citewise`, and renders.
Errors a user can cause become ``click.ClickException`` (exit 1) or usage errors (exit 2).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from app.settings import Settings


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _open_service(index: Path | None, *, read_only: bool = False, wait: float = 0, **overrides: Any) -> Any:
    from app.service import Citewise

    try:
        base = Settings()
    except Exception as e:  # pydantic ValidationError from env or citewise.toml
        raise click.ClickException(f"invalid settings: {e}") from e
    data = base.model_dump()
    if index is not None:
        data["index_dir"] = index
    for key, value in overrides.items():
        data[key] = {**data[key], **value}
    service = Citewise(Settings.model_validate(data), read_only=read_only, lock_timeout=wait)
    if read_only and not (service.index_dir / "docstore.sqlite").exists():
        raise click.ClickException(f"no index at {service.index_dir}: run `ingest PATH` first")
    return service


def _errors_to_click(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the packages' errors into clean CLI messages (no traceback for a user's mistake)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.service import ServiceError
        from graph.base import GraphError
        from ingest.base import IngestError
        from retrieval.base import RetrievalError

        try:
            return fn(*args, **kwargs)
        except (ServiceError, IngestError, RetrievalError, GraphError, ValueError) as e:
            raise click.ClickException(str(e)) from e

    return wrapper


index_option = click.option(
    "--index",
    "index",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Index directory (default: settings index_dir, data/index).",
)


# ---------------------------------------------------------------------------------------------- ingest
@click.command(name="ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out paths matching GLOB (repeatable).")
@click.option("--no-graph", is_flag=True, help="Skip knowledge-graph extraction.")
@click.option("--prune", is_flag=True, help="Forget indexed files under PATHS that no longer exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--wait", type=float, default=0, show_default=True, help="Seconds to wait for another writer.")
@click.option(
    "--watch",
    is_flag=True,
    help="Then keep following the folders: new and changed files are ingested, deleted ones forgotten.",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
def ingest_main(
    paths: tuple[Path, ...],
    index: Path | None,
    exclude: tuple[str, ...],
    no_graph: bool,
    prune: bool,
    as_json: bool,
    wait: float,
    watch: bool,
    verbose: int,
) -> None:
    """Ingest files and folders into the index (incremental: unchanged files are skipped).

    With --watch the folders are ingested (and pruned), then followed until Ctrl-C.
    """
    from app.render import IngestProgress, print_report, report_json

    _setup_logging(verbose)
    if watch and as_json:
        raise click.UsageError("--watch prints one line per change; it cannot be combined with --json")
    if watch and not all(p.is_dir() for p in paths):
        raise click.UsageError("--watch follows folders: every PATH must be a folder")
    service = _open_service(index, wait=wait)
    prune = prune or watch  # a watched folder mirrors the index: what was deleted meanwhile goes
    show = sys.stderr.isatty() and not as_json
    with IngestProgress(enabled=show) as progress:
        report = _errors_to_click(service.ingest)(
            list(paths),
            exclude=list(exclude),
            prune=prune,
            graph=False if no_graph else None,
            progress=progress,
        )
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2))
    else:
        print_report(report)
    if watch:
        from app.cli_serve import watch_folders

        service.lock_timeout = max(wait, service.settings.api.lock_wait_s)
        watch_folders(service, list(paths), exclude=list(exclude), graph=False if no_graph else None)
        service.close()
        return
    service.close()
    sys.exit(1 if report.failed else 0)


# ---------------------------------------------------------------------------------------------- citewise
@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """citewise: private question answering over your own documents, with cited pages."""
    _setup_logging(verbose)
    ctx.ensure_object(dict)


cli.add_command(ingest_main)


def _filters(values: tuple[str, ...]) -> dict[str, Any] | None:
    """``--filter file_name=a.pdf --filter page_start>=3`` -> a metadata filter."""
    import re

    clauses: list[dict[str, Any]] = []
    for value in values:
        m = re.fullmatch(r"\s*(\w+)\s*(>=|<=|!=|=|>|<|~)\s*(.+?)\s*", value)
        if not m:
            raise click.BadParameter(
                f"{value!r}: use FIELD=VALUE, FIELD>=N, FIELD<N, FIELD~TEXT", param_hint="--filter"
            )
        key, op, raw = m.groups()
        parsed: Any = int(raw) if raw.lstrip("-").isdigit() else raw
        ops = {"=": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "~": "$contains"}
        clauses.append({key: {ops[op]: parsed}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@cli.command()
@click.argument("question")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the answer, citations and hits as JSON.")
@click.option("--no-llm", is_flag=True, help="Extractive answer: best sentences with citations, no model.")
@click.option(
    "--filter", "filters", multiple=True, metavar="EXPR", help="Metadata filter, e.g. file_name=a.pdf."
)
@click.option("-k", type=int, default=None, help="Number of sources.")
@_errors_to_click
def ask(
    question: str, index: Path | None, as_json: bool, no_llm: bool, filters: tuple[str, ...], k: int | None
) -> None:
    """Answer QUESTION from the indexed documents, citing file and page."""
    from app.render import answer_json, print_answer, stream_answer

    service = _open_service(index, read_only=True)
    mode = "extractive" if no_llm else None
    if as_json:
        answer = service.ask(question, mode=mode, filters=_filters(filters), k=k)
        click.echo(json.dumps(answer_json(answer), indent=2))
    elif sys.stdout.isatty():
        print_answer(stream_answer(service.stream(question, mode=mode, filters=_filters(filters), k=k)))
    else:
        print_answer(service.ask(question, mode=mode, filters=_filters(filters), k=k))


@cli.command()
@index_option
@click.option("--no-llm", is_flag=True, help="Extractive answers, no model.")
@_errors_to_click
def chat(index: Path | None, no_llm: bool) -> None:
    """Interactive chat with memory of the conversation (empty line or Ctrl-D to quit, /new to reset)."""
    from app.render import print_answer, stream_answer

    service = _open_service(index, read_only=True)
    conversation = service.conversation()
    click.echo("Ask about your documents. /new starts a new conversation; an empty line quits.")
    while True:
        try:
            question = click.prompt("you", default="", show_default=False, prompt_suffix="> ")
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        if question.strip() == "/new":
            conversation.reset()
            click.echo("(new conversation)")
            continue
        print_answer(stream_answer(conversation.stream(question, mode="extractive" if no_llm else None)))


@cli.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@_errors_to_click
def status(index: Path | None, as_json: bool) -> None:
    """Show what the index holds."""
    from app.render import print_status

    service = _open_service(index, read_only=True)
    stats = service.stats()
    docs = service.documents()
    if as_json:
        click.echo(
            json.dumps({"stats": stats, "documents": [asdict(d) for d in docs]}, indent=2, default=str)
        )
    else:
        print_status(stats, docs)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@index_option
@_errors_to_click
def forget(path: Path, index: Path | None) -> None:
    """Remove PATH (a file, or every file under a folder) from the index."""
    service = _open_service(index)
    removed = service.forget(path)
    if not removed:
        raise click.ClickException(f"nothing indexed under {path.resolve()}")
    for source in removed:
        click.echo(f"forgot {source}")


@cli.command()
@index_option
@click.option(
    "--repair", is_flag=True, help="Fix what disagrees, from the docstore (no re-parse, no re-embed)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_errors_to_click
def doctor(index: Path | None, repair: bool, as_json: bool) -> None:
    """Check that vectors, docstore, BM25 and graph agree and match the manifest (exit 1 when not)."""
    from app.doctor import iter_issue_lines

    service = _open_service(index, read_only=not repair)
    if repair and not (service.index_dir / "docstore.sqlite").exists():
        raise click.ClickException(f"no index at {service.index_dir}: run `ingest PATH` first")
    report = service.doctor(repair=repair)
    service.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in (f"repaired: {r}" for r in report.repairs):
            click.echo(line)
        for line in iter_issue_lines(report):
            click.echo(line)
        if report.busy:
            click.echo("busy: another citewise process is writing to this index; run doctor when it finishes")
        else:
            click.echo("consistent" if report.consistent else "INCONSISTENT: run `citewise doctor --repair`")
    sys.exit(0 if report.consistent else 1)


@cli.command()
@index_option
@click.option("--port", type=int, default=None, help="Port (default: settings ui.port).")
def ui(index: Path | None, port: int | None) -> None:
    """Start the Streamlit chat UI on localhost."""
    import os
    import subprocess

    settings = Settings()
    app_path = Path(__file__).resolve().parent / "ui" / "streamlit_app.py"
    if not app_path.exists():
        raise click.ClickException(f"the UI is not installed ({app_path} missing)")
    # Streamlit runs from app/ui, so hand it absolute paths resolved here, where the user ran us.
    env = dict(os.environ)
    env["CITEWISE_INDEX_DIR"] = str((index or settings.index_dir).expanduser().resolve())
    env["CITEWISE_CACHE_DIR"] = str(settings.cache_dir.expanduser().resolve())
    config = Path(os.environ.get("CITEWISE_CONFIG", "citewise.toml"))
    if config.is_file():
        env["CITEWISE_CONFIG"] = str(config.resolve())
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path),
        "--server.address",
        settings.ui.host,
        "--server.port",
        str(port or settings.ui.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",
        str(settings.ui.max_upload_mb),
    ]
    raise SystemExit(subprocess.call(cmd, env=env, cwd=str(app_path.parent)))


from app.cli_graph import graph  # noqa: E402  (the group module imports app.cli lazily)

cli.add_command(graph)

from app.cli_eval import eval_command  # noqa: E402  (a sibling command module, registered like graph)

cli.add_command(eval_command)

from app.cli_serve import serve  # noqa: E402  (imports app.cli's helpers, so registered last)

cli.add_command(serve)
