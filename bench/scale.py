"""Retrieval latency and scale: exact vs approximate FAISS at 10k, 100k and 1M chunks.

    python -m bench.scale                                    # 10k, 100k, 1M; flat, hnsw, ivf
    python -m bench.scale --sizes 10000 --queries 30         # quick
    python -m bench.scale --sizes 1000000 --systems-at 1000000   # plus the side-by-side systems at 1M

The corpora are the real sec10q chunks (ingested once into ``bench/results/cache/sec10q-index``)
replicated beyond the real corpus by :func:`bench.retrieval.replicated_stores`: copy 0 is the real
chunk, later copies keep the text and get the vector plus Gaussian noise (sigma 0.02 per
dimension), re-normalized. Replicas are near-duplicates, so the numbers say how the index scales,
not how well it ranks a million distinct passages.

For every size and every ``index_type`` of :class:`retrieval.vectorstores.faiss_store.FaissVectorStore`
(``flat`` exact; ``hnsw`` M=32, efSearch=128; ``ivf`` nlist = sqrt(n), nprobe=16), in one process
per size: index build time from the stored vectors, resident memory the index added, serialized
index size, p50/p95 of ``search_by_vector`` (FAISS + docstore fetch) and of the bare FAISS search,
and recall@k of the approximate indexes against the exact one on the same real questions, both by
id and by distinct real chunk (another near-copy of the same chunk counts as found). Raw
FAISS (``IndexFlatIP`` over a numpy matrix, no ids, no docstore) is the floor. ``--systems-at SIZE`` also
runs the retrieval benchmark's side-by-side (full citewise retriever, LangChain
``EnsembleRetriever(BM25Retriever, FAISS)``, raw FAISS) at the sizes given.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.common import RESULTS, peak_rss_mb, run_variant, shared_data, write_result
from bench.retrieval import original_id

if TYPE_CHECKING:
    from retrieval.vectorstores.faiss_store import IndexType

log = logging.getLogger("bench.scale")

CACHE = RESULTS / "cache"
INDEX_TYPES = ("flat", "hnsw", "ivf")
HNSW_M, HNSW_EF, IVF_NPROBE = 32, 128, 16


# ------------------------------------------------------------------------------------ corpus
def open_corpus(data: Path, cache: Path, wait_s: float = 3600) -> Any:
    """The real sec10q index (ingested into the cache once; waits while another run writes it)."""
    from app.service import Citewise
    from app.settings import Settings

    settings = Citewise.open(cache / "sec10q-index", llm={"answer_mode": "extractive"}).settings
    cw = Citewise(Settings.model_validate(settings.model_dump()), lock_timeout=wait_s)
    t0 = time.perf_counter()
    report = cw.ingest([data / "docs"])
    log.info("sec10q index ready in %.1fs: %s chunks", time.perf_counter() - t0, cw.store.count())
    if cw.store.count() == 0:
        raise RuntimeError(f"nothing indexed from {data / 'docs'}: {report.failed or 'no files'}")
    return cw


def questions(data: Path, n: int) -> list[str]:
    """The first ``n`` sec10q questions (real queries for every size)."""
    from bench.datasets import load_sec10q

    return [item.question for item in load_sec10q(data / "qna_data.csv")[:n]]


def rss_mb() -> float:
    """Current resident memory of this process in MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# ------------------------------------------------------------------------------------ measuring
def timed(fn: Callable[[np.ndarray], Any], qvecs: np.ndarray, warmup: int = 3) -> dict[str, float]:
    """p50/p95/mean milliseconds of ``fn`` over the query vectors, after ``warmup`` calls."""
    from app.evaluation import percentile

    for q in qvecs[:warmup]:
        fn(q)
    times = []
    for q in qvecs:
        t0 = time.perf_counter()
        fn(q)
        times.append(1000 * (time.perf_counter() - t0))
    return {
        "p50_ms": round(percentile(times, 50) or 0.0, 3),
        "p95_ms": round(percentile(times, 95) or 0.0, 3),
        "mean_ms": round(float(np.mean(times)), 3),
        "n": len(times),
    }


def recall_at_k(found: Sequence[Sequence[Any]], exact: Sequence[Sequence[Any]]) -> float:
    """Mean share of the exact top-k ids (distinct) that an approximate search also returned."""
    shares = [len(set(f) & set(e)) / len(set(e)) for f, e in zip(found, exact) if len(e)]
    return float(np.mean(shares)) if shares else 0.0


