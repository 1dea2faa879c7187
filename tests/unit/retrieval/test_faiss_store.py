"""FaissVectorStore on real FAISS with a hash embedder: index types, filters, deletes, LangChain API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.base import Chunk, VectorStoreError
from retrieval.embeddings.langchain_adapter import LangChainEmbeddings
from retrieval.vectorstores.docstore import DocumentRecord
from retrieval.vectorstores.faiss_store import FaissVectorStore

TOPICS = ["cod", "herring", "reef", "glacier", "storm", "harbour", "whale", "kelp"]


def docs(n_docs: int = 8, per_doc: int = 12) -> list[tuple[DocumentRecord, list[Chunk]]]:
    out = []
    for d in range(n_docs):
        doc_id = f"doc{d}"
        chunks = [
            Chunk(
                id=f"{doc_id}-{i}",
                doc_id=doc_id,
                text=f"{TOPICS[d % 8]} survey note {i} station s{d}x{i}",
                source=f"/c/{doc_id}.pdf",
                file_name=f"{doc_id}.pdf",
                file_type="pdf",
                page_start=i + 1,
                page_end=i + 1,
                chunk_index=i,
            )
            for i in range(per_doc)
        ]
        record = DocumentRecord(
            doc_id=doc_id,
            source=f"/c/{doc_id}.pdf",
            file_name=f"{doc_id}.pdf",
            file_type="pdf",
            content_hash=f"h{d}",
            n_children=per_doc,
            ingested_at=0.0,
        )
        out.append((record, chunks))
    return out


def filled(path: Path, embedder, **kwargs) -> FaissVectorStore:  # type: ignore[no-untyped-def]
    store = FaissVectorStore(path, embedder, **kwargs)
    store.check_embedder()
    for record, chunks in docs():
        store.replace_document(record, chunks, embedder.embed([c.text for c in chunks]))
    store.persist()
    return store


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf"])
def test_index_types_search_delete_and_reopen(tmp_path: Path, hash_embedder, index_type: str) -> None:
    store = filled(tmp_path, hash_embedder, index_type=index_type, ivf_nlist=2)
    assert store.count() == 96
    if index_type == "ivf":  # 96 vectors >= 39 * 2: a trained IVF, not the exact fallback
        import faiss

        assert isinstance(store.index, faiss.IndexIVF)
    query = hash_embedder.embed_query("reef survey note 3 station s2x3")
    best, score = store.search_by_vector(query, k=1)[0]
    assert best.id == "doc2-3" and score == pytest.approx(1.0, abs=1e-5)
    assert store.delete_document("doc2") and not store.delete_document("doc2")
    assert store.count() == 84
    assert all(c.doc_id != "doc2" for c, _ in store.search_by_vector(query, k=20))
    store.persist()
    store.close()
    again = FaissVectorStore(tmp_path, hash_embedder, index_type=index_type, ivf_nlist=2, read_only=True)
    assert again.count() == 84
    assert [c.id for c, _ in again.search_by_vector(query, k=5)] == [
        c.id for c, _ in store_search(again, query)
    ]


def store_search(store: FaissVectorStore, query: np.ndarray) -> list[tuple[Chunk, float]]:
    return store.search_by_vector(query, k=5)


def test_selective_filter_still_returns_k_hits(tmp_path: Path, hash_embedder) -> None:
    store = filled(tmp_path, hash_embedder)
    query = hash_embedder.embed_query("cod survey note")
    hits = store.search_by_vector(query, k=5, filter={"file_name": "doc5.pdf", "page_start": {"$gte": 3}})
    assert len(hits) == 5
    assert {c.file_name for c, _ in hits} == {"doc5.pdf"} and min(c.page_start for c, _ in hits) >= 3
    assert store.search_by_vector(query, k=5, filter={"file_name": "nope.pdf"}) == []


def test_replace_document_swaps_its_chunks(tmp_path: Path, hash_embedder) -> None:
    store = filled(tmp_path, hash_embedder)
    record, _ = docs()[0]
    new = [
        Chunk(
            id="doc0-new",
            doc_id="doc0",
            text="an entirely new text about volcanoes",
            source=record.source,
            file_name=record.file_name,
            file_type="pdf",
        )
    ]
    store.replace_document(record, new, hash_embedder.embed([new[0].text]))
    assert store.count() == 85
    assert [c.id for c in store.docstore.iter_chunks(doc_id="doc0")] == ["doc0-new"]
    with pytest.raises(VectorStoreError, match="1 child chunks but 2 vectors"):
        store.replace_document(record, new, hash_embedder.embed(["a", "b"]))


def test_langchain_interface(tmp_path: Path, hash_embedder) -> None:
    store = FaissVectorStore.from_texts(
        ["cod in the north", "cod in the north", "herring in the south", "whales near the reef"],
        LangChainEmbeddings(hash_embedder),
        metadatas=[{"source": f"/t/{i}.txt"} for i in range(4)],
        ids=["a", "b", "c", "d"],
        index_dir=tmp_path,
    )
    docs_scores = store.similarity_search_with_score("cod in the north", k=2)
    assert sorted(d.id for d, _ in docs_scores) == ["a", "b"]
    mmr = store.max_marginal_relevance_search("cod in the north", k=2, fetch_k=4, lambda_mult=0.3)
    assert len({d.page_content for d in mmr}) == 2  # the duplicate is not picked twice
    assert [d.page_content for d in store.get_by_ids(["c"])] == ["herring in the south"]
    assert [d.metadata["file_name"] for d in store.similarity_search("whales", k=1)] == ["3.txt"]
    assert store.delete(["a"]) and store.count() == 3


def test_refuses_vectors_of_another_model_and_missing_indexes(tmp_path: Path, hash_embedder) -> None:
    from tests.fakes import HashEmbedder

    filled(tmp_path, hash_embedder).close()
    with pytest.raises(VectorStoreError, match="built with embedder"):
        FaissVectorStore(tmp_path, HashEmbedder(dim=32)).check_embedder()
    with pytest.raises(VectorStoreError, match="no index at"):
        FaissVectorStore(tmp_path / "missing", hash_embedder, read_only=True)


def test_a_store_sees_writes_made_through_another_handle(tmp_path: Path, hash_embedder) -> None:
    ui = filled(tmp_path, hash_embedder)  # e.g. the UI's long-lived store
    reader = FaissVectorStore(tmp_path, hash_embedder, read_only=True)
    assert ui.count() == reader.count() == 96
    cli = FaissVectorStore(tmp_path, hash_embedder)  # e.g. an `ingest` run in another process
    record, _ = docs()[0]
    fresh = [
        Chunk(
            id="doc0-x",
            doc_id="doc0",
            text="volcano ash cloud",
            source=record.source,
            file_name=record.file_name,
            file_type="pdf",
        )
    ]
    cli.replace_document(record, fresh, hash_embedder.embed([fresh[0].text]))
    cli.delete_document("doc1")
    query = hash_embedder.embed_query("volcano ash cloud")
    for store in (ui, reader):
        assert store.count() == 96 - 12 - 12 + 1
        assert store.search_by_vector(query, k=1)[0][0].id == "doc0-x"
    generation = ui.docstore.generation
    ui.docstore.set_entity_count("doc0", 3)  # bookkeeping does not invalidate the vector cache
    assert ui.docstore.generation == generation


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf"])
def test_selective_filters_narrow_to_sql_candidates(
    tmp_path: Path, hash_embedder, index_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.vectorstores.faiss_store as faiss_store

    monkeypatch.setattr(faiss_store, "NARROW_AFTER", 8)  # 96 chunks: narrow after the first round
    store = filled(tmp_path, hash_embedder, index_type=index_type, ivf_nlist=2)
    query = hash_embedder.embed_query("cod survey note")
    flt = {"file_name": {"$in": ["doc3.pdf"]}, "page_start": {"$gte": 10}, "section": {"$contains": ""}}
    candidates = store.filter_candidates(flt)
    assert candidates is not None and sorted(candidates.values()) == ["doc3-10", "doc3-11", "doc3-9"]
    fetched: list[list[int]] = []
    by_rowid = store.docstore.chunks_by_rowid

    def spy(rowids):  # type: ignore[no-untyped-def]
        fetched.append(list(rowids))
        return by_rowid(rowids)

    store.docstore.chunks_by_rowid = spy  # type: ignore[method-assign]
    hits = store.search_by_vector(query, k=5, filter=flt)
    assert sorted(c.id for c, _ in hits) == ["doc3-10", "doc3-11", "doc3-9"]  # all three, exactly
    assert len(fetched) == 2 and set(fetched[1]) <= set(candidates)  # one plain round, one narrowed
    fetched.clear()
    assert store.search_by_vector(query, k=5, filter={"section": {"$contains": "human resources"}}) == []
    assert len(fetched) == 1 and len(fetched[0]) <= 40  # the first round only, not all 96 chunks
    fetched.clear()
    broad = store.search_by_vector(query, k=5, filter={"file_type": "pdf"})
    assert len(broad) == 5 and len(fetched) == 1  # a broad filter is served by the plain search
    assert store.filter_candidates({"$not": {"file_type": "pdf"}}) is None  # SQL cannot narrow $not
