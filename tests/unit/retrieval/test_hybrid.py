"""HybridRetriever logic over an in-memory store, a real BM25 index and an in-memory graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever

from graph.base import Entity, Relation
from retrieval.bm25_store import BM25Index
from retrieval.retrievers.compression import build_compressor
from retrieval.retrievers.graph_retriever import GraphRetriever
from retrieval.retrievers.hybrid import HybridConfig, HybridRetriever
from retrieval.retrievers.self_query import SelfQueryParser
from tests.unit.retrieval.conftest import chunk

pytestmark = pytest.mark.integration  # the retriever fixture loads the real spaCy pipeline

QUESTION = "Where was the chief executive of Acme Corp born?"
TEXTS = {
    "d1": "Jane Doe is the chief executive of Acme Corp.",
    "d2": "Acme Corp chief executive pay was reviewed where the board met.",
    "d3": "Where the chief executive of Acme Corp works: the Acme Corp headquarters.",
    "d4": "The chief executive of Bolt was born where the river bends.",
    "d5": "Jane Doe grew up in Springfield, her birthplace.",
    "d6": "Acme Corp sells anvils.",
}
ACME, JANE, SPRING = (
    Entity("acme", "Acme Corp", "ORG"),
    Entity("jane", "Jane Doe", "PERSON"),
    Entity("spr", "Springfield", "GPE"),
)


@pytest.fixture
def retriever(
    tmp_path: Path, hash_embedder: Any, memory_store_cls: Any, memory_graph_cls: Any, nlp: Any
) -> HybridRetriever:
    children = [
        chunk(f"{d}#0", t, parent_id=f"{d}#p", file_name=f"{d}.pdf", page_start=i + 1, page_end=i + 1)
        for i, (d, t) in enumerate(TEXTS.items())
    ]
    parents = [
        chunk(f"{d}#p", f"Preface of {d}. {t} Closing words of {d}.", kind="parent") for d, t in TEXTS.items()
    ]
    store = memory_store_cls(hash_embedder, children + parents)
    bm25 = BM25Index(tmp_path / "bm25")
    bm25.add(children)
    graph = memory_graph_cls(
        [ACME, JANE, SPRING],
        [
            Relation("jane", "acme", "CEO_OF", chunk_id="d1#0"),
            Relation("jane", "spr", "BORN_IN", chunk_id="d5#0"),
        ],
        {"acme": ["d1#0", "d2#0", "d3#0", "d6#0"], "jane": ["d1#0", "d5#0"], "spr": ["d5#0"]},
    )
    return HybridRetriever(
        store=store,
        embedder=hash_embedder,
        bm25=bm25,
        graph=GraphRetriever(graph, nlp=nlp),
        self_query=SelfQueryParser(known_files=lambda: bm25.field_values("file_name")),
        compressor=build_compressor(hash_embedder, window=0),
        config=HybridConfig(k=3, compression=False, graph=True),
    )


def _ids(result: Any) -> list[str]:
    return [h.chunk.id for h in result.hits]


def test_multi_hop_chunk_needs_the_graph(retriever: HybridRetriever) -> None:
    without = retriever.retrieve(QUESTION, graph=False)
    assert "d5#0" not in _ids(without) and len(without.hits) == 3
    assert all("graph" not in h.provenance for h in without.hits)
    with_graph = retriever.retrieve(QUESTION)
    assert "d5#0" in _ids(with_graph) and len(with_graph.hits) == 3
    hop = next(h for h in with_graph.hits if h.chunk.id == "d5#0")
    assert hop.provenance["graph"]["hop"] == 1.0
    assert any("linked Acme Corp" in n for n in with_graph.notes)


def test_per_call_options_switch_stages(retriever: HybridRetriever) -> None:
    dense_only = retriever.retrieve(QUESTION, bm25=False, graph=False, mmr=False, pages=False, k=4)
    assert len(dense_only.hits) == 4 and all(set(h.provenance) == {"dense"} for h in dense_only.hits)
    bm25_only = retriever.retrieve(QUESTION, dense=False, graph=False, mmr=False, pages=False)
    assert all(set(h.provenance) == {"bm25"} for h in bm25_only.hits)
    paged = retriever.retrieve(QUESTION, bm25=False, graph=False, mmr=False, pages=True, k=4)
    assert all(set(h.provenance) == {"dense", "page"} for h in paged.hits)
    with pytest.raises(ValueError, match="unknown retrieval option"):
        retriever.retrieve(QUESTION, grpah=False)
    with pytest.raises(ValueError, match="no reranker"):
        retriever.retrieve(QUESTION, rerank=True)


def test_parents_are_attached_and_compression_uses_their_sentences(retriever: HybridRetriever) -> None:
    plain = retriever.retrieve("Which company sells anvils?", graph=False)
    top = plain.hits[0]
    assert top.chunk.id == "d6#0" and top.parent is not None and top.parent.id == "d6#p"
    assert top.answer_text == "Preface of d6. Acme Corp sells anvils. Closing words of d6."
    compressed = retriever.retrieve("Which company sells anvils?", graph=False, compression=True)
    assert compressed.hits[0].context == "Acme Corp sells anvils."
    assert 0.0 < plain.best_relevance <= 1.0


def test_self_query_filter_and_fallback(retriever: HybridRetriever) -> None:
    res = retriever.retrieve("Who is the chief executive in the d4 report?")
    assert _ids(res) == ["d4#0"] and res.filter == {"file_name": {"$eq": "d4.pdf"}}
    assert res.query == "Who is the chief executive?"
    paged = retriever.retrieve("chief executive on page 2")
    assert _ids(paged) == ["d2#0"]
    nothing = retriever.retrieve("Who sells anvils on page 40?")
    assert nothing.filter is None and _ids(nothing)[0] == "d6#0"
    assert any("matched nothing" in n for n in nothing.notes)
    explicit = retriever.retrieve("Who sells anvils?", filters={"file_name": "none.pdf"})
    assert explicit.hits == () and explicit.filter == {"file_name": "none.pdf"}


def test_mmr_and_distinct_parents_drop_copies(retriever: HybridRetriever, hash_embedder: Any) -> None:
    copy = chunk("d7#0", TEXTS["d6"], parent_id="d7#p", file_name="d7.pdf")
    sibling = chunk("d6#1", "Acme Corp sells anvils and more anvils.", parent_id="d6#p", file_name="d6.pdf")
    retriever.store.add([copy, sibling])
    assert retriever.bm25 is not None
    retriever.bm25.add([copy, sibling])
    no_mmr = retriever.retrieve("Which company sells anvils?", graph=False, mmr=False, distinct_parents=False)
    assert {"d6#0", "d7#0", "d6#1"} == set(_ids(no_mmr))
    diverse = retriever.retrieve("Which company sells anvils?", graph=False, mmr_lambda=0.3)
    assert len({"d6#0", "d7#0", "d6#1"} & set(_ids(diverse))) == 1


def test_langchain_interfaces(retriever: HybridRetriever) -> None:
    docs = retriever.invoke("Which company sells anvils?", graph=False)
    assert docs[0].id == "d6#0" and docs[0].metadata["provenance"]["dense"]["rank"] == 1.0
    assert docs[0].page_content.startswith("Preface of d6") and docs[0].metadata["chunk_text"] == TEXTS["d6"]
    wrapped = ContextualCompressionRetriever(
        base_compressor=build_compressor(retriever.embedder, window=0), base_retriever=retriever
    )
    assert (
        wrapped.invoke("Which company sells anvils?", graph=False)[0].page_content
        == "Acme Corp sells anvils."
    )


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="mmr_lambda"):
        HybridConfig(mmr_lambda=2.0)
    assert HybridConfig().with_options(k=9, graph=None).k == 9


def test_dense_side_runs_beside_bm25_and_graph_and_its_errors_surface(
    retriever: HybridRetriever, hash_embedder: Any
) -> None:
    import threading

    threads: list[str] = []
    embed_query = hash_embedder.embed_query

    def recording(text: str) -> Any:
        threads.append(threading.current_thread().name)
        return embed_query(text)

    hash_embedder.embed_query = recording
    try:
        result = retriever.retrieve(QUESTION)
        assert threads == [
            next(t for t in threads if t.startswith("citewise-dense"))
        ]  # embedded once, off-thread
        assert "d5#0" in _ids(result)  # the graph ranked its hop with the worker's vector

        def failing(text: str) -> Any:
            raise RuntimeError("model gone")

        hash_embedder.embed_query = failing
        with pytest.raises(RuntimeError, match="model gone"):
            retriever.retrieve(QUESTION)
    finally:
        del hash_embedder.embed_query
