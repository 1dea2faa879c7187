"""Settings -> concrete backends: the one place where :class:`~app.settings.Settings` becomes
the keyword arguments of ingest, retrieval and graph classes (which never see Settings).

Every builder imports its backend lazily, so ``import app`` stays cheap and a missing optional
package surfaces as a clear error naming the extra to install, only when that backend is used.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.settings import Settings

if TYPE_CHECKING:
    from graph.base import GraphExtractor, GraphStore
    from ingest.chunking import TokenChunker
    from retrieval.base import Embedder
    from retrieval.bm25_store import BM25Index
    from retrieval.llm.base import LLM
    from retrieval.vectorstores.faiss_store import FaissVectorStore

log = logging.getLogger(__name__)


def index_path(settings: Settings) -> Path:
    """The index directory, absolute."""
    return settings.index_dir.expanduser().resolve()


def build_embedder(settings: Settings) -> Embedder:
    from retrieval.embeddings import create_embedder

    e = settings.embedding
    return create_embedder(model_path=e.model_path, device=e.device, batch_size=e.batch_size)


def build_sentence_scorer(settings: Settings, embedder: Embedder) -> Embedder:
    """What scores sentences for contextual compression (see ``retrieval.compression_scorer``)."""
    if settings.retrieval.compression_scorer == "embedder":
        return embedder
    from retrieval.embeddings.sentence_transformer_embedder import bundled_model_path
    from retrieval.embeddings.static_embedder import StaticEmbedder

    cache_root = settings.cache_dir.expanduser().resolve() / "static"
    return StaticEmbedder(settings.embedding.model_path or bundled_model_path(), cache_root=cache_root)


def build_vector_store(
    settings: Settings, embedder: Embedder, *, read_only: bool = False
) -> FaissVectorStore:
    from retrieval.vectorstores.faiss_store import FaissVectorStore

    v = settings.vectorstore
    return FaissVectorStore(
        index_path(settings),
        embedder,
        index_type=v.index_type,
        hnsw_m=v.hnsw_m,
        hnsw_ef_search=v.hnsw_ef_search,
        ivf_nlist=v.ivf_nlist,
        ivf_nprobe=v.ivf_nprobe,
        read_only=read_only,
    )


def build_chunker(settings: Settings, embedder: Embedder) -> TokenChunker:
    from ingest.chunking import TokenChunker

    c = settings.chunking
    return TokenChunker(
        embedder,
        child_tokens=c.child_tokens,
        child_overlap=c.child_overlap,  # type: ignore[arg-type]
        parent_tokens=c.parent_tokens,
    )


def build_bm25(settings: Settings) -> BM25Index:
    from retrieval.bm25_store import BM25Index

    return BM25Index(index_path(settings) / "bm25")


def build_loader(settings: Settings) -> tuple[Any, list[str]]:
    """(load function, supported suffixes). Parsing runs in isolated worker processes with limits."""
    from ingest.base import ExtractOptions
    from ingest.isolation import load_isolated
    from ingest.loaders import supported_suffixes

    i = settings.ingest
    options = ExtractOptions(
        ocr=i.ocr,
        ocr_max_pages=i.ocr_max_pages,
        ocr_timeout_s=i.ocr_timeout_s,
        tables=i.tables,
        tables_timeout_s=i.tables_timeout_s,
    )
    load = partial(
        load_isolated,
        # OCR stops itself after ocr_timeout_s; the worker's hard limit leaves it that much room.
        timeout_s=i.parse_timeout_s + (i.ocr_timeout_s if i.ocr else 0.0),
        memory_mb=i.parse_memory_mb,
        max_pages=i.max_pages,
        max_chars=i.max_chars,
        max_file_mb=i.max_file_mb,
        options=options,
    )
    return load, supported_suffixes()


def build_graph_store(settings: Settings) -> GraphStore:
    from graph.stores import open_graph_store

    g = settings.graph
    if g.backend == "neo4j":
        return open_graph_store(
            "neo4j",
            uri=g.neo4j_uri,
            user=g.neo4j_user,
            password=g.neo4j_password.get_secret_value(),
            database=g.neo4j_database,
        )
    return open_graph_store("sqlite", path=index_path(settings) / "graph.sqlite")


def build_extractor(settings: Settings, llm_factory: Any = None) -> GraphExtractor:
    from graph.extract.spacy_extractor import SpacyGraphExtractor

    g = settings.graph
    extractor: GraphExtractor = SpacyGraphExtractor(max_entities_per_chunk=g.max_entities_per_chunk)
    if g.llm_extraction and llm_factory is not None:
        from graph.extract.llm_extractor import LLMGraphRefiner
        from retrieval.llm import make_json_completer

        refiner = LLMGraphRefiner(make_json_completer(llm_factory()), budget_chunks=g.llm_budget_chunks)
        extractor = _RefinedExtractor(extractor, refiner)
    return extractor


class _RefinedExtractor:
    """spaCy extraction followed by LLM refinement of the same chunks."""

    def __init__(self, base: GraphExtractor, refiner: Any) -> None:
        self.base, self.refiner = base, refiner

    def extract(self, doc_id: str, units: Any) -> Any:
        return self.refiner.refine(self.base.extract(doc_id, units), units)


def build_llm(settings: Settings) -> LLM:
    from retrieval.llm import create_llm

    s = settings.llm
    if s.backend == "llamacpp":
        from retrieval.llm.llamacpp_llm import bundled_model_path

        path = s.model_path or bundled_model_path(settings.cache_dir.expanduser().resolve() / "models")
        threads = s.n_threads or max(1, (os.cpu_count() or 2))
        return create_llm(
            "llamacpp",
            model_path=path,
            n_ctx=s.n_ctx,
            n_threads=threads,
            n_gpu_layers=s.n_gpu_layers,
            seed=s.seed,
            chat_format=s.chat_format,
        )
    if s.backend == "openai_compat":
        return create_llm(
            "openai_compat",
            base_url=s.base_url,
            api_key=s.api_key.get_secret_value(),
            model_name=s.model_name,
            n_ctx=s.n_ctx,
            seed=s.seed,
            structured_output=s.structured_output,
        )
    return create_llm("fake", replies=[])


def build_retriever(
    settings: Settings,
    *,
    store: FaissVectorStore,
    embedder: Embedder,
    bm25: BM25Index | None,
    graph_store: GraphStore | None,
    llm_factory: Any = None,
) -> Any:
    """The hybrid retriever with every stage configured from ``settings.retrieval``."""
    from retrieval.coverage import CorpusCoverage
    from retrieval.documents import DocumentRanker
    from retrieval.retrievers.compression import build_compressor
    from retrieval.retrievers.graph_retriever import GraphRetriever
    from retrieval.retrievers.hybrid import HybridConfig, HybridRetriever
    from retrieval.retrievers.self_query import SelfQueryParser

    r = settings.retrieval
    completer = None
    if (r.self_query_llm or r.compression_llm) and llm_factory is not None:
        from retrieval.llm import make_json_completer

        completer = make_json_completer(llm_factory())

    def known_files() -> list[str]:
        return [d.file_name for d in store.docstore.documents()]

    reranker = None
    if r.rerank:
        from retrieval.retrievers.rerank import CrossEncoderReranker

        if r.reranker_path is None:
            raise ValueError("retrieval.rerank is on but retrieval.reranker_path is not set")
        reranker = CrossEncoderReranker(r.reranker_path)
    config = HybridConfig(
        k=r.k,
        fetch_k=r.fetch_k,
        dense=r.dense,
        bm25=r.bm25,
        graph=r.graph and graph_store is not None,
        weight_dense=r.weight_dense,
        weight_bm25=r.weight_bm25,
        weight_graph=r.weight_graph,
        rrf_k=r.rrf_k,
        documents=r.documents,
        weight_document=r.weight_document,
        targeting=r.targeting,
        weight_targeting=r.weight_targeting,
        pages=r.pages,
        weight_page=r.weight_page,
        named_documents=r.named_documents,
        mmr=r.mmr,
        mmr_lambda=r.mmr_lambda,
        self_query=r.self_query,
        self_query_llm=r.self_query_llm,
        compression=r.compression,
        rerank=r.rerank,
    )
    return HybridRetriever(
        store=store,
        embedder=embedder,
        bm25=bm25,
        graph=GraphRetriever(graph_store) if graph_store is not None else None,
        documents=DocumentRanker(store.docstore, embedder),
        coverage=CorpusCoverage(store.docstore) if r.named_documents else None,
        self_query=SelfQueryParser(
            known_files=known_files,
            complete_json=completer,
            use_llm=r.self_query_llm and completer is not None,
        ),
        compressor=build_compressor(
            embedder,
            complete_json=completer if r.compression_llm else None,
            sentence_embedder=build_sentence_scorer(settings, embedder),
        ),
        reranker=reranker,
        config=config,
    )


def _coverage(retriever: Any, docstore: Any) -> Any:
    """The retriever's document coverage when it keeps one for the same docstore, else a new one:
    one coverage per index, so its documents' text is read once per write, not once per user."""
    from retrieval.coverage import CorpusCoverage

    shared = getattr(retriever, "coverage", None)
    if isinstance(shared, CorpusCoverage) and shared.docstore is docstore:
        return shared
    return CorpusCoverage(docstore)


def build_chain(
    settings: Settings,
    *,
    retriever: Any,
    llm: LLM | None,
    embedder: Embedder,
    bm25: BM25Index | None,
    docstore: Any = None,
) -> Any:
    from retrieval.chain import AnswerChain
    from retrieval.refusal import RefusalGate

    s, r = settings.llm, settings.retrieval
    gate = RefusalGate(
        min_relevance=r.min_relevance,
        coverage=_coverage(retriever, docstore) if docstore is not None and r.refuse_uncovered else None,
        knows=bm25.knows if bm25 is not None and r.refuse_unknown_terms else None,
    )
    return AnswerChain(
        retriever,
        llm,
        embedder=embedder,
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        seed=s.seed,
        min_relevance=r.min_relevance,
        history_turns=s.history_turns,
        answer_mode=s.answer_mode,
        gate=gate,
        packing=s.packing,
        target_ttft_s=s.target_ttft_s,
        prompt_tokens_per_s=s.prompt_tokens_per_s,
        min_prompt_tokens=s.min_prompt_tokens,
        citation_grammar=s.citation_grammar,
        claim_check=s.claim_check,
    )
