"""Regenerate ``docs/benchmarks.md`` and its plots (``docs/img/bench-*.png``) from ``bench/results/*.json``.

    python -m bench.report            # full-set results first (bench/results/*.json)
    python -m bench.report --quick    # quick-set results first (bench/results/quick/*.json)

Every table is rendered by the benchmark's own ``markdown`` function from its results file, under
the command that produced it, when it ran, and on which machine. A benchmark without a results
file is listed as not run. ``--quick`` prefers the quick set's results (``bench/results/quick/``)
over the full set's. Notes written by a person (what limits a figure, why it falls short of
a target) go in ``bench/results/<name>.notes.md`` and are printed under that section.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS

log = logging.getLogger("bench.report")

DOC = REPO / "docs" / "benchmarks.md"
IMG = REPO / "docs" / "img"


def results_dir(label: str) -> Path:
    """Where one set's results live: ``bench/results`` (full) or ``bench/results/quick``."""
    return RESULTS if label == "full" else RESULTS / "quick"


def load(name: str, prefer: str = "full") -> dict[str, Any] | None:
    """A benchmark's results, or None when it has not run.

    ``prefer="full"`` reads ``bench/results/<name>.json`` and falls back to the quick set's
    ``bench/results/quick/<name>.json``; ``prefer="quick"`` the other way round. The result says
    which set it is under ``"set"``.
    """
    for label in ("full", "quick") if prefer == "full" else ("quick", "full"):
        path = results_dir(label) / f"{name}.json"
        if path.exists():
            return {**json.loads(path.read_text()), "set": label}
    return None


def provenance(result: dict[str, Any]) -> str:
    """One line: the command, the time and the machine behind a results file."""
    m = result.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items() if v)
    return (
        f"Command: `{result.get('command', '?')}`; run {result.get('timestamp', '?')} on "
        f"{m.get('cpu') or 'unknown CPU'} ({m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB), "
        f"Python {m.get('python', '?')}; {versions}."
    )


# ------------------------------------------------------------------------------------ plots
def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 3.6), dpi=110)


_img_dir = [IMG]  # where plots go: next to the report being written (set by write_report)


def _save(fig: Any, name: str) -> str:
    img = _img_dir[0]
    img.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(img / name)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f"![{name}](img/{name})"


def _bars(name: str, labels: list[str], values: list[float], ylabel: str, title: str) -> str:
    fig, ax = _figure()
    ax.barh(labels[::-1], values[::-1], color="#4477aa")
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:.3g}", va="center", fontsize=8)
    ax.set_xlabel(ylabel)
    ax.set_title(title, fontsize=10)
    return _save(fig, name)


def plot_ingest(r: dict[str, Any]) -> str:
    o, f = r["ours"], r["floor"]
    labels, values = (
        ["citewise pipeline", "raw encode (floor)"],
        [o["children"] / o["wall_s"], f["chunks"] / f["wall_s"]],
    )
    if "langchain" in r:
        labels.append("LangChain reference")
        values.append(r["langchain"]["chunks"] / r["langchain"]["wall_s"])
    return _bars(
        "bench-ingest.png", labels, values, "chunks / s (higher is better)", f"Ingestion: {r['corpus']}"
    )


def plot_graph(r: dict[str, Any]) -> str:
    fig, ax = _figure()
    names = list(r["pairs"])
    for i, metric in enumerate(("precision", "recall", "f1")):
        ax.bar(
            [x + 0.27 * i for x in range(len(names))],
            [r["pairs"][n][metric] for n in names],
            0.27,
            label=metric,
        )
    ax.set_xticks([x + 0.27 for x in range(len(names))], names, fontsize=8)
    ax.set_title(f"Re-DocRED relation pairs ({r['documents']} documents)", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, "bench-graph.png")


def plot_quality(r: dict[str, Any]) -> str:
    quality = r["quality"]
    fig, ax = _figure()
    names = list(quality)
    for i, metric in enumerate(("hit@1", "hit@5", "mrr")):
        ax.bar(
            [x + 0.27 * i for x in range(len(names))],
            [quality[n]["overall"][metric] for n in names],
            0.27,
            label=metric,
        )
    ax.set_xticks([x + 0.27 for x in range(len(names))], names, fontsize=8, rotation=20)
    ax.set_ylim(0, 1)
    ax.set_title(f"Retrieval ablation on sec10q ({r['questions']} questions, k={r['k']})", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, "bench-retrieval-quality.png")


