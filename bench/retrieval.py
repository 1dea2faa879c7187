"""Retrieval benchmark: document-level quality on sec10q and latency at about 10k and 100k chunks.

    python -m bench.retrieval                       # both parts, all 195 questions
    python -m bench.retrieval --limit 40 --skip-latency
    python -m bench.retrieval --skip-quality --sizes 10000 100000

(1) Quality: every question of ``sec10q/qna_data.csv`` is run through ablations of the hybrid
retriever (k=10 chunks, deduplicated to documents in rank order); a hit is a document matching the
question's ``Source Docs`` globs. hit@1/5/10 and MRR, overall and by question type.
(2) Latency: the real sec10q chunks are replicated (new ids, vectors perturbed by Gaussian noise and
re-normalized, same text) into a real FaissVectorStore + BM25Index of the target size, then
per-query wall time of the full retriever (no LLM), of LangChain's
``EnsembleRetriever(BM25Retriever, FAISS)`` over the same texts and vectors, and of raw FAISS search.

The ingested index and the replicated stores are cached under ``bench/results/cache`` (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, shared_data, write_result
from bench.retrieval_metrics import parse_globs, percentile, score_question, summarize, unique_in_order

log = logging.getLogger("bench.retrieval")

CACHE = RESULTS / "cache"
_OFF = {
    "dense": False,
    "bm25": False,
    "documents": False,
    "graph": False,
    "mmr": False,
    "compression": False,
    "self_query": False,
}
_HYBRID = {**_OFF, "dense": True, "bm25": True}
ABLATION: list[tuple[str, dict[str, bool]]] = [
    ("dense", {**_OFF, "dense": True}),
    ("bm25", {**_OFF, "bm25": True}),
    ("dense+bm25 (fusion only)", _HYBRID),
    ("hybrid (+document prior)", {**_HYBRID, "documents": True}),
    ("+graph", {**_HYBRID, "documents": True, "graph": True}),
    ("+mmr", {**_HYBRID, "documents": True, "graph": True, "mmr": True}),
    ("+compression", {**_HYBRID, "documents": True, "graph": True, "mmr": True, "compression": True}),
    ("+self_query", {k: True for k in _OFF}),
]


# ------------------------------------------------------------------------------------------ index
def open_index(docs: Path, cache: Path) -> Any:
    """The sec10q index, ingested once into the cache and reused (unchanged files cost nothing)."""
    from app.service import Citewise

    cw = Citewise.open(cache / "sec10q-index", llm={"answer_mode": "extractive"})
    t0 = time.perf_counter()
    report = cw.ingest([docs])
    log.info("ingest took %.1fs: %s", time.perf_counter() - t0, report)
    return cw


def load_questions(path: Path, limit: int | None) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("Question", "").strip()]
    return rows[:limit] if limit else rows


# ------------------------------------------------------------------------------------------ quality
def bench_quality(
    cw: Any, questions: Sequence[dict[str, str]], k: int, only: Sequence[str] | None = None
) -> dict[str, Any]:
    """Ablation table: metrics per configuration, overall and per question type."""
    out: dict[str, Any] = {}
    for name, options in ABLATION:
        if only and name not in only:
            continue
        rows: list[dict[str, float]] = []
        by_type: dict[str, list[dict[str, float]]] = defaultdict(list)
        t0 = time.perf_counter()
        for q in questions:
            result = cw.search(q["Question"], k=k, **options)
            docs = unique_in_order(h.chunk.file_name for h in result.hits)
            row = score_question(docs, parse_globs(q["Source Docs"]))
            rows.append(row)
            by_type[q.get("Question Type", "?")].append(row)
        elapsed = time.perf_counter() - t0
        out[name] = {
            "options": options,
            "overall": summarize(rows),
            "by_type": {t: {**summarize(r), "n": len(r)} for t, r in sorted(by_type.items())},
            "mean_ms": 1000 * elapsed / max(1, len(questions)),
        }
        log.info("%s %s", name, out[name]["overall"])
    return out


# ------------------------------------------------------------------------------------------ latency
def replicated_stores(cw: Any, target: int, cache: Path, noise: float = 0.02) -> tuple[Any, Any]:
    """A FaissVectorStore and BM25Index of about ``target`` child chunks, cached by size."""
    from retrieval.bm25_store import BM25Index
    from retrieval.vectorstores.faiss_store import FaissVectorStore

    path = cache / f"latency-{target}"
    done = path / "DONE"
    if not done.exists():
        shutil.rmtree(path, ignore_errors=True)
        _build_replicas(cw, target, path, noise)
        done.write_text("ok")
    store = FaissVectorStore(path / "store", cw.embedder, read_only=True)
    return store, BM25Index(path / "bm25")


def _build_replicas(cw: Any, target: int, path: Path, noise: float) -> None:
    from retrieval.bm25_store import BM25Index
    from retrieval.vectorstores.faiss_store import FaissVectorStore

    store = FaissVectorStore(path / "store", cw.embedder)
    store.check_embedder()
    bm25 = BM25Index(path / "bm25", max_segments=64)
    records = cw.store.docstore.documents()
    originals = {r.doc_id: list(cw.store.docstore.iter_chunks(None, doc_id=r.doc_id)) for r in records}
    n_children = sum(1 for cs in originals.values() for c in cs if c.kind == "child")
    rng = np.random.default_rng(0)
    for rep in range(math.ceil(target / n_children)):
        children_added: list[Any] = []
        for rec in records:
            chunks = originals[rec.doc_id]
            children = [c for c in chunks if c.kind == "child"]
            vecs = cw.store.get_vectors([c.id for c in children])
            if rep:
                vecs = vecs + rng.normal(0, noise, vecs.shape).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            new = [_replica(c, rep) for c in chunks]
            store.replace_document(
                replace(rec, doc_id=_rid(rec.doc_id, rep), source=f"{rec.source}#{rep}"), new, vecs
            )
            children_added += [c for c in new if c.kind == "child"]
        # One segment per replica: a segment per document would merge ~500 times on the way to 1M.
        bm25.add(children_added)
        log.info("replica %s: %s chunks", rep, store.count())
    bm25.merge()
    store.persist()
    store.close()


def _rid(value: str, rep: int) -> str:
    return value if rep == 0 else f"{value}~{rep}"


def original_id(chunk_id: str) -> str:
    """The real chunk a replica copies (``id~7`` -> ``id``); real ids are returned unchanged."""
    head, sep, rep = chunk_id.rpartition("~")
    return head if sep and rep.isdigit() else chunk_id


def _replica(chunk: Any, rep: int) -> Any:
    parent = _rid(chunk.parent_id, rep) if chunk.parent_id else None
    return replace(chunk, id=_rid(chunk.id, rep), doc_id=_rid(chunk.doc_id, rep), parent_id=parent)


def _timed(fn: Callable[[str], Any], queries: Sequence[str], warmup: int = 3) -> dict[str, float]:
    for q in queries[:warmup]:
        fn(q)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(1000 * (time.perf_counter() - t0))
    return {
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "mean_ms": float(np.mean(times)),
        "n": len(times),
    }


def _hybrid(cw: Any, store: Any, bm25: Any) -> Any:
    from app.container import build_sentence_scorer
    from retrieval.documents import DocumentRanker
    from retrieval.retrievers.compression import build_compressor
    from retrieval.retrievers.graph_retriever import GraphRetriever
    from retrieval.retrievers.hybrid import HybridConfig, HybridRetriever
    from retrieval.retrievers.self_query import SelfQueryParser

    return HybridRetriever(
        store=store,
        embedder=cw.embedder,
        bm25=bm25,
        graph=GraphRetriever(cw.graph_store),
        documents=DocumentRanker(store.docstore, cw.embedder),
        self_query=SelfQueryParser(known_files=lambda: bm25.field_values("file_name")),
        compressor=build_compressor(
            cw.embedder, sentence_embedder=build_sentence_scorer(cw.settings, cw.embedder)
        ),
        config=HybridConfig(),
    )


def _langchain_ensemble(cw: Any, store: Any, k: int) -> Any:
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS

    from retrieval.embeddings.langchain_adapter import LangChainEmbeddings

    chunks = list(store.iter_chunks("child"))
    texts = [c.text for c in chunks]
    vecs = store.get_vectors([c.id for c in chunks])
    t0 = time.perf_counter()
    bm25 = BM25Retriever.from_texts(texts, k=k)
    # In batches through LangChain's own API: one ``vecs.tolist()`` at 1M chunks would be ~9 GB
    # of Python floats; the resulting store is the same as one ``from_embeddings`` call.
    batch = 50_000
    faiss_lc = FAISS.from_embeddings(
        list(zip(texts[:batch], vecs[:batch].tolist(), strict=True)), LangChainEmbeddings(cw.embedder)
    )
    for start in range(batch, len(texts), batch):
        rows = vecs[start : start + batch].tolist()
        faiss_lc.add_embeddings(list(zip(texts[start : start + batch], rows, strict=True)))
    log.info("langchain baseline built in %.1fs", time.perf_counter() - t0)
    return EnsembleRetriever(
        retrievers=[bm25, faiss_lc.as_retriever(search_kwargs={"k": k})], weights=[0.5, 0.5]
    )


def _systems(
    cw: Any, store: Any, bm25: Any, questions: Sequence[str], k: int
) -> dict[str, Callable[[str], Any]]:
    hybrid = _hybrid(cw, store, bm25)
    ensemble = _langchain_ensemble(cw, store, k)
    qvecs = {q: cw.embedder.embed_query(q) for q in questions}
    index = store.index
    return {
        "citewise full (all stages)": lambda q: hybrid.retrieve(q, k=k),
        "citewise without compression": lambda q: hybrid.retrieve(q, k=k, compression=False),
        "citewise dense+bm25 only": lambda q: hybrid.retrieve(
            q, k=k, documents=False, graph=False, mmr=False, compression=False, self_query=False
        ),
        "langchain EnsembleRetriever(BM25Retriever, FAISS)": lambda q: ensemble.invoke(q),
        "raw FAISS search (query vector given)": lambda q: index.search(qvecs[q].reshape(1, -1), k),
        "query embedding alone": lambda q: cw.embedder.embed_query(q),
    }


def bench_latency(
    cw: Any, questions: Sequence[str], sizes: Sequence[int], cache: Path, k: int
) -> dict[str, Any]:
    """p50/p95 per system at each size, measured in one run on the same queries."""
    out: dict[str, Any] = {}
    for size in sizes:
        store, bm25 = replicated_stores(cw, size, cache)
        systems = _systems(cw, store, bm25, questions, k)
        out[str(store.count())] = {name: _timed(fn, questions) for name, fn in systems.items()}
        log.info("size %s: %s", store.count(), out[str(store.count())])
        store.close()
    return out


# ------------------------------------------------------------------------------------------ report
def markdown(quality: dict[str, Any] | None, latency: dict[str, Any] | None) -> str:
    lines: list[str] = []
    if quality:
        lines += ["| configuration | hit@1 | hit@5 | hit@10 | MRR | ms/query |", "|---|---|---|---|---|---|"]
        for name, res in quality.items():
            o = res["overall"]
            lines.append(
                f"| {name} | {o['hit@1']:.3f} | {o['hit@5']:.3f} | {o['hit@10']:.3f} | {o['mrr']:.3f} | {res['mean_ms']:.0f} |"
            )
        types = sorted({t for res in quality.values() for t in res["by_type"]})
        lines += [
            "",
            "| configuration | " + " | ".join(f"{t} hit@5" for t in types) + " |",
            "|---" * (len(types) + 1) + "|",
        ]
        for name, res in quality.items():
            lines.append(
                f"| {name} | " + " | ".join(f"{res['by_type'][t]['hit@5']:.3f}" for t in types) + " |"
            )
    if latency:
        lines += ["", "| chunks | system | p50 ms | p95 ms |", "|---|---|---|---|"]
        for size, systems in latency.items():
            for name, t in systems.items():
                lines.append(f"| {size} | {name} | {t['p50_ms']:.1f} | {t['p95_ms']:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=shared_data() / "sec10q", help="the sec10q folder")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where built indexes are cached")
    parser.add_argument("--limit", type=int, default=None, help="questions used at most")
    parser.add_argument("--k", type=int, default=10, help="chunks retrieved per question")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[10_000, 100_000], help="latency corpus sizes"
    )
    parser.add_argument("--latency-queries", type=int, default=60, help="questions timed per system")
    parser.add_argument(
        "--latency-k", type=int, default=5, help="hits per query when timing (product default)"
    )
    parser.add_argument("--configs", nargs="*", default=None, help="ablation rows to run (default: all)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    questions = load_questions(args.data / "qna_data.csv", args.limit)
    cw = open_index(args.data / "docs", args.cache)
    payload: dict[str, Any] = {
        "k": args.k,
        "latency_k": args.latency_k,
        "questions": len(questions),
        "chunks": cw.store.count(),
    }
    quality = None if args.skip_quality else bench_quality(cw, questions, args.k, args.configs)
    texts = [q["Question"] for q in questions[: args.latency_queries]]
    latency = None if args.skip_latency else bench_latency(cw, texts, args.sizes, args.cache, args.latency_k)
    payload.update(
        quality=quality,
        latency=latency,
        notes=[
            "documents ranked by first appearance among the k retrieved chunks",
            "latency corpora: real sec10q chunks replicated with new ids; vectors + N(0, 0.02) noise, re-normalized",
        ],
    )
    path = write_result("retrieval", payload, "python -m bench.retrieval " + " ".join(argv or sys.argv[1:]))
    print(markdown(quality, latency))
    print(f"\nresults: {path}")
    cw.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
