"""Page-level retrieval on FinanceBench-dev, and the stage ablation on every question set.

    python -m bench.pages --indexes /work/indexes                      # everything
    python -m bench.pages --indexes /work/indexes --sets financebench-dev --skip-langchain

Sets (each ingested once into ``<indexes>/<set>-<variant>`` and reused; unchanged files cost
nothing on a second run):

- ``financebench-dev``: 41 questions over one shared index of all 26 filings. A question is a
  *page hit* at k when one of the first k hits lies on a gold evidence page of the gold filing.
  A chunk covers the pages ``page_start..page_end``: a chunk that runs over a page break counts
  for both pages (the share of such hits is reported, ``spanning@5``). The LangChain plain-dense
  baseline (PyPDFLoader, one Document per page; RecursiveCharacterTextSplitter 1000/200; the same
  MiniLM; langchain-community FAISS) runs in the same process on the same filings.
- ``sec10q``: 195 questions over 20 10-Q filings; a *document hit* at k when one of the first k
  distinct documents matches the question's ``Source Docs`` globs.
- ``sample``: the questions planted in ``data/corpus`` (``data/QUESTIONS.md``), document hits.

Variants: ``plain`` (the default ingest, graph built) and ``ctx`` (contextual chunk headers,
``chunking.contextual_headers``; no graph, which does not depend on the embedded text).

Every set is split in two halves by company (companies sorted, alternating; a question belongs
to its first gold document's company), or by gold filing when it has fewer than six companies:
``tune`` and ``confirm``. Weights are chosen on the tune
halves of FinanceBench-dev and sec10q together; the report gives each stage on both halves, so a
stage on by default is seen on questions it was not chosen on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.evaluation import EvalItem, matches_gold, page_hit, unique
from bench.common import REPO, shared_data, write_result
from bench.retrieval_metrics import percentile

log = logging.getLogger("bench.pages")

KS = (1, 5, 10)
STAGES = (
    "bm25",
    "documents",
    "targeting",
    "named_documents",
    "pages",
    "graph",
    "mmr",
    "self_query",
    "compression",
)
_ALL_OFF = {s: False for s in STAGES}


# ------------------------------------------------------------------------------------------ data
def load_sample(path: Path | None = None) -> list[EvalItem]:
    """The sample corpus questions of ``data/QUESTIONS.md`` that name the files holding the answer.

    Follow-up turns (they need the previous turn) and the unanswerable questions are left out.
    """
    path = path or REPO / "data" / "QUESTIONS.md"
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not re.fullmatch(r"[a-f]\d+", cells[0]) or cells[0] == "d2":
            continue
        where = " ".join(cells[2:])
        files = unique(re.findall(r"[\w-]+\.(?:pdf|docx|md|txt|html)\b", where))
        if not files:
            continue
        pages = [int(p) for p in re.findall(r"\.pdf,? page (\d+)", where)]
        items.append(
            EvalItem(id=cells[0], question=cells[1], answer=cells[2], doc=tuple(files), page=tuple(pages))
        )
    return items


def company(item: EvalItem) -> str:
    """The company (or file) a question is about: its first gold document's name, minus years and forms."""
    name = item.doc[0] if item.doc else item.id
    words = re.split(r"[\s_*]+", Path(name).stem)
    keep = [w for w in words if w and not re.fullmatch(r"\d{4}(q\d)?|q\d|\d+k|10q|8k", w, re.IGNORECASE)]
    return (keep[0] if keep else name).upper()


def split_of(items: Sequence[EvalItem]) -> dict[str, str]:
    """``tune`` or ``confirm`` per question id: companies sorted, alternating.

    A set with fewer than six companies (sec10q has five) cannot be halved by company; it is
    halved by gold filing instead (the first gold document or glob, sorted, alternating), so no
    filing is on both sides.
    """
    key = company if len({company(i) for i in items}) >= 6 else (lambda i: i.doc[0] if i.doc else i.id)
    groups = sorted({key(i) for i in items})
    half = {g: ("tune" if n % 2 == 0 else "confirm") for n, g in enumerate(groups)}
    return {i.id: half[key(i)] for i in items}