def latency_series(
    retrieval: dict[str, Any] | None, scale: dict[str, Any] | None
) -> dict[str, list[tuple[int, float]]]:
    """p50 ms per system and corpus size, from the retrieval benchmark and the scale benchmark."""
    series: dict[str, list[tuple[int, float]]] = {}
    sources = [(retrieval or {}).get("latency") or {}]
    sources += [
        {r["chunks"]: r["systems"]} for r in ((scale or {}).get("sizes") or {}).values() if r.get("systems")
    ]
    for source in sources:
        for size, systems in source.items():
            for name, t in systems.items():
                series.setdefault(name, []).append((int(size), float(t["p50_ms"])))
    for r in ((scale or {}).get("sizes") or {}).values():
        for name, t in r["index_types"].items():
            series.setdefault(f"FaissVectorStore {name} (+ docstore fetch)", []).append(
                (r["chunks"], t["search_with_docstore"]["p50_ms"])
            )
        series.setdefault("raw FAISS IndexFlatIP", []).append(
            (r["chunks"], r["raw_faiss_flat"]["search"]["p50_ms"])
        )
    return {name: sorted(set(points)) for name, points in series.items()}


def plot_latency(series: dict[str, list[tuple[int, float]]]) -> str:
    fig, ax = _figure()
    fig.set_size_inches(9, 4.5)
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("p50 ms per query")
    ax.set_title("Retrieval latency by corpus size", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, "bench-latency.png")


def plot_answer(r: dict[str, Any]) -> str:
    labels = [f"{s['model']} {p}" for s in r["speed"] for p in ("short", "rag")]
    values = [s[p]["decode_tok_s"] for s in r["speed"] for p in ("short", "rag")]
    return _bars("bench-answer.png", labels, values, "decode tokens / s", "LLM speed (prompt: short / RAG)")


def plot_eval(r: dict[str, Any]) -> str:
    keys = [
        "hit_at_k",
        "mrr",
        "citation_validity",
        "token_f1",
        "numeric_match",
        "correct_refusal_rate",
        "false_refusal_rate",
    ]
    s = r["summary"]
    kept = [k for k in keys if s.get(k) is not None]
    return _bars(
        "bench-eval.png",
        kept,
        [s[k] for k in kept],
        "share (0-1)",
        f"citewise eval on sec10q ({s['scored']} questions)",
    )


# ------------------------------------------------------------------------------------ sections
def markdown_eval(r: dict[str, Any]) -> str:
    """The ``eval`` step: summary and breakdown by question type."""
    from app.cli_eval import SUMMARY_ROWS

    groups = {"all": r["summary"], **r.get("by_type", {})}
    lines = [
        f"Dataset: {r['dataset']}; model: {r['model']}; {r['summary']['scored']} of "
        f"{r['summary']['questions']} questions scored.",
        "",
        "| metric | " + " | ".join(groups) + " |",
        "|---|" + "---:|" * len(groups),
    ]
    for key, label in SUMMARY_ROWS:
        cells = ["-" if g.get(key) is None else f"{g[key]:.3f}" for g in groups.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _retrieval_md(r: dict[str, Any]) -> str:
    from bench.retrieval import markdown

    return markdown(r.get("quality"), r.get("latency"))


def _answer_md(r: dict[str, Any]) -> str:
    from bench.answer import markdown

    return markdown(r["speed"], r.get("quality"))


def _module_md(module: str) -> Callable[[dict[str, Any]], str]:
    def render(r: dict[str, Any]) -> str:
        import importlib

        return str(importlib.import_module(module).markdown(r))

    return render


Section = tuple[str, str, Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], str] | None]
SECTIONS: list[Section] = [
    ("ingest", "Ingestion (sec10q, reports)", _module_md("bench.ingest"), plot_ingest),
    ("graph_eval", "Graph extraction (Re-DocRED dev)", _module_md("bench.graph_eval"), plot_graph),
    ("retrieval", "Retrieval quality (sec10q) and latency", _retrieval_md, None),
    (
        "pages",
        "Evidence pages (FinanceBench-dev) and the stage ablation on every set",
        _module_md("bench.pages"),
        None,
    ),
    ("pages_tuning", "Weights fitted on the tune halves", _module_md("bench.pages_tuning"), None),
    ("scale", "Retrieval scale: exact vs approximate FAISS", _module_md("bench.scale"), None),
    ("answer", "Answers: LLM speed and quality", _answer_md, plot_answer),
    ("eval", "`citewise eval` on sec10q: citations, refusals, answer overlap", markdown_eval, plot_eval),
    ("refusal_calibration", "Refusal threshold, chosen on the tune half", _module_md("bench.refusal"), None),
    (
        "refusal",
        "Refusals: answerable and unanswerable questions side by side",
        _module_md("bench.refusal"),
        None,
    ),
    (
        "api",
        "HTTP API: overhead over the library, 16 concurrent clients, folder sync",
        _module_md("bench.api"),
        None,
    ),
    (
        "formats",
        "Scanned pages and tables: OCR speed and accuracy, table cost",
        _module_md("bench.formats"),
        None,
    ),
    (
        "answer_eval_extractive",
        "Answers: extractive mode, claim checks",
        _module_md("bench.answer_eval"),
        None,
    ),
    (
        "answer_eval_llm",
        "Answers: LLM with evidence packing and citation grammar",
        _module_md("bench.answer_eval"),
        None,
    ),
    (
        "answer_prompt_sizes",
        "Answers: prompt size and first-token time, evidence vs window packing",
        _module_md("bench.answer_eval"),
        None,
    ),
]