def _faiss_class(index: Any) -> str:
    import faiss

    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    return type(faiss.downcast_index(inner)).__name__


def measure_index(
    store_dir: Path, embedder: Any, index_type: IndexType, qvecs: np.ndarray, k: int
) -> dict[str, Any]:
    """Build one index type from the stored vectors and time searches on it."""
    import faiss

    from retrieval.vectorstores.faiss_store import FaissVectorStore

    store = FaissVectorStore(
        store_dir, embedder, index_type=index_type, read_only=True, hnsw_m=HNSW_M, hnsw_ef_search=HNSW_EF,
        ivf_nlist=max(1, round(math.sqrt(store_count(store_dir)))), ivf_nprobe=IVF_NPROBE,
    )  # fmt: skip
    stamp = store_dir / "vectors.json"
    saved = stamp.exists() and json.loads(stamp.read_text()).get("index_type") == index_type
    before = rss_mb()
    t0 = time.perf_counter()
    index = store.index  # read-only: the saved file when its type matches, else rebuilt in memory
    build_s = time.perf_counter() - t0
    added_mb = rss_mb() - before
    ids = [index.search(q.reshape(1, -1), k)[1][0].tolist() for q in qvecs]
    chunks = store.docstore.chunks_by_rowid(sorted({i for row in ids for i in row if i >= 0}))
    real = [[original_id(chunks[i].id) for i in row if i in chunks] for row in ids]
    out = {
        "faiss_class": _faiss_class(index),
        "vectors": int(index.ntotal),
        "build_s": round(build_s, 2),
        "build_kind": "loaded the saved index file" if saved else "built from the stored vectors",
        "rss_added_mb": round(added_mb, 1),
        "index_mb": round(faiss.serialize_index(index).nbytes / 2**20, 1),
        "search": timed(lambda q: index.search(q.reshape(1, -1), k), qvecs),
        "search_with_docstore": timed(lambda q: store.search_by_vector(q, k), qvecs),
        "ids": ids,
        "real_ids": real,
    }
    if index_type == "ivf":
        out["params"] = {"nlist": store.ivf_nlist, "nprobe": IVF_NPROBE}
    elif index_type == "hnsw":
        out["params"] = {"M": HNSW_M, "efSearch": HNSW_EF}
    store.close()
    return out


def store_count(store_dir: Path) -> int:
    """Child chunks in a stored index (without loading its vectors)."""
    from retrieval.vectorstores.docstore import SQLiteDocStore

    docstore = SQLiteDocStore(store_dir / "docstore.sqlite", read_only=True)
    try:
        return int(docstore.counts()["children"])
    finally:
        docstore.close()


def measure_raw(store_dir: Path, qvecs: np.ndarray, k: int) -> dict[str, Any]:
    """The floor: ``faiss.IndexFlatIP`` over the plain vector matrix."""
    import faiss

    from retrieval.vectorstores.docstore import SQLiteDocStore

    docstore = SQLiteDocStore(store_dir / "docstore.sqlite", read_only=True)
    _, vecs = docstore.vectors()
    docstore.close()
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(np.ascontiguousarray(vecs, dtype=np.float32))
    build_s = time.perf_counter() - t0
    del vecs
    return {"build_s": round(build_s, 2), "search": timed(lambda q: index.search(q.reshape(1, -1), k), qvecs)}


def measure_size(args: argparse.Namespace) -> dict[str, Any]:
    """Everything for one corpus size (run in its own process by :func:`run`)."""
    import faiss

    from bench.retrieval import bench_latency, replicated_stores

    faiss.omp_set_num_threads(args.threads)  # one query at a time: threads only add contention
    cw = open_corpus(args.data, args.cache)
    texts = questions(args.data, args.queries)
    qvecs = np.stack([cw.embedder.embed_query(t) for t in texts]).astype(np.float32)
    t0 = time.perf_counter()
    store, _bm25 = replicated_stores(cw, args.size, args.cache)
    prepare_s, store_dir = time.perf_counter() - t0, store.index_dir
    store.close()
    out: dict[str, Any] = {
        "chunks": store_count(store_dir),
        "prepare_s": round(prepare_s, 1),
        "queries": len(texts),
    }
    out["real_chunks"], out["faiss_threads"] = cw.store.count(), args.threads
    out["raw_faiss_flat"] = measure_raw(store_dir, qvecs, args.k)
    types: dict[str, Any] = {}
    for index_type in args.index_types:
        types[index_type] = measure_index(store_dir, cw.embedder, index_type, qvecs, args.k)
        log.info("size=%s type=%s %s", args.size, index_type, types[index_type]["search"])
    exact, exact_real = types.get("flat", {}).get("ids"), types.get("flat", {}).get("real_ids")
    for res in types.values():
        ids, real = res.pop("ids"), res.pop("real_ids")
        res["recall_at_k_vs_flat"] = round(recall_at_k(ids, exact), 4) if exact else None
        # Replicas are near-copies: an approximate index that returns another copy of the same real
        # chunk found the same passage. This recall counts distinct real chunks instead of ids.
        res["real_chunk_recall_vs_flat"] = round(recall_at_k(real, exact_real), 4) if exact_real else None
    out["index_types"] = types
    if args.systems:
        out["systems"] = next(iter(bench_latency(cw, texts, [args.size], args.cache, args.k).values()))
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    cw.close()
    return out