# Ten of the twenty sec10q filings: Apple's and Intel's four latest quarters (the case where only
# the period tells two filings apart) with one Amazon and one NVIDIA filing among them.
SEC10Q_SUBSET = (
    "2022 Q3 AAPL.pdf",
    "2023 Q1 AAPL.pdf",
    "2023 Q2 AAPL.pdf",
    "2023 Q3 AAPL.pdf",
    "2022 Q3 INTC.pdf",
    "2023 Q1 INTC.pdf",
    "2023 Q2 INTC.pdf",
    "2023 Q3 INTC.pdf",
    "2022 Q3 AMZN.pdf",
    "2023 Q1 NVDA.pdf",
)


def about_only(items: Sequence[EvalItem], files: Sequence[str]) -> list[EvalItem]:
    """The questions whose gold documents are all among ``files`` (and at least one is)."""
    every = sorted(p.name for p in (shared_data() / "sec10q" / "docs").glob("*.pdf"))
    kept = []
    for item in items:
        gold = {name for name in every if matches_gold(name, item.doc)}
        if gold and gold <= set(files):
            kept.append(item)
    return kept


def set_spec(name: str) -> tuple[Path | list[Path], list[EvalItem], str]:
    """(documents folder or files, questions, metric kind) of a question set."""
    from bench.datasets import load_financebench, load_sec10q

    if name == "financebench-dev":
        return shared_data() / "financebench-dev" / "pdfs", load_financebench(), "page"
    if name == "sec10q":
        return shared_data() / "sec10q" / "docs", load_sec10q(), "doc"
    if name == "sec10q-subset":
        docs = [shared_data() / "sec10q" / "docs" / f for f in SEC10Q_SUBSET]
        return docs, about_only(load_sec10q(), SEC10Q_SUBSET), "doc"
    if name == "sample":
        return REPO / "data" / "corpus", load_sample(), "doc"
    raise ValueError(f"unknown set {name!r}: financebench-dev, sec10q, sec10q-subset or sample")


# ------------------------------------------------------------------------------------------ scoring
Located = list[tuple[str, int | None, int | None]]


def first_rank(located: Located, item: EvalItem, kind: str) -> int | None:
    """1-based rank of the first hit: a hit on a gold page (``page``) or a gold document (``doc``).

    For ``doc`` the ranks are over distinct documents in order of first appearance.
    """
    if kind == "page":
        for rank in range(1, len(located) + 1):
            if page_hit(located[rank - 1 : rank], item.doc, item.page):
                return rank
        return None
    docs = unique(name for name, _, _ in located)
    return next((r for r, name in enumerate(docs, start=1) if matches_gold(name, item.doc)), None)


def metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@k (recall of the evidence) for each k, and MRR, over per-question first-hit ranks."""
    n = max(1, len(ranks))
    out = {f"@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return out


def wins_losses(on: Sequence[int | None], off: Sequence[int | None], k: int) -> tuple[int, int]:
    """Questions hit at ``k`` by ``on`` but not ``off`` (wins), and the reverse (losses)."""
    hit = [(a is not None and a <= k, b is not None and b <= k) for a, b in zip(on, off, strict=True)]
    return sum(1 for a, b in hit if a and not b), sum(1 for a, b in hit if b and not a)


# ------------------------------------------------------------------------------------------ runs
def open_index(root: Path, set_name: str, variant: str, docs: Path | list[Path]) -> Any:
    """The set's index for ``variant``, ingested into ``root/<set>-<variant>`` once."""
    from app.service import Citewise

    path = root / f"{set_name}-{variant}"
    cw = Citewise.open(
        path,
        llm={"answer_mode": "extractive"},
        graph={"enabled": variant == "plain"},
        chunking={"contextual_headers": variant == "ctx"},
    )
    t0 = time.perf_counter()
    report = cw.ingest(docs if isinstance(docs, list) else [docs])
    log.info(
        "%s-%s: ingest %.1fs %s, %s chunks",
        set_name,
        variant,
        time.perf_counter() - t0,
        report.summary(),
        cw.store.count(),
    )
    return cw