def section(
    name: str, title: str, render: Callable[..., str], plot: Callable[..., str] | None, prefer: str = "full"
) -> str:
    """One benchmark's part of the report (or a line saying it has not run)."""
    result = load(name, prefer)
    out = [f"## {title}", ""]
    if result is None:
        return "\n".join([*out, f"Not run yet (no `bench/results/{name}.json`): `make bench`.", ""])
    out += [f"**{result['set']} set.** " + provenance(result), ""]
    try:
        out.append(render(result))
        if plot is not None:
            out += ["", plot(result)]
        if name == "retrieval" and result.get("quality"):
            out += ["", plot_quality(result)]
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        log.warning("cannot render %s: %r", name, e)
        out.append(f"(results file present but not renderable: {e!r})")
    notes = _notes(name, result)
    if notes:
        out += ["", notes]
    return "\n".join([*out, ""])


def _notes(name: str, result: dict[str, Any]) -> str:
    """A person's notes on a result: ``<name>.notes.md`` beside the results file it came from."""
    path = results_dir(result.get("set", "quick")) / f"{name}.notes.md"
    return path.read_text().strip() if path.exists() else ""


def run_tables(prefer: str = "full") -> str:
    """The recorded harness runs of both sets, the preferred one first.

    ``make bench`` and ``make bench-full`` each keep their own ``run.json``; showing both keeps the
    evidence that the quick set runs end to end when full-set steps are run later.
    """
    order = ["full", "quick"] if prefer == "full" else ["quick", "full"]
    tables = []
    for label in order:
        path = results_dir(label) / "run.json"
        if path.exists():
            tables.append(run_table({**json.loads(path.read_text()), "set": label}))
    return "\n\n".join(tables) if tables else "No harness run recorded yet."


def run_table(run: dict[str, Any]) -> str:
    """Which steps of one harness run ran, how long they took, and whether they failed."""
    lines = [
        f"Harness run: `{run['command']}` ({run['mode']} set), {run['timestamp']}, {run['total_seconds']} s.",
        "",
        "| step | mode | seconds | load avg (1 min) before / after | status | command |",
        "|---|---|---:|---|---|---|",
    ]
    for s in run["steps"]:
        status = "ok" if s["exit_code"] == 0 else f"FAILED ({s['exit_code']})"
        loadavg = " / ".join(str(s[k]) for k in ("load_before", "load_after") if k in s) or "-"
        lines.append(
            f"| {s['step']} | {s.get('mode', '?')} | {s['seconds']} | {loadavg} | {status} | `{s['command']}` |"
        )
    lines += [
        "",
        "A load average above the core count means other work shared the machine: timings of that "
        "step are pessimistic.",
    ]
    notes = _notes("run", run)
    return "\n".join([*lines, "", notes] if notes else lines)


HEADER = """# Benchmarks

Generated by `python -m bench.report` from `bench/results/*.json` (full set) and
`bench/results/quick/*.json` (quick set); do not edit by hand. `make bench` runs the quick set
(small limits, the five 2023 Q3 filings for retrieval) and shows it; `make bench-full` runs
everything. Every number below comes from the run whose set, command, time and machine are
printed above it. Data: `../shared/data` (see its README), never copied into this repository.
"""


def write_report(path: Path = DOC, prefer: str = "full") -> Path:
    """Write the whole report and its plots (in ``img/`` beside it); returns the report's path.

    ``prefer`` picks the full or the quick set's results where both exist (``make bench`` shows
    its own quick run; ``make bench-full`` and ``python -m bench.report`` the full set).
    """
    if prefer not in ("full", "quick"):
        raise ValueError(f"prefer must be full or quick, got {prefer!r}")
    _img_dir[0] = path.parent / "img"
    parts = [HEADER, "## Runs", "", run_tables(prefer), ""]
    for name, title, render, plot in SECTIONS:
        parts.append(section(name, title, render, plot, prefer))
    series = latency_series(load("retrieval", prefer), load("scale", prefer))
    if series:
        parts += ["## Latency by corpus size (all systems)", "", plot_latency(series), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    print(f"written {write_report(prefer='quick' if '--quick' in args else 'full')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
