"""The one retriever: self-query -> dense + BM25 (+ graph) -> fusion -> document prior and targeting
(-> page scoring) -> rerank -> MMR -> parents -> compression.

``HybridRetriever`` is a LangChain ``BaseRetriever`` (``invoke`` returns Documents carrying score and
provenance) and implements ``retrieval.base.Retriever`` (``retrieve`` returns a
``RetrievalResult``). Every stage is switched in :class:`HybridConfig` and per call by keyword
(``retrieve(q, graph=False, mmr_lambda=0.5)``, or ``invoke(q, graph=False)``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from retrieval.base import Chunk, Embedder, Hit, RetrievalResult
from retrieval.bm25_store import BM25Index
from retrieval.coverage import documents_named
from retrieval.documents import DocumentRanker
from retrieval.refusal import question_names
from retrieval.retrievers.fusion import weighted_rrf
from retrieval.retrievers.graph_retriever import GraphResult, GraphRetriever
from retrieval.retrievers.mmr import mmr_select, normalized_relevance
from retrieval.retrievers.pages import rank_by_page
from retrieval.retrievers.rerank import CrossEncoderReranker
from retrieval.retrievers.self_query import SelfQueryParser
from retrieval.vectorstores.filters import matches, validate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HybridConfig:
    """Stage switches and knobs; every field can be overridden per call by name.

    ``graph_slots`` reserves up to that many of the ``k`` places for the graph's best *multi-hop*
    hits (chunks reached through a relation, not mentioning a question entity) that fusion left
    out: such a chunk shares few words with the question, so rank fusion alone buries it.

    ``documents`` adds each candidate's document prior (``retrieval.documents``), times
    ``weight_document``, to its fused score scaled to [0, 1]: chunks of the document the question
    is about move up. ``weight_bm25`` defaults to 0.5: on the sec10q questions (tuned on the
    even-numbered half, confirmed on the odd half) BM25 at full weight pulled hybrid below dense.

    ``targeting`` adds ``weight_targeting`` times each document's fit to the periods and form the
    question names (``retrieval.targeting``), to the same scaled scores. ``pages`` ranks pages by
    all their candidate chunks (``retrieval.retrievers.pages``). ``graph`` and ``pages`` are off
    by default: each lowered hit@1 on a set it was not built on (README, "Retrieval stages that are
    built but off by default"; the ablation tables of ``python -m bench.pages``).
    """

    k: int = 5
    fetch_k: int = 30
    dense: bool = True
    bm25: bool = True
    graph: bool = False
    weight_dense: float = 1.0
    weight_bm25: float = 0.5
    weight_graph: float = 0.7
    rrf_k: int = 60
    documents: bool = True
    weight_document: float = 0.5
    targeting: bool = True
    weight_targeting: float = 0.5
    pages: bool = False
    weight_page: float = 0.5
    named_documents: bool = True
    graph_slots: int = 1
    mmr: bool = True
    mmr_lambda: float = 0.7
    distinct_parents: bool = True
    self_query: bool = True
    self_query_llm: bool = False
    compression: bool = True
    rerank: bool = False
    rerank_top_n: int = 20
    parents: bool = True

    def __post_init__(self) -> None:
        if self.k < 1 or self.fetch_k < 1 or self.rrf_k < 1 or self.rerank_top_n < 1:
            raise ValueError(
                f"k, fetch_k, rrf_k and rerank_top_n must be >= 1, got "
                f"{self.k!r}, {self.fetch_k!r}, {self.rrf_k!r}, {self.rerank_top_n!r}"
            )
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError(f"mmr_lambda must be in [0, 1], got {self.mmr_lambda!r}")
        weights = (
            self.weight_dense,
            self.weight_bm25,
            self.weight_graph,
            self.weight_document,
            self.weight_targeting,
            self.weight_page,
        )
        if min(weights) < 0 or self.graph_slots < 0:
            raise ValueError("fusion weights and graph_slots must be >= 0")

    def with_options(self, **options: Any) -> HybridConfig:
        """A copy with ``options`` applied; an unknown name lists the valid ones."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(f"unknown retrieval option(s) {unknown}; choose from {sorted(names)}")
        return replace(self, **{k: v for k, v in options.items() if v is not None})


class HybridRetriever(BaseRetriever):
    """Dense + BM25 + graph retrieval with fusion, MMR, self-query, reranking and compression.

    Args:
        store: The vector store (``FaissVectorStore``: ``search_by_vector``, ``get_chunks``,
            ``get_vectors``).
        embedder: Embeds the question (the store's embedder).
        bm25: The BM25 index, or None to run without keyword search.
        graph: The graph retriever, or None to run without the graph.
        documents: The document ranker (document prior), or None to run without it.
        coverage: The index's document names, for narrowing to the documents a question names
            (``named_documents``); None leaves that off.
        self_query: The self-query parser, or None.
        compressor: A LangChain document compressor run over the hits' parent texts, or None.
        reranker: A cross-encoder reranker, or None.
        config: Defaults of every stage switch.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    embedder: Embedder
    bm25: BM25Index | None = None
    graph: GraphRetriever | None = None
    documents: DocumentRanker | None = None
    coverage: Any = None  # a CorpusCoverage, or anything with its documents()
    self_query: SelfQueryParser | None = None
    compressor: BaseDocumentCompressor | None = None
    reranker: CrossEncoderReranker | None = None
    config: HybridConfig = HybridConfig()
    _dense_worker: ThreadPoolExecutor | None = PrivateAttr(default=None)

    # ----------------------------------------------------------------------------- entry points
    def retrieve(
        self, query: str, *, k: int | None = None, filters: dict[str, Any] | None = None, **options: Any
    ) -> RetrievalResult:
        """Retrieve hits for ``query``.

        Args:
            query: The question.
            k: Hits wanted (config ``k`` when None).
            filters: An explicit Mongo-style filter; disables self-query for this call and is kept
                even when it matches nothing (a self-query filter that matches nothing is dropped).
            **options: Per-call overrides of :class:`HybridConfig` fields.
        """
        cfg = self.config.with_options(**options, k=k)
        if cfg.rerank and self.reranker is None:
            raise ValueError("rerank=True but no reranker is configured (set retrieval.reranker_path)")
        content, flt, notes = self._plan(query, filters, cfg)
        ranked, graph_res, qvec = self._gather(content, None, flt, cfg)
        if flt is not None and filters is None and not any(ranked.values()):
            notes.append(f"the filter {json.dumps(flt)} matched nothing; searched all documents instead")
            flt = None
            ranked, graph_res, qvec = self._gather(content, qvec, None, cfg)
        fused = self._fuse(query, content, qvec, ranked, graph_res, cfg, notes)
        narrowed = self._named_filter(query, fused[: cfg.k], cfg) if flt is None else None
        if narrowed is not None:
            ranked2, graph_res2, qvec = self._gather(content, qvec, narrowed[0], cfg)
            if any(ranked2.values()):
                flt, ranked = narrowed[0], ranked2
                notes.append(
                    f"the question names {narrowed[1]}; no hit came from its documents, "
                    f"so the search was narrowed to them: {json.dumps(flt)}"
                )
                fused = self._fuse(query, content, qvec, ranked, graph_res2, cfg, notes)
        if cfg.pages and fused:
            fused = rank_by_page(fused, cfg.weight_page)
        if not fused:
            return RetrievalResult(hits=(), query=content, filter=flt, notes=tuple(notes))
        vecs = self._vectors([h.chunk for h in fused])
        sims = vecs @ np.asarray(qvec, dtype=np.float32)
        best = max([float(sims.max())] + [s for _, s in ranked.get("dense", [])[:1]])
        if cfg.rerank and self.reranker is not None:
            top = self.reranker.rerank(content, fused[: cfg.rerank_top_n])
            fused, vecs = self._reorder(fused, top, vecs)
        hits = self._select(fused, vecs, cfg)
        if cfg.parents:
            hits = self._with_parents(hits)
        if cfg.compression and self.compressor is not None:
            hits = self._compress(content, hits, {h.chunk.id: vecs[i] for i, h in enumerate(fused)})
        return RetrievalResult(tuple(hits), content, flt, best, tuple(notes))

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        result = self.retrieve(query, **kwargs)
        docs = []
        for hit in result.hits:
            doc = hit.to_document()
            doc.page_content = hit.answer_text
            doc.metadata.update(chunk_text=hit.chunk.text, best_relevance=result.best_relevance)
            doc.metadata.update(search_query=result.query, filter=result.filter, notes=list(result.notes))
            docs.append(doc)
        return docs

    # ----------------------------------------------------------------------------- stages
    def _fuse(
        self,
        query: str,
        content: str,
        qvec: np.ndarray,
        ranked: dict[str, list[tuple[Chunk, float]]],
        graph_res: GraphResult | None,
        cfg: HybridConfig,
        notes: list[str],
    ) -> list[Hit]:
        """The retrievers' lists fused by weighted RRF, graph hops marked, document stage applied."""
        weights = {"dense": cfg.weight_dense, "bm25": cfg.weight_bm25, "graph": cfg.weight_graph}
        fused = weighted_rrf(ranked, weights, rrf_k=cfg.rrf_k)[: max(cfg.fetch_k, cfg.k)]
        if graph_res is not None:
            notes.extend(graph_res.notes)
            fused = [_mark_hop(h, graph_res.hop_ids) for h in fused]
        return self._document_stage(query, content, qvec, fused, cfg)

    def _named_filter(
        self, query: str, top: Sequence[Hit], cfg: HybridConfig
    ) -> tuple[dict[str, Any], str] | None:
        """A filter to the documents the question names, when none of ``top`` comes from them.

        "Has Amazon repurchased shares?" over twenty filings matched other companies' buyback
        paragraphs better than Amazon's own: the question names a company whose documents (file
        name, title or cover page, :mod:`retrieval.coverage`) are in the index, yet no hit came
        from them. Narrowing applies only then, and only when the names pick some documents but
        not all: a question whose hits already include a named document is left as it is.
        """
        if not cfg.named_documents or self.coverage is None or not top:
            return None
        names = [n.text for n in question_names(query)]
        if not names:
            return None
        documents = self.coverage.documents()
        named = {d.doc_id for d in documents_named(documents, names)}
        if not named or len(named) == len(documents) or any(h.chunk.doc_id in named for h in top):
            return None
        return {"doc_id": {"$in": sorted(named)}}, ", ".join(repr(n) for n in names)

    def _document_stage(
        self, query: str, content: str, qvec: np.ndarray, fused: list[Hit], cfg: HybridConfig
    ) -> list[Hit]:
        """Add the document prior and the targeting fit (each weighted) to the fused scores.

        Targeting reads the question as asked (``query``): self-query may have moved its year or
        file name into a filter, and the period it names is what targeting needs.
        """
        if self.documents is None or not fused:
            return fused
        boost: dict[str, float] = {}
        if cfg.documents and cfg.weight_document > 0:
            for doc, p in self.documents.scores(content, qvec).items():
                boost[doc] = boost.get(doc, 0.0) + cfg.weight_document * p
        if cfg.targeting and cfg.weight_targeting > 0:
            for doc, fit in self.documents.targeting(query).items():
                boost[doc] = boost.get(doc, 0.0) + cfg.weight_targeting * fit
        return _with_document_prior(fused, boost, 1.0) if boost else fused

    def _plan(
        self, query: str, filters: dict[str, Any] | None, cfg: HybridConfig
    ) -> tuple[str, dict[str, Any] | None, list[str]]:
        """The content query and filter: the explicit filter, else self-query's, else none."""
        if filters is not None:
            validate(filters)
            return query, filters or None, []
        if not cfg.self_query or self.self_query is None:
            return query, None, []
        parsed = self.self_query.parse(query, use_llm=cfg.self_query_llm)
        notes = list(parsed.notes)
        if parsed.filter is not None:
            notes.append(f"self-query ({parsed.method}) filter: {json.dumps(parsed.filter)}")
        return parsed.query, parsed.filter, notes

    def _gather(
        self, content: str, qvec: np.ndarray | None, flt: dict[str, Any] | None, cfg: HybridConfig
    ) -> tuple[dict[str, list[tuple[Chunk, float]]], GraphResult | None, np.ndarray]:
        """Ranked lists of every enabled retriever, each already filtered by ``flt``; and the query vector.

        The query embedding and the FAISS search run on a worker thread (torch and FAISS release the
        GIL) while this thread runs BM25 and the graph's entity linking, which need no vector: on two
        cores that hides most of the dense side's time. The graph waits for the vector only when it
        ranks its candidates.
        """

        # A selective filter is narrowed by one SQL query, shared by FAISS and BM25 and run only
        # if one of them needs it (stores without ``filter_candidates`` keep testing every hit).
        narrow = getattr(self.store, "filter_candidates", None) if flt else None
        memo: list[dict[int, str] | None] = []
        memo_lock = threading.Lock()

        def candidates() -> dict[int, str] | None:
            with memo_lock:
                if not memo:
                    memo.append(narrow(flt) if narrow is not None else None)
                return memo[0]

        def candidate_ids() -> frozenset[str] | None:
            found = candidates()
            return None if found is None else frozenset(found.values())

        by_rowid = {"candidates": candidates} if narrow is not None else {}

        def dense_side() -> tuple[np.ndarray, list[tuple[Chunk, float]]]:
            vec = qvec if qvec is not None else self.embedder.embed_query(content)
            if not cfg.dense:
                return vec, []
            return vec, list(self.store.search_by_vector(vec, cfg.fetch_k, filter=flt, **by_rowid))

        if self._dense_worker is None:
            self._dense_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-dense")
        job = self._dense_worker.submit(dense_side)
        try:
            sparse: list[tuple[Chunk, float]] | None = None
            if cfg.bm25 and self.bm25 is not None:
                ids = self.bm25.search(content, cfg.fetch_k, filter=flt, candidates=candidate_ids)
                by_id = {c.id: c for c in self.store.get_chunks([cid for cid, _ in ids])}
                sparse = [(by_id[cid], s) for cid, s in ids if cid in by_id]
            graph_res, graph_hits = None, None
            if cfg.graph and self.graph is not None:
                graph_res, graph_hits = self._graph_hits(content, lambda: job.result()[0], flt, cfg)
        finally:
            vec, dense = job.result()  # also when this thread failed: never leave the worker running
        ranked: dict[str, list[tuple[Chunk, float]]] = {}
        if cfg.dense:
            ranked["dense"] = dense
        if sparse is not None:
            ranked["bm25"] = sparse
        if graph_hits is not None:
            ranked["graph"] = graph_hits
        return ranked, graph_res, vec

    def _graph_hits(
        self,
        content: str,
        query_vector: Callable[[], np.ndarray],
        flt: dict[str, Any] | None,
        cfg: HybridConfig,
    ) -> tuple[GraphResult, list[tuple[Chunk, float]]]:
        assert self.graph is not None
        cache: dict[str, Chunk] = {}

        def similarity(ids: Sequence[str]) -> np.ndarray:
            cache.update({c.id: c for c in self.store.get_chunks(list(ids))})
            child = [i for i in ids if i in cache and cache[i].kind == "child"]
            out = np.zeros(len(ids), dtype=np.float64)
            if child:
                sims = dict(zip(child, self.store.get_vectors(child) @ query_vector(), strict=True))
                out[:] = [float(sims.get(i, 0.0)) for i in ids]
            return out

        res = self.graph.search(content, k=cfg.fetch_k * (4 if flt else 1), similarity=similarity)
        missing = [cid for cid, _ in res.ranked if cid not in cache]
        cache.update({c.id: c for c in self.store.get_chunks(missing)})
        hits = [(cache[cid], s) for cid, s in res.ranked if cid in cache]
        if flt is not None:
            hits = [(c, s) for c, s in hits if matches(c.metadata(), flt)]
        return res, hits[: cfg.fetch_k]

    def _vectors(self, chunks: Sequence[Chunk]) -> np.ndarray:
        """Stored vectors of child chunks; other chunks (parents from the graph) are embedded now."""
        out = np.zeros((len(chunks), self.embedder.dim), dtype=np.float32)
        child = [i for i, c in enumerate(chunks) if c.kind == "child"]
        other = [i for i, c in enumerate(chunks) if c.kind != "child"]
        if child:
            out[child] = self.store.get_vectors([chunks[i].id for i in child])
        if other:
            out[other] = self.embedder.embed([chunks[i].text for i in other])
        return out

    @staticmethod
    def _reorder(fused: list[Hit], top: list[Hit], vecs: np.ndarray) -> tuple[list[Hit], np.ndarray]:
        """Put the reranked head first, keep the tail, and carry the vectors along."""
        pos = {h.chunk.id: i for i, h in enumerate(fused)}
        tail = fused[len(top) :]
        order = [pos[h.chunk.id] for h in top] + list(range(len(top), len(fused)))
        return top + tail, vecs[order]

    def _select(self, fused: list[Hit], vecs: np.ndarray, cfg: HybridConfig) -> list[Hit]:
        """Choose ``k``: distinct parents, MMR or plain order, then the reserved graph slots."""
        idx = list(range(len(fused)))
        if cfg.distinct_parents:
            first: dict[str, int] = {}
            for i in idx:
                first.setdefault(_parent_key(fused[i]), i)
            idx = sorted(first.values())
        if cfg.mmr and len(idx) > 1:
            scores = np.asarray([fused[i].score for i in idx])
            rel = (
                (scores - scores.min()) / (np.ptp(scores) or 1.0)
                if cfg.rerank
                else normalized_relevance(scores)
            )
            picked = [idx[j] for j in mmr_select(rel, vecs[idx], cfg.k, cfg.mmr_lambda)]
        else:
            picked = idx[: cfg.k]
        return [fused[i] for i in self._graph_slots(fused, idx, picked, cfg)]

    @staticmethod
    def _graph_slots(fused: list[Hit], allowed: list[int], picked: list[int], cfg: HybridConfig) -> list[int]:
        """Swap the last picks for the best multi-hop graph hits that were left out."""
        if not cfg.graph or cfg.graph_slots == 0 or cfg.k < 2:
            return picked
        hops = [i for i in allowed if fused[i].provenance.get("graph", {}).get("hop")]
        hops.sort(key=lambda i: fused[i].provenance["graph"]["rank"])
        out = list(picked)
        for i in [i for i in hops if i not in out][: cfg.graph_slots]:
            victims = [j for j in reversed(out) if j not in hops]
            if len(out) < cfg.k:
                out.append(i)
            elif victims:
                out.remove(victims[0])
                out.append(i)
        return out

    def _with_parents(self, hits: list[Hit]) -> list[Hit]:
        parent_ids = sorted({h.chunk.parent_id for h in hits if h.chunk.parent_id})
        parents = {c.id: c for c in self.store.get_chunks(parent_ids)} if parent_ids else {}
        return [replace(h, parent=parents.get(h.chunk.parent_id or "")) for h in hits]

    def _compress(self, content: str, hits: list[Hit], vectors: dict[str, np.ndarray]) -> list[Hit]:
        """Run the compressor over each hit's parent text; hits it drops are dropped.

        Each Document carries the hit's stored vector as ``metadata["embedding"]`` so the
        redundancy filter compares hits without embedding them again.
        """
        assert self.compressor is not None
        docs = [
            Document(
                page_content=h.answer_text,
                metadata={
                    "hit": i,
                    "id": h.chunk.id,
                    "parent_id": h.chunk.parent_id or h.chunk.id,
                    "embedding": vectors.get(h.chunk.id),
                },
                id=h.chunk.id,
            )
            for i, h in enumerate(hits)
        ]
        out = self.compressor.compress_documents(docs, content)
        return [replace(hits[int(d.metadata["hit"])], context=d.page_content) for d in out]


def _with_document_prior(fused: list[Hit], prior: dict[str, float], weight: float) -> list[Hit]:
    """Fused scores scaled to [0, 1] plus ``weight`` x the document prior, best first.

    Provenance gains ``document``: the document's rank among all documents and its prior.
    """
    if not prior:
        return fused
    ranks = {doc: r for r, doc in enumerate(sorted(prior, key=lambda d: (-prior[d], d)), start=1)}
    scores = np.asarray([h.score for h in fused], dtype=np.float64)
    span = float(scores.max() - scores.min())
    scaled = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    out = []
    for hit, base in zip(fused, scaled.tolist(), strict=True):
        p = prior.get(hit.chunk.doc_id, 0.0)
        doc = {"rank": float(ranks.get(hit.chunk.doc_id, len(ranks) + 1)), "score": p}
        out.append(replace(hit, score=base + weight * p, provenance={**hit.provenance, "document": doc}))
    order = sorted(range(len(out)), key=lambda i: (-out[i].score, i))
    return [out[i] for i in order]


def _mark_hop(hit: Hit, hop_ids: frozenset[str]) -> Hit:
    """Flag a graph hit reached only through a relation (``provenance["graph"]["hop"] = 1``)."""
    if hit.chunk.id not in hop_ids or "graph" not in hit.provenance:
        return hit
    return replace(hit, provenance={**hit.provenance, "graph": {**hit.provenance["graph"], "hop": 1.0}})


def _parent_key(hit: Hit) -> str:
    return hit.chunk.parent_id or hit.chunk.id