class _QueryCache:
    """The index's embedder with every question embedded once, in one batch, before the runs.

    Every configuration asks the same questions; embedding them once per run (instead of once per
    configuration) leaves the measured latencies without the query embedding: they compare
    configurations, they are not end-to-end figures.
    """

    def __init__(self, inner: Any, questions: Sequence[str]) -> None:
        self.inner = inner
        self.vectors = dict(zip(questions, inner.embed(list(questions)), strict=True))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> np.ndarray:
        vec = self.vectors.get(text)
        return vec if vec is not None else self.inner.embed_query(text)


def cache_queries(cw: Any, items: Sequence[EvalItem]) -> None:
    """Embed every question once and let the retriever reuse the vectors (see :class:`_QueryCache`)."""
    object.__setattr__(cw.retriever, "embedder", _QueryCache(cw.embedder, [i.question for i in items]))


def run_config(
    cw: Any, items: Sequence[EvalItem], kind: str, options: dict[str, Any], k: int
) -> dict[str, Any]:
    """First-hit rank and latency of every question under one configuration."""
    ranks: list[int | None] = []
    times: list[float] = []
    spanning = 0
    for item in items[:3]:  # warm up: lazy loads (profile BM25, compression model) are not timed
        cw.search(item.question, k=k, **options)
    for item in items:
        t0 = time.perf_counter()
        result = cw.search(item.question, k=k, **options)
        times.append(1000 * (time.perf_counter() - t0))
        located = [(h.chunk.file_name, h.chunk.page_start, h.chunk.page_end) for h in result.hits]
        spanning += sum(1 for _, a, b in located[:5] if a is not None and b is not None and b > a)
        ranks.append(first_rank(located, item, kind))
    return {
        "ranks": ranks,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "spanning@5": spanning / max(1, 5 * len(items)),
    }


def configurations(
    default: dict[str, Any], stages: Sequence[str] = STAGES
) -> list[tuple[str, dict[str, Any]]]:
    """Dense only, dense+BM25, the default, and the default with each of ``stages`` switched."""
    rows = [
        ("dense only", {**_ALL_OFF}),
        ("dense+bm25", {**_ALL_OFF, "bm25": True}),
        ("default", dict(default)),
    ]
    for stage in stages:
        flipped = not default.get(stage, False)
        rows.append((f"default {'+' if flipped else '-'} {stage}", {**default, stage: flipped}))
    return rows


def default_options() -> dict[str, Any]:
    """The stage switches and weights of the shipped defaults (``app.settings``)."""
    from app.settings import RetrievalSettings

    r = RetrievalSettings()
    out: dict[str, Any] = {s: getattr(r, s) for s in STAGES}
    out.update(
        {w: getattr(r, w) for w in ("weight_bm25", "weight_document", "weight_targeting", "weight_page")}
    )
    return out


def ablation(
    cw: Any,
    items: Sequence[EvalItem],
    kind: str,
    default: dict[str, Any],
    k: int,
    stages: Sequence[str] = STAGES,
    candidate: dict[str, float] | None = None,
) -> dict[str, Any]:
    out = {}
    rows = configurations(default, stages)
    if candidate:
        label = "default with " + ", ".join(f"{key}={value}" for key, value in candidate.items())
        rows.append((label, {**default, **candidate}))
    for name, options in rows:
        out[name] = {"options": options, **run_config(cw, items, kind, options, k)}
        log.info("%s: %s", name, metrics(out[name]["ranks"]))
    return out


# ------------------------------------------------------------------------------------------ tuning
GRID: dict[str, tuple[float, ...]] = {
    "weight_bm25": (0.25, 0.5, 1.0),
    "weight_document": (0.25, 0.5, 1.0),
    "weight_targeting": (0.25, 0.5, 1.0, 2.0),
    "weight_page": (0.0, 0.25, 0.5, 1.0),
}


