"""BM25Index.knows: the corpus vocabulary the refusal check asks."""

from __future__ import annotations

from pathlib import Path

from retrieval.base import Chunk
from retrieval.bm25_store import BM25Index


def chunk(cid: str, doc: str, text: str) -> Chunk:
    return Chunk(
        id=cid, doc_id=doc, text=text, source=f"/{doc}.txt", file_name=f"{doc}.txt", file_type="text"
    )


def test_knows_stemmed_words_of_live_chunks_only(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25")
    index.add([chunk("a1", "a", "Halvorsen founded the institute in 1923."), chunk("b1", "b", "Tesla cars.")])
    assert index.knows("Halvorsen") and index.knows("founding") and index.knows("1923")
    assert index.knows("Tesla") and not index.knows("Walmart") and not index.knows("1999")
    assert index.knows("the")  # a stopword cannot be judged
    index.delete_document("b")
    assert not index.knows("Tesla")
    assert not BM25Index(tmp_path / "bm25").knows("Tesla") and BM25Index(tmp_path / "bm25").knows("Halvorsen")
