"""``citewise eval DATASET.jsonl --docs DIR``: score citewise on your own documents and questions.

The dataset format is documented in ``docs/eval-format.md``; the metrics live in
:mod:`app.evaluation`. With ``--docs`` the folder is ingested first (incrementally, so a second run
costs nothing) into ``--index``, by default a private index under ``<cache_dir>/eval/`` keyed by
the folder, so evaluating never mixes questions into your everyday index.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from app.evaluation import DatasetError, EvalItem, QuestionResult, evaluate, load_jsonl, summarize

SUMMARY_ROWS = (
    ("hit_at_k", "document hit@k (gold document among the retrieved sources)"),
    ("mrr", "MRR of the first gold document"),
    ("page_hit", "page hit (a retrieved source covers a gold page)"),
    ("citation_validity", "citation validity (cited sources retrieved, file+page)"),
    ("token_f1", "token F1 against the reference answer"),
    ("numeric_match", "numeric match (reference figures in the answer)"),
    ("answered_with_valid_citation", "answered with >= 1 valid citation"),
    ("claim_support_rate", "cited sentences passing the claim check"),
    ("unsupported_rate", "answers with an unsupported sentence"),
    ("false_refusal_rate", "refused although answerable"),
    ("correct_refusal_rate", "refused when the documents cannot answer"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p95_s", "latency p95 (s)"),
    ("ttft_p50_s", "time to first token p50 (s)"),
)


def default_eval_index(cache_dir: Path, docs: Path) -> Path:
    """A private index per documents folder: ``<cache_dir>/eval/<folder name>-<hash of its path>``."""
    resolved = docs.expanduser().resolve()
    digest = hashlib.sha1(str(resolved).encode("utf-8")).hexdigest()[:10]
    return cache_dir / "eval" / f"{resolved.name or 'root'}-{digest}"


def _open(index: Path | None, docs: Path | None, model: Path | None) -> Any:
    from app.cli import _open_service
    from app.settings import Settings

    overrides: dict[str, Any] = {}
    if model is not None:
        overrides["llm"] = {"model_path": model, "answer_mode": "llm"}
    if docs is not None and index is None:
        index = default_eval_index(Settings().cache_dir, docs)
    return _open_service(index, read_only=docs is None, **overrides)


def _ingest(service: Any, docs: Path, graph: bool, quiet: bool) -> None:
    report = service.ingest([docs], graph=graph)
    added, failed = report.count("added"), len(report.failed)
    if not quiet:
        click.echo(
            f"indexed {docs} into {service.index_dir}: {added} new or changed, {failed} failed",
            err=True,
        )
    if not service.documents():
        raise click.ClickException(f"nothing could be indexed from {docs}")


def _check_model(service: Any) -> None:
    from retrieval.llm.base import LLMUnavailableError

    try:
        service.llm  # noqa: B018  (load now: a bad --model must fail before the first question)
    except LLMUnavailableError as e:
        raise click.ClickException(f"cannot load the model: {e}") from e


def _by_type(results: list[QuestionResult]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in results:
        groups[r.type or "-"].append(r)
    return {name: summarize(rows) for name, rows in sorted(groups.items())} if len(groups) > 1 else {}


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_tables(summary: dict[str, Any], by_type: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['scored']} of {summary['questions']} questions scored")
    table.add_column("metric")
    table.add_column("all", justify="right")
    for name in by_type:
        table.add_column(name, justify="right")
    for key, label in SUMMARY_ROWS:
        table.add_row(label, _fmt(summary[key]), *(_fmt(s[key]) for s in by_type.values()))
    Console().print(table)


def _run(service: Any, items: list[EvalItem], options: dict[str, Any], show: bool) -> list[QuestionResult]:
    from rich.progress import Progress

    with Progress(transient=True, disable=not show) as progress:
        task = progress.add_task("asking", total=len(items))
        return list(evaluate(service, items, on_result=lambda _: progress.advance(task), **options))


@click.command(name="eval")
@click.argument("dataset", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--docs",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Documents the questions are about; ingested (incrementally) before asking.",
)
@click.option(
    "--index",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Index directory (default with --docs: a private one under cache_dir/eval/; else index_dir).",
)
@click.option(
    "--model", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None, help="A GGUF file."
)
@click.option("--no-llm", is_flag=True, help="Extractive answers, no model (retrieval and citations only).")
@click.option("--no-graph", is_flag=True, help="Skip knowledge-graph extraction while ingesting --docs.")
@click.option("-k", type=int, default=None, help="Number of sources per answer.")
@click.option("--limit", type=int, default=None, help="Ask only the first N questions.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary and every question's scores as JSON."
)
def eval_command(
    dataset: Path,
    docs: Path | None,
    index: Path | None,
    model: Path | None,
    no_llm: bool,
    no_graph: bool,
    k: int | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Ask every question of DATASET (JSONL) and score retrieval, citations and answers."""
    from app.cli import _errors_to_click

    if no_llm and model is not None:
        raise click.UsageError("--model and --no-llm exclude each other")
    try:
        items = load_jsonl(dataset)[:limit]
    except DatasetError as e:
        raise click.ClickException(str(e)) from e
    service = _open(index, docs, model)
    try:
        if docs is not None:
            _errors_to_click(_ingest)(service, docs, not no_graph, as_json)
        if not no_llm and model is not None:
            _check_model(service)
        options = {"mode": "extractive" if no_llm else None, "k": k}
        results = _errors_to_click(_run)(service, items, options, sys.stderr.isatty() and not as_json)
    finally:
        service.close()
    summary, by_type = summarize(results, total=len(items)), _by_type(results)
    if as_json:
        payload = {
            "dataset": str(dataset),
            "docs": None if docs is None else str(docs),
            "index": str(service.index_dir),
            "model": None if no_llm else str(model or "bundled"),
            "summary": summary,
            "by_type": by_type,
            "results": [r.model_dump() for r in results],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_tables(summary, by_type)
    if not results:
        raise click.ClickException("no question could be answered (see the log with -v)")