_STAGE_OF = {
    "weight_bm25": "bm25",
    "weight_document": "documents",
    "weight_targeting": "targeting",
    "weight_page": "pages",
}


def objective(ranks: Sequence[int | None]) -> float:
    m = metrics(ranks)
    return m["@5"] + m["mrr"]


def tune(runs: dict[str, tuple[Any, list[EvalItem], str]], start: dict[str, Any], k: int) -> dict[str, Any]:
    """Coordinate search of the fusion weights on the tune halves (sum over sets of @5 + MRR).

    One pass over :data:`GRID`, each weight in turn at the others' current best; ties keep the
    earlier (current) value.
    """
    best = dict(start)
    trace = []

    def score(options: dict[str, Any]) -> float:
        return sum(
            objective(run_config(cw, items, kind, options, k)["ranks"]) for cw, items, kind in runs.values()
        )

    current = score(best)
    for weight, values in GRID.items():
        if not best.get(_STAGE_OF[weight], False):
            continue  # the stage is off: its weight changes nothing
        for value in values:
            if value == best[weight]:
                continue
            trial = {**best, weight: value}
            s = score(trial)
            trace.append({"weight": weight, "value": value, "objective": s})
            log.info("tune %s=%s -> %.3f (best %.3f)", weight, value, s, current)
            if s > current + 1e-9:
                best, current = trial, s
    return {"chosen": {w: best[w] for w in GRID}, "objective": current, "trace": trace}


# ------------------------------------------------------------------------------------------ baseline
def langchain_baseline(
    docs: Path, items: Sequence[EvalItem], cache: Path, embedder: Any, k: int
) -> dict[str, Any]:
    """LangChain plain dense retrieval over the same filings; chunks and vectors cached (JSON + .npy)."""
    import warnings

    warnings.filterwarnings("ignore")
    from langchain_community.vectorstores import FAISS

    from retrieval.embeddings.langchain_adapter import LangChainEmbeddings

    texts, metas, vecs = _langchain_chunks(docs, cache, embedder)
    store = FAISS.from_embeddings(
        list(zip(texts, vecs.tolist(), strict=True)), LangChainEmbeddings(embedder), metadatas=metas
    )
    ranks: list[int | None] = []
    times: list[float] = []
    for item in items:
        t0 = time.perf_counter()
        found = store.similarity_search(item.question, k=k)
        times.append(1000 * (time.perf_counter() - t0))
        located: Located = [(d.metadata["file_name"], d.metadata["page"], d.metadata["page"]) for d in found]
        ranks.append(first_rank(located, item, "page"))
    return {
        "ranks": ranks,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "chunks": len(texts),
    }


def _langchain_chunks(
    docs: Path, cache: Path, embedder: Any
) -> tuple[list[str], list[dict[str, Any]], np.ndarray]:
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    meta_path, vec_path = cache / "chunks.json", cache / "vectors.npy"
    if meta_path.exists() and vec_path.exists():
        data = json.loads(meta_path.read_text())
        return data["texts"], data["metas"], np.load(vec_path, allow_pickle=False)
    pages = []
    for path in sorted(docs.glob("*.pdf")):
        pages += PyPDFLoader(str(path)).load()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
    texts = [c.page_content for c in chunks]
    # PyPDFLoader numbers pages from 0; citewise and the gold pages here from 1.
    metas = [
        {"file_name": Path(c.metadata["source"]).name, "page": int(c.metadata["page"]) + 1} for c in chunks
    ]
    vecs = embedder.embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(vec_path, vecs, allow_pickle=False)
    meta_path.write_text(json.dumps({"texts": texts, "metas": metas}))
    return texts, metas, vecs


