"""Terminal rendering for the CLI (rich): ingest progress and summary, answers, status.

User-facing output goes through here, never through logging.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import asdict
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

err = Console(stderr=True)
out = Console()


class IngestProgress:
    """A live progress display fed by the pipeline's ``(event, data)`` callback; silent when disabled."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: Any = None
        self._start = time.monotonic()

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files"),
                TextColumn("{task.fields[chunks]} chunks"),
                TextColumn("{task.fields[rate]} emb/s"),
                TextColumn("[dim]{task.fields[current]}"),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if self._progress is None:
            return
        if event == "start":
            self._task = self._progress.add_task(
                "ingest", total=data["files"], chunks=0, rate="-", current=""
            )
        elif event == "file" and self._task is not None:
            outcome = data["outcome"]
            embed_s = data.get("embed_s") or 0.0
            rate = f"{data['embedded'] / embed_s:.0f}" if embed_s > 0 else "-"
            task = self._progress.tasks[0]
            name = outcome.path.rsplit("/", 1)[-1]
            self._progress.update(
                self._task,
                advance=1,
                chunks=task.fields["chunks"] + outcome.chunks,
                rate=rate,
                current=name[:40],
            )


def report_json(report: Any) -> dict[str, Any]:
    """The ingest report as JSON-ready data."""
    return {
        "summary": report.summary(),
        "embedded": report.embedded,
        "timings_s": {k: round(v, 3) for k, v in report.timings.items()},
        "files": [asdict(o) for o in report.outcomes],
    }


def print_report(report: Any) -> None:
    """Summary table of an ingest, then every failure and skip with its reason."""
    summary = report.summary()
    table = Table(title="ingest summary", show_header=True)
    for status in summary:
        table.add_column(status, justify="right")
    table.add_row(*(str(v) for v in summary.values()))
    out.print(table)
    total = report.timings.get("total", 0.0)
    embed = report.timings.get("embed", 0.0)
    rate = f", {report.embedded / embed:.0f} chunks/s embedding" if embed else ""
    out.print(f"{report.embedded} chunks embedded in {total:.1f}s{rate}")
    problems = [o for o in report.outcomes if o.status in ("failed", "skipped")]
    if problems:
        detail = Table(title="not ingested", show_header=True)
        detail.add_column("status")
        detail.add_column("file", overflow="fold")
        detail.add_column("reason", overflow="fold")
        for o in problems:
            detail.add_row(
                "[red]failed" if o.status == "failed" else "[yellow]skipped", escape(o.path), escape(o.reason)
            )
        out.print(detail)
    warned = [o for o in report.outcomes if o.warnings]
    for o in warned:
        out.print(f"[yellow]warning[/] {escape(o.path)}: {escape('; '.join(o.warnings))}")


def print_sync(report: Any) -> None:
    """One line per file a folder sync changed (``ingest --watch``), never wrapped, so scripts can read it."""
    stamp = time.strftime("%H:%M:%S")
    ingested = report.ingested.outcomes if report.ingested is not None else []
    for o in ingested:
        if o.status in ("added", "updated"):
            out.print(f"{stamp} [green]{o.status}[/] {escape(o.path)} ({o.chunks} chunks)", soft_wrap=True)
        elif o.status in ("failed", "skipped"):
            out.print(f"{stamp} [red]{o.status}[/] {escape(o.path)}: {escape(o.reason)}", soft_wrap=True)
        elif o.status == "removed":
            out.print(f"{stamp} [yellow]removed[/] {escape(o.path)}", soft_wrap=True)
    for source in report.forgotten:
        out.print(f"{stamp} [yellow]removed[/] {escape(source)}", soft_wrap=True)
    if report.error:
        err.print(f"{stamp} [red]sync failed[/]: {escape(report.error)}")


def answer_json(answer: Any) -> dict[str, Any]:
    """The answer as JSON-ready data."""
    return answer.to_dict()  # type: ignore[no-any-return]


def stream_answer(events: Iterable[Any]) -> Any:
    """Print text deltas as they arrive; return the final answer."""
    final = None
    streamed = False
    for event in events:
        text = getattr(event, "text", None)
        if isinstance(text, str) and not hasattr(event, "answer"):
            sys.stdout.write(text)
            sys.stdout.flush()
            streamed = True
        final = getattr(event, "answer", final)
    if streamed:
        sys.stdout.write("\n")
    return _Printed(final) if streamed else final


class _Printed:
    """Marks an answer whose text was already streamed to the terminal."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer


def print_answer(answer: Any) -> None:
    """Answer text (unless already streamed), then its sources with file and page."""
    if isinstance(answer, _Printed):
        answer = answer.answer
    else:
        out.print(escape(answer.text))
    if answer is None:
        return
    for claim in answer.claims:
        if not claim.supported:
            missing = ", ".join(claim.missing) or "nothing checkable"
            out.print(
                f"[yellow]⚠ unsupported:[/] {escape(claim.sentence)} [dim](not in the source: {escape(missing)})"
            )
            if claim.replacement:
                out.print(f"  [dim]shown instead: {escape(claim.replacement)}")
    for note in answer.notes:
        out.print(f"[dim]note: {escape(note)}")
    sources = answer.citations or answer.consulted
    if sources:
        heading = "sources" if answer.citations else "sources consulted (the answer cites none)"
        out.print(f"[bold]{heading}:")
        for c in sources:
            out.print(f"  [{c.n}] {escape(c.label())}: [dim]{escape(_short(c.snippet))}")


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_status(stats: dict[str, Any], documents: Iterable[Any]) -> None:
    """Index statistics and the document list."""
    out.print(f"[bold]index[/] {escape(str(stats['index_dir']))}")
    for key in ("documents", "parents", "children", "vectors", "index_type", "graph_backend"):
        out.print(f"  {key}: {stats.get(key)}")
    for key, value in (stats.get("graph") or {}).items():
        out.print(f"  graph {key}: {value}")
    if stats.get("graph_pending"):
        out.print(
            f"  [yellow]graph pending: {stats['graph_pending']} documents[/] (run `citewise doctor --repair`)"
        )
    table = Table(show_header=True)
    for col in ("file", "type", "pages", "chunks", "entities", "ingested"):
        table.add_column(col)
    for d in documents:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.ingested_at))
        table.add_row(
            escape(d.file_name), d.file_type, str(d.pages or "-"), str(d.n_children), str(d.n_entities), when
        )
    out.print(table)
