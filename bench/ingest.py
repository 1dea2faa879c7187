"""Ingestion benchmark: our pipeline stage by stage, the LangChain reference pipeline, and the
raw-encode floor, each in its own process, in one run.

    python -m bench.ingest                       # sec10q (20 10-Q PDFs) + graph on reports/
    python -m bench.ingest --limit 5 --no-graph  # quicker
    python -m bench.ingest --graph-only --reports-limit 4 --repeat 2  # graph overhead alone, A/B

Figures: pages/s, chunks/s, stage seconds, peak RSS; ratio of our wall time to the time
``SentenceTransformer.encode`` alone needs for the same chunks (the physical floor: every
pipeline must at least embed its chunks). Re-ingest of the unchanged corpus and of one changed
file are measured too. With the graph on, extraction throughput on ``reports/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import peak_rss_mb, run_variant, shared_data, write_result


# ----------------------------------------------------------------------------------------- variants
def variant_ours(docs: Path, index: Path, graph: bool, graph_worker: bool = False) -> dict[str, Any]:
    """Our pipeline; with ``graph_worker`` the graph is extracted in a worker process, overlapped
    with embedding, instead of after each document is stored."""
    from app.service import Citewise

    service = Citewise.open(index, graph={"enabled": graph})
    service.pipeline.graph_worker = graph_worker
    service.pipeline.graph_worker_min_bytes = 0  # the variant decides, whatever the corpus size
    service.embedder.embed(["warm up"])  # model load is not ingestion
    t0 = time.perf_counter()
    report = service.ingest([docs])
    wall = time.perf_counter() - t0
    counts = service.store.docstore.counts()
    pages = sum(d.pages or 0 for d in service.documents())
    t1 = time.perf_counter()
    again = service.ingest([docs])
    unchanged_s = time.perf_counter() - t1
    changed = sorted(docs.glob("*.pdf"))[0]
    with open(changed, "ab") as fh:  # bytes after %%EOF: a new hash, the same text
        fh.write(b"\n% touched by bench\n")
    t2 = time.perf_counter()
    one = service.ingest([docs])
    one_s = time.perf_counter() - t2
    result = {
        "wall_s": round(wall, 2),
        "files": report.count("added"),
        "failed": [(o.path, o.reason) for o in report.failed],
        "pages": pages,
        "children": counts["children"],
        "parents": counts["parents"],
        "stages_s": {k: round(v, 2) for k, v in report.timings.items()},
        "reingest_unchanged_s": round(unchanged_s, 3),
        "reingest_unchanged_embedded": again.embedded,
        "reingest_one_changed_s": round(one_s, 2),
        "reingest_one_changed_embedded": one.embedded,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if graph:
        result["graph"] = service.graph_store.stats()
    return result


def variant_parse(docs: Path) -> dict[str, Any]:
    """Parsing alone, sequential and in-process (what the pipeline overlaps with embedding)."""
    from ingest.loaders import load_document

    t0 = time.perf_counter()
    pages = chars = 0
    for path in sorted(docs.glob("*.pdf")):
        doc = load_document(path, max_pages=5000, max_chars=20_000_000)
        pages += doc.pages or 0
        chars += len(doc.text)
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "pages": pages,
        "chars": chars,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def variant_floor(index: Path) -> dict[str, Any]:
    """``SentenceTransformer.encode`` of exactly our child chunks, nothing else."""
    from sentence_transformers import SentenceTransformer

    from retrieval.embeddings.sentence_transformer_embedder import bundled_model_path
    from retrieval.vectorstores.docstore import SQLiteDocStore

    texts = [c.text for c in SQLiteDocStore(index / "docstore.sqlite", read_only=True).iter_chunks("child")]
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.encode(["warm up"])
    t0 = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "chunks": len(texts),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def variant_langchain(docs: Path) -> dict[str, Any]:
    """PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings + FAISS.from_documents."""
    import warnings

    warnings.filterwarnings("ignore")
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from retrieval.embeddings.sentence_transformer_embedder import bundled_model_path

    embeddings = HuggingFaceEmbeddings(
        model_name=str(bundled_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )
    embeddings.embed_query("warm up")
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    pages = []
    failed: list[tuple[str, str]] = []
    for path in sorted(docs.glob("*.pdf")):
        try:
            pages += PyPDFLoader(str(path)).load()
        except Exception as e:  # the reference pipeline has no per-file handling: record and go on
            failed.append((path.name, f"{type(e).__name__}: {e}"))
    stages["parse"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
    stages["chunk"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    FAISS.from_documents(chunks, embeddings)
    stages["embed_index"] = time.perf_counter() - t2
    wall = time.perf_counter() - t0
    tokenizer = embeddings._client.tokenizer  # count how many chunks the model truncates
    truncated = sum(1 for c in chunks if len(tokenizer(c.page_content)["input_ids"]) > 256)
    return {
        "wall_s": round(wall, 2),
        "pages": len(pages),
        "chunks": len(chunks),
        "truncated_chunks": truncated,
        "failed_files": failed,
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


# ----------------------------------------------------------------------------------------- driver
def _copy_docs(source: Path, limit: int | None, into: Path) -> Path:
    into.mkdir(parents=True)
    for path in sorted(source.glob("*.pdf"))[:limit]:
        shutil.copy2(path, into / path.name)
    return into


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data) if args.data else shared_data()
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-"))
    try:
        docs = _copy_docs(data / "sec10q" / "docs", args.limit, work / "sec10q")
        out: dict[str, Any] = {"corpus": f"sec10q/docs ({len(list(docs.glob('*.pdf')))} PDFs)"}
        out["ours"] = run_variant("bench.ingest", "--variant", "ours", str(docs), str(work / "idx"))
        out["parse_only"] = run_variant("bench.ingest", "--variant", "parse", str(docs))
        out["floor"] = run_variant("bench.ingest", "--variant", "floor", str(work / "idx"))
        if not args.no_baseline:
            out["langchain"] = run_variant("bench.ingest", "--variant", "langchain", str(docs))
        out["ratio_ours_to_floor"] = round(out["ours"]["wall_s"] / out["floor"]["wall_s"], 3)
        if not args.no_graph:
            reports = _copy_docs_tree(data / "reports", work / "reports", args.reports_limit or args.limit)
            no_graph = run_variant("bench.ingest", "--variant", "ours", str(reports), str(work / "r0"))
            with_graph = run_variant(
                "bench.ingest", "--variant", "ours-graph-worker", str(reports), str(work / "r1")
            )
            extract_s = with_graph["stages_s"].get("graph_extract", 0.0) + with_graph["stages_s"].get(
                "graph_store", 0.0
            )
            out["graph"] = {
                "corpus": f"reports ({with_graph['files']} PDFs)",
                "without_graph": no_graph,
                "with_graph": with_graph,
                "extract_chunks_per_s": round(with_graph["children"] / extract_s, 1) if extract_s else None,
                "graph_overhead": round(with_graph["wall_s"] / no_graph["wall_s"] - 1, 3),
            }
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_graph_only(args: argparse.Namespace) -> dict[str, Any]:
    """Graph overhead on reports/ alone: no graph, then each graph mode of :func:`variant_ours`.

    The three variants run back to back, ``--repeat`` times, so a busy machine disturbs them alike.
    """
    data = Path(args.data) if args.data else shared_data()
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-"))
    variants = {
        "without_graph": ("ours",),
        "graph": ("ours-graph",),
        "graph_worker": ("ours-graph-worker",),
    }
    try:
        reports = _copy_docs_tree(data / "reports", work / "reports", args.reports_limit or args.limit)
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in variants}
        for i in range(args.repeat):
            for name, (variant,) in variants.items():
                index = work / f"{name}-{i}"
                runs[name].append(run_variant("bench.ingest", "--variant", variant, str(reports), str(index)))
        base = [r["wall_s"] for r in runs["without_graph"]]
        out: dict[str, Any] = {"corpus": f"reports ({runs['without_graph'][0]['files']} PDFs)", "runs": runs}
        for name in ("graph", "graph_worker"):
            walls = [r["wall_s"] for r in runs[name]]
            out[f"{name}_overhead"] = [round(w / b - 1, 3) for w, b in zip(walls, base)]
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _copy_docs_tree(source: Path, into: Path, limit: int | None) -> Path:
    into.mkdir(parents=True)
    for path in sorted(source.rglob("*.pdf"))[:limit]:
        shutil.copy2(path, into / path.name)
    return into


def markdown(result: dict[str, Any]) -> str:
    """The result as markdown tables (used by docs/benchmarks.md)."""
    o, f, p = result["ours"], result["floor"], result["parse_only"]
    lines = [
        f"Corpus: {result['corpus']}, {o['pages']} pages.",
        "",
        "| pipeline | wall s | pages/s | chunks | chunks/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
        f"| citewise (parse+chunk+embed+index) | {o['wall_s']} | {o['pages'] / o['wall_s']:.1f} | {o['children']} "
        f"| {o['children'] / o['wall_s']:.1f} | {o['peak_rss_mb']} |",
        f"| raw `SentenceTransformer.encode` of the same chunks (floor) | {f['wall_s']} | - | {f['chunks']} "
        f"| {f['chunks'] / f['wall_s']:.1f} | {f['peak_rss_mb']} |",
    ]
    if "langchain" in result:
        lc = result["langchain"]
        lines.append(
            f"| LangChain PyPDFLoader + Recursive(1000,200) + HF embeddings + FAISS | {lc['wall_s']} | "
            f"{lc['pages'] / lc['wall_s']:.1f} | {lc['chunks']} | {lc['chunks'] / lc['wall_s']:.1f} | "
            f"{lc['peak_rss_mb']} |"
        )
    lines += [
        "",
        f"Ratio citewise wall / floor: **{result['ratio_ours_to_floor']}** (target <= 1.25).",
        f"Parsing alone (pypdf, sequential, in-process): {p['wall_s']} s for {p['pages']} pages "
        f"({p['pages'] / p['wall_s']:.1f} pages/s).",
        "Stage seconds (main thread; parse_wait is time spent waiting for the parser worker): "
        + ", ".join(f"{k} {v}" for k, v in o["stages_s"].items())
        + ".",
        f"Re-ingest unchanged: {o['reingest_unchanged_s']} s, {o['reingest_unchanged_embedded']} chunks embedded. "
        f"One changed file: {o['reingest_one_changed_s']} s, {o['reingest_one_changed_embedded']} chunks embedded.",
    ]
    for name, reason in result.get("langchain", {}).get("failed_files", []):
        lines.append(
            f"LangChain's PyPDFLoader could not load `{name}` ({reason}); its pages are missing from the "
            "baseline's counts, and citewise loads it (pypdf limits set explicitly)."
        )
    if "langchain" in result and result["langchain"].get("truncated_chunks") is not None:
        lines.append(
            f"LangChain's 1000-character chunks that exceed MiniLM's 256-token window (silently truncated): "
            f"{result['langchain']['truncated_chunks']} of {result['langchain']['chunks']}."
        )
    if "graph" in result:
        g = result["graph"]
        lines += [
            "",
            f"Graph extraction on {g['corpus']}: {g['extract_chunks_per_s']} chunks/s; ingest wall "
            f"{g['without_graph']['wall_s']} s without the graph, {g['with_graph']['wall_s']} s with it, "
            "extracted in the worker process overlapped with embedding (the default) "
            f"(+{100 * g['graph_overhead']:.0f}%, target <= +50%); graph: {g['with_graph'].get('graph')}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--variant",
        choices=["ours", "ours-graph", "ours-graph-worker", "parse", "floor", "langchain"],
    )
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--data", help="shared data dir (default CITEWISE_SHARED_DATA or ../shared/data)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N PDFs of each corpus")
    parser.add_argument("--reports-limit", type=int, default=None, help="use only the first N reports/ PDFs")
    parser.add_argument("--no-graph", action="store_true", help="skip the graph extraction measurement")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain baseline")
    parser.add_argument(
        "--graph-only", action="store_true", help="only the graph overhead on reports/ (printed, not written)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the --graph-only variants")
    args = parser.parse_args(argv)
    if args.variant:
        fn = {
            "ours": lambda: variant_ours(Path(args.paths[0]), Path(args.paths[1]), False),
            "ours-graph": lambda: variant_ours(Path(args.paths[0]), Path(args.paths[1]), True),
            "ours-graph-worker": lambda: variant_ours(Path(args.paths[0]), Path(args.paths[1]), True, True),
            "parse": lambda: variant_parse(Path(args.paths[0])),
            "floor": lambda: variant_floor(Path(args.paths[0])),
            "langchain": lambda: variant_langchain(Path(args.paths[0])),
        }[args.variant]
        print(json.dumps(fn()))
        return
    if args.graph_only:
        print(json.dumps(run_graph_only(args), indent=1))
        return
    result = run(args)
    path = write_result("ingest", result, "python -m bench.ingest " + " ".join(sys.argv[1:]))
    print(markdown(result))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