# ------------------------------------------------------------------------------------ driver
def run(args: argparse.Namespace) -> dict[str, Any]:
    """One fresh process per size, smallest first, so memory figures do not mix."""
    out: dict[str, Any] = {
        "k": args.k,
        "queries": args.queries,
        "noise_sigma": 0.02,
        "note": "real sec10q chunks replicated beyond the real corpus: same text, vector + N(0, 0.02) "
        "per dimension, re-normalized",
        "sizes": {},
    }
    for size in sorted(args.sizes):
        extra = ["--systems"] if size in args.systems_at else []
        out["sizes"][str(size)] = run_variant(
            "bench.scale", "--one", str(size), "--data", str(args.data), "--cache", str(args.cache),
            "--queries", str(args.queries), "--k", str(args.k), "--threads", str(args.threads),
            "--index-types", *args.index_types, *extra,
        )  # fmt: skip
    return out


def markdown(result: dict[str, Any]) -> str:
    """Tables for docs/benchmarks.md."""
    lines = [
        f"k={result['k']}, {result['queries']} real sec10q questions per size, one query at a time; "
        f"{result['note']}.",
        "",
        "| chunks | index | FAISS class | build s | RSS added MB | index MB | search p50 ms | p95 ms "
        "| + docstore p50 ms | p95 ms | recall@k vs exact | real-chunk recall@k |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["sizes"].values():
        raw = r["raw_faiss_flat"]
        lines.append(
            f"| {r['chunks']} | raw FAISS IndexFlatIP (floor) | IndexFlatIP | {raw['build_s']} | - | - "
            f"| {raw['search']['p50_ms']} | {raw['search']['p95_ms']} | - | - | 1.0 | 1.0 |"
        )
        for name, t in r["index_types"].items():
            note = "*" if t["build_kind"].startswith("loaded") else ""
            lines.append(
                f"| {r['chunks']} | {name}{' ' + str(t['params']) if t.get('params') else ''} | {t['faiss_class']} "
                f"| {t['build_s']}{note} "
                f"| {t['rss_added_mb']} | {t['index_mb']} | {t['search']['p50_ms']} | {t['search']['p95_ms']} "
                f"| {t['search_with_docstore']['p50_ms']} | {t['search_with_docstore']['p95_ms']} "
                f"| {t['recall_at_k_vs_flat']} | {t.get('real_chunk_recall_vs_flat', '-')} |"
            )
    lines += ["", "\\* loaded from the saved index file, not built (the exact build is the raw FAISS row)."]
    systems = {size: r["systems"] for size, r in result["sizes"].items() if r.get("systems")}
    if systems:
        lines += ["", "| chunks | system | p50 ms | p95 ms |", "|---:|---|---:|---:|"]
        for size, rows in systems.items():
            for name, t in rows.items():
                lines.append(f"| {size} | {name} | {t['p50_ms']:.1f} | {t['p95_ms']:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--index-types", nargs="+", choices=INDEX_TYPES, default=list(INDEX_TYPES))
    parser.add_argument("--queries", type=int, default=100, help="sec10q questions timed per index")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--systems-at",
        type=int,
        nargs="*",
        default=[],
        help="sizes at which to time the side-by-side retrievers too",
    )
    parser.add_argument("--threads", type=int, default=1, help="FAISS OpenMP threads per search")
    parser.add_argument("--data", type=Path, default=shared_data() / "sec10q", help="the sec10q folder")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where built indexes are cached")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--systems", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one is not None:
        args.size = args.one
        print(json.dumps(measure_size(args)))
        return 0
    result = run(args)
    path = write_result("scale", result, "python -m bench.scale " + " ".join(argv or sys.argv[1:]))
    print(markdown(result))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