# ------------------------------------------------------------------------------------------ driver
def summarize_set(items: Sequence[EvalItem], runs: dict[str, Any]) -> dict[str, Any]:
    """Metrics of every configuration: all questions, each half, and wins/losses against ``default``."""
    halves = split_of(items)
    out: dict[str, Any] = {}
    base = runs.get("default", {}).get("ranks")
    for name, run in runs.items():
        ranks = run["ranks"]
        row: dict[str, Any] = {"all": metrics(ranks)}
        for half in ("tune", "confirm"):
            row[half] = metrics([r for r, i in zip(ranks, items, strict=True) if halves[i.id] == half])
        if base is not None and name != "default":
            row["vs_default"] = {f"@{k}": wins_losses(ranks, base, k) for k in (1, 5)}
        row.update({key: run[key] for key in ("p50_ms", "p95_ms", "spanning@5") if key in run})
        out[name] = row
    return out


def evaluate_set(
    root: Path,
    set_name: str,
    variants: Sequence[str],
    default: dict[str, Any],
    k: int,
    langchain: bool,
    candidate: dict[str, float] | None = None,
) -> dict[str, Any]:
    docs, items, kind = set_spec(set_name)
    result: dict[str, Any] = {"kind": kind, "questions": len(items), "split": split_of(items), "runs": {}}
    for variant in variants:
        cw = open_index(root, set_name, variant, docs)
        try:
            result.setdefault("chunks", {})[variant] = cw.store.count()
            cache_queries(cw, items)
            if variant == "plain":
                has_graph = any(d.n_entities for d in cw.store.docstore.documents())
                stages = [s for s in STAGES if s != "graph" or has_graph]
                result.setdefault("graph_built", {})[variant] = has_graph
                options = {**default, "graph": default["graph"] and has_graph}
                runs = ablation(cw, items, kind, options, k, stages, candidate)
            else:  # the header variant: the default and dense alone (no graph in this index)
                options = {**default, "graph": False}
                runs = {
                    "dense only": run_config(cw, items, kind, dict(_ALL_OFF), k),
                    "default": run_config(cw, items, kind, options, k),
                }
            result["runs"][variant] = runs
            if langchain and kind == "page" and variant == "plain":
                result["langchain"] = langchain_baseline(
                    docs, items, root / f"{set_name}-langchain", cw.embedder, k
                )
        finally:
            cw.close()
    result["summary"] = {v: summarize_set(items, r) for v, r in result["runs"].items()}
    if "langchain" in result:
        result["summary"]["langchain"] = summarize_set(items, {"LangChain plain dense": result["langchain"]})
    plain, ctx = result["runs"].get("plain", {}), result["runs"].get("ctx", {})
    if "default" in ctx and "default - graph" in plain or "default" in ctx and "default" in plain:
        off = plain.get("default - graph", plain.get("default"))
        result["headers_vs_plain"] = {
            f"@{k}": wins_losses(ctx["default"]["ranks"], off["ranks"], k) for k in (1, 5)
        }
    return result


