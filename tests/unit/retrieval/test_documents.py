"""Document profiles and the document prior: real SQLite docstore and FAISS store, hash embedder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from retrieval.base import Chunk, Hit
from retrieval.documents import DocumentRanker, document_profile
from retrieval.retrievers.hybrid import _with_document_prior
from retrieval.vectorstores.docstore import DocumentRecord, SQLiteDocStore
from retrieval.vectorstores.faiss_store import FaissVectorStore

BODIES = {
    "2023 Q1 ACME.pdf": "Acme Corporation quarterly report for the period ended March 31 2023. Net sales rose.",
    "2023 Q2 ACME.pdf": "Acme Corporation quarterly report for the period ended June 30 2023. Net sales fell.",
    "kelp survey.md": "Kelp forests of the northern fjords, a field survey by the marine station.",
}


def _chunk(doc: str, i: int, text: str, kind: str = "child") -> Chunk:
    return Chunk(
        id=f"{doc}-{kind}-{i}",
        doc_id=doc,
        text=text,
        source=f"/c/{doc}",
        file_name=doc,
        file_type=doc.rsplit(".", 1)[-1],
        chunk_index=i,
        kind=kind,  # type: ignore[arg-type]
    )


def _fill(store: FaissVectorStore, embedder) -> None:  # type: ignore[no-untyped-def]
    for name, body in BODIES.items():
        chunks = [_chunk(name, 0, body), _chunk(name, 1, "Net sales and operating income are discussed.")]
        record = DocumentRecord(
            doc_id=name,
            source=f"/c/{name}",
            file_name=name,
            file_type="pdf",
            content_hash=name,
            ingested_at=0,
        )
        store.replace_document(record, chunks, embedder.embed([c.text for c in chunks]))


def test_profile_is_stem_title_and_opening_words_of_the_children_in_order() -> None:
    chunks = [
        _chunk("r.pdf", 1, "second child " * 100),
        _chunk("r.pdf", 0, "first child words"),
        _chunk("r.pdf", 0, "the parent text is not used", kind="parent"),
    ]
    text = document_profile("2023 Q3 NVDA.pdf", "NVIDIA 10-Q", chunks, words=10)
    lines = text.split("\n")
    assert lines[0] == "2023 Q3 NVDA" and lines[1] == "NVIDIA 10-Q"
    assert lines[2].split() == ["first", "child", "words"] + ["second", "child"] * 3 + ["second"]
    # a title equal to the stem, or empty, is not repeated
    assert document_profile("notes.md", "notes", chunks[:1], words=2).split("\n") == ["notes", "second child"]


def test_profiles_are_stored_with_their_document_and_deleted_with_it(tmp_path: Path, hash_embedder) -> None:
    store = FaissVectorStore(tmp_path, hash_embedder)
    _fill(store, hash_embedder)
    rows = {doc: (text, vec) for doc, text, vec in store.docstore.profiles()}
    assert set(rows) == set(BODIES)
    text, vec = rows["kelp survey.md"]
    assert text is not None and text.startswith("kelp survey\n") and vec is not None
    assert np.allclose(vec, hash_embedder.embed([text])[0])
    store.delete_document("kelp survey.md")
    assert {doc for doc, _, _ in store.docstore.profiles()} == set(BODIES) - {"kelp survey.md"}
    with sqlite3.connect(tmp_path / "docstore.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM profiles").fetchone()[0] == 2
    store.close()


def test_ranker_prefers_the_document_the_question_names(tmp_path: Path, hash_embedder) -> None:
    store = FaissVectorStore(tmp_path, hash_embedder)
    _fill(store, hash_embedder)
    ranker = DocumentRanker(store.docstore, hash_embedder)
    question = "How did net sales change in the Q2 2023 ACME report?"
    prior = ranker.scores(question, hash_embedder.embed_query(question))
    assert max(prior, key=prior.__getitem__) == "2023 Q2 ACME.pdf"
    assert all(0.0 <= p <= 1.0 for p in prior.values())
    assert prior["kelp survey.md"] < prior["2023 Q1 ACME.pdf"] < prior["2023 Q2 ACME.pdf"]
    kelp = ranker.scores("kelp forests survey", hash_embedder.embed_query("kelp forests survey"))
    assert max(kelp, key=kelp.__getitem__) == "kelp survey.md"
    store.close()


def test_an_index_without_profiles_gets_them_built_in_memory(tmp_path: Path, hash_embedder) -> None:
    store = FaissVectorStore(tmp_path, hash_embedder)
    _fill(store, hash_embedder)
    question = "net sales in the Q1 2023 ACME report"
    stored = DocumentRanker(store.docstore, hash_embedder).scores(
        question, hash_embedder.embed_query(question)
    )
    store.close()
    with sqlite3.connect(tmp_path / "docstore.sqlite") as conn:  # as an index written before profiles
        conn.execute("DROP TABLE profiles")
    legacy = SQLiteDocStore(tmp_path / "docstore.sqlite", read_only=True)
    assert all(text is None and vec is None for _, text, vec in legacy.profiles())
    rebuilt = DocumentRanker(legacy, hash_embedder).scores(question, hash_embedder.embed_query(question))
    assert rebuilt.keys() == stored.keys()
    assert all(rebuilt[d] == pytest.approx(stored[d]) for d in stored)
    legacy.close()


def test_ranker_sees_documents_added_after_it_was_built(tmp_path: Path, hash_embedder) -> None:
    store = FaissVectorStore(tmp_path, hash_embedder)
    ranker = DocumentRanker(store.docstore, hash_embedder)
    assert ranker.scores("anything", hash_embedder.embed_query("anything")) == {}
    _fill(store, hash_embedder)
    assert set(ranker.scores("kelp", hash_embedder.embed_query("kelp"))) == set(BODIES)
    with pytest.raises(ValueError, match="embedding_share"):
        DocumentRanker(store.docstore, hash_embedder, embedding_share=1.5)
    store.close()


def test_prior_is_added_to_scaled_fused_scores_and_recorded() -> None:
    hits = [
        Hit(chunk=_chunk("a.md", 0, "x"), score=0.030, provenance={"dense": {"rank": 1.0, "score": 0.9}}),
        Hit(chunk=_chunk("b.md", 0, "y"), score=0.025, provenance={"bm25": {"rank": 1.0, "score": 3.0}}),
        Hit(chunk=_chunk("c.md", 0, "z"), score=0.020, provenance={}),
    ]
    out = _with_document_prior(hits, {"a.md": 0.0, "b.md": 0.9, "c.md": 0.4}, weight=0.5)
    # scaled fused scores 1.0, 0.5, 0.0 -> plus 0.5 x prior: a 1.0, b 0.95, c 0.2
    assert [h.chunk.doc_id for h in out] == ["a.md", "b.md", "c.md"]
    assert [h.score for h in out] == pytest.approx([1.0, 0.95, 0.2])
    assert out[1].provenance["document"] == {"rank": 1.0, "score": 0.9}
    assert out[1].provenance["bm25"] == {"rank": 1.0, "score": 3.0}
    flipped = _with_document_prior(hits, {"a.md": 0.0, "b.md": 0.9, "c.md": 0.4}, weight=2.0)
    assert [h.chunk.doc_id for h in flipped] == ["b.md", "a.md", "c.md"]  # 2.3, 1.0, 0.8
    assert _with_document_prior(hits, {}, weight=1.0) == hits