def run_tuning(
    root: Path, default: dict[str, Any], k: int, variant: str, sets: Sequence[str]
) -> dict[str, Any]:
    runs = {}
    opened = []
    for set_name in sets:
        docs, items, kind = set_spec(set_name)
        halves = split_of(items)
        cw = open_index(root, set_name, variant, docs)
        opened.append(cw)
        tune_items = [i for i in items if halves[i.id] == "tune"]
        cache_queries(cw, tune_items)
        runs[set_name] = (cw, tune_items, kind)
    try:
        options = {**default, "graph": default["graph"] and variant == "plain"}
        return {"variant": variant, "sets": list(sets), "start": options, **tune(runs, options, k)}
    finally:
        for cw in opened:
            cw.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--indexes", type=Path, required=True, help="where the indexes are built and reused")
    parser.add_argument("--sets", nargs="*", default=["financebench-dev", "sec10q", "sample"])
    parser.add_argument("--variants", nargs="*", default=["plain", "ctx"])
    parser.add_argument("--k", type=int, default=10, help="hits retrieved per question")
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument(
        "--tune", default=None, metavar="VARIANT", help="fit the weights on the tune halves only"
    )
    parser.add_argument(
        "--candidate",
        nargs="*",
        default=[],
        metavar="WEIGHT=VALUE",
        help="an extra row: the default with these weights",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    default = default_options()
    command = "python -m bench.pages " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.tune:
        path = write_result(
            "pages_tuning", run_tuning(args.indexes, default, args.k, args.tune, args.sets), command
        )
        print(f"results: {path}")
        return 0
    candidate = {kv.split("=", 1)[0]: float(kv.split("=", 1)[1]) for kv in args.candidate}
    payload: dict[str, Any] = {"k": args.k, "default": default, "candidate": candidate, "sets": {}}
    for set_name in args.sets:
        payload["sets"][set_name] = evaluate_set(
            args.indexes, set_name, args.variants, default, args.k, not args.skip_langchain, candidate
        )
    path = write_result("pages", payload, command)
    print(markdown(json.loads(path.read_text())))
    print(f"\nresults: {path}")
    return 0


# ------------------------------------------------------------------------------------------ report
def _m(row: dict[str, float]) -> str:
    return " | ".join(f"{row[f'@{k}']:.3f}" for k in KS) + f" | {row['mrr']:.3f}"


def _half(m: dict[str, float]) -> str:
    return f"{m['@1']:.3f} / {m['@5']:.3f}"


def _wl(row: dict[str, Any], k: int) -> str:
    wl = row.get("vs_default", {}).get(f"@{k}")
    return f"+{wl[0]} / -{wl[1]}" if wl else "-"


def markdown(r: dict[str, Any]) -> str:
    """The FinanceBench-dev page table, then one ablation table per set."""
    lines: list[str] = []
    fb = r["sets"].get("financebench-dev")
    if fb:
        lines += _headline(fb)
    for name, s in r["sets"].items():
        lines += [
            "",
            f"**Stage ablation, {name}** ({s['questions']} questions, {s['kind']} hits, k={r['k']}; "
            "wins / losses: questions the row hits at k that the default misses, and the reverse)",
            "",
        ]
        lines += [
            "| configuration | @1 | @5 | @10 | MRR | tune @1 / @5 | confirm @1 / @5 | vs default @1 | vs default @5 | p50 ms | p95 ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for variant, rows in s["summary"].items():
            for name_, row in rows.items():
                label = name_ if variant == "plain" else f"{name_} [{variant}]"
                lines.append(
                    f"| {label} | {_m(row['all'])} | {_half(row['tune'])} | {_half(row['confirm'])} | "
                    f"{_wl(row, 1)} | {_wl(row, 5)} | {row.get('p50_ms', 0):.0f} | {row.get('p95_ms', 0):.0f} |"
                )
        if "headers_vs_plain" in s:
            h = s["headers_vs_plain"]
            lines.append(
                f"\nContextual headers (default on the `ctx` index vs the default without graph on the plain index): "
                f"@1 +{h['@1'][0]} / -{h['@1'][1]}, @5 +{h['@5'][0]} / -{h['@5'][1]}."
            )
    return "\n".join(lines)


def _headline(fb: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, dict[str, Any]]] = []
    if "langchain" in fb["summary"]:
        rows.append(
            (
                "LangChain plain dense (PyPDFLoader, 1000/200 splitter, MiniLM, FAISS)",
                fb["summary"]["langchain"]["LangChain plain dense"],
            )
        )
    plain = fb["summary"].get("plain", {})
    for name in ("dense only", "dense+bm25", "default"):
        if name in plain:
            rows.append((f"citewise {name}", plain[name]))
    ctx = fb["summary"].get("ctx", {})
    if "default" in ctx:
        rows.append(("citewise default, contextual-header index", ctx["default"]))
    lines = [
        f"**FinanceBench-dev evidence pages** ({fb['questions']} questions, one index of all 26 filings: "
        f"{fb.get('chunks', {})} child chunks). A hit: one of the first k hits lies on a gold page of the gold "
        "filing (a chunk covers page_start..page_end).",
        "",
        "| retriever | page recall@1 | @5 | @10 | MRR | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, row in rows:
        lines.append(
            f"| {label} | {_m(row['all'])} | {row.get('p50_ms', 0):.0f} | {row.get('p95_ms', 0):.0f} |"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
