"""Compression stages with the hash embedder (the real-model test is in tests/integration)."""

from __future__ import annotations

from typing import Any

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from retrieval.retrievers.compression import (
    EmbeddingSentenceExtractor,
    LLMSentenceExtractor,
    RedundancyFilter,
    build_compressor,
    split_sentences,
)

PARENT = (
    "The sky over the campus was grey all week. Nvidia revenue grew 88 percent in the third quarter. "
    "Cats prefer fish to bread. Mr. Smith joined the board in May."
)


def test_split_sentences_keeps_abbreviations_together() -> None:
    assert split_sentences(PARENT) == [
        "The sky over the campus was grey all week.",
        "Nvidia revenue grew 88 percent in the third quarter.",
        "Cats prefer fish to bread.",
        "Mr. Smith joined the board in May.",
    ]
    assert split_sentences("Heading\n\nBody text here") == ["Heading", "Body text here"]


def test_extractor_keeps_the_answer_sentence_and_drops_unrelated_ones(hash_embedder: Any) -> None:
    extractor = EmbeddingSentenceExtractor(embedder=hash_embedder, min_similarity=0.3)
    out = extractor.compress_documents(
        [Document(page_content=PARENT, metadata={"id": "x"})], "How much did Nvidia revenue grow?"
    )
    assert out[0].page_content == "Nvidia revenue grew 88 percent in the third quarter."
    assert out[0].metadata["full_text"] == PARENT and out[0].metadata["kept_sentences"] == 1
    window = EmbeddingSentenceExtractor(embedder=hash_embedder, window=1)
    kept = window.compress_documents([Document(page_content=PARENT)], "How much did Nvidia revenue grow?")
    assert split_sentences(kept[0].page_content) == split_sentences(PARENT)[:3]


def test_redundancy_filter_drops_same_parent_and_near_copies(hash_embedder: Any) -> None:
    docs = [
        Document(page_content="apple revenue grew in the quarter", metadata={"parent_id": "p1"}),
        Document(page_content="something else from the same section", metadata={"parent_id": "p1"}),
        Document(page_content="Apple revenue grew in the quarter!", metadata={"parent_id": "p2"}),
        Document(page_content="supply chain risk factors", metadata={"parent_id": "p3"}),
    ]
    out = RedundancyFilter(embedder=hash_embedder, similarity_threshold=0.9).compress_documents(docs, "q")
    assert [d.metadata["parent_id"] for d in out] == ["p1", "p3"]


def test_llm_extractor_keeps_only_numbered_sentences_it_picked() -> None:
    prompts: list[str] = []

    def complete_json(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        prompts.append(prompt)
        return {"sentences": [2, 99]} if "Cats prefer" in prompt else {"sentences": []}

    docs = [Document(page_content=PARENT), Document(page_content="Nothing relevant. At all.")]
    out = LLMSentenceExtractor(complete_json=complete_json).compress_documents(docs, "Nvidia growth?")
    assert [d.page_content for d in out] == ["Nvidia revenue grew 88 percent in the third quarter."]
    assert "2. Nvidia revenue grew" in prompts[0]


class _ListRetriever(BaseRetriever):
    docs: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return self.docs


def test_pipeline_plugs_into_contextual_compression_retriever(hash_embedder: Any) -> None:
    base = _ListRetriever(
        docs=[
            Document(page_content=PARENT, metadata={"parent_id": "p1"}),
            Document(page_content=PARENT, metadata={"parent_id": "p1"}),
        ]
    )
    retriever = ContextualCompressionRetriever(
        base_compressor=build_compressor(hash_embedder, window=0), base_retriever=base
    )
    docs = retriever.invoke("How much did Nvidia revenue grow?")
    assert [d.page_content for d in docs] == ["Nvidia revenue grew 88 percent in the third quarter."]


def test_redundancy_filter_uses_given_embeddings_without_calling_the_model(hash_embedder: Any) -> None:
    same, other = [1.0, 0.0], [0.0, 1.0]
    docs = [
        Document(page_content="first text", metadata={"parent_id": "p1", "embedding": same}),
        Document(page_content="entirely different words", metadata={"parent_id": "p2", "embedding": same}),
        Document(page_content="third", metadata={"parent_id": "p3", "embedding": other}),
    ]
    out = RedundancyFilter(embedder=hash_embedder).compress_documents(docs, "q")
    assert [d.metadata["parent_id"] for d in out] == ["p1", "p3"] and hash_embedder.calls == []


def test_long_pieces_are_cut_and_only_their_prefix_is_embedded(hash_embedder: Any) -> None:
    table = " ".join(f"cell{i}" for i in range(25)) + " revenue 512"
    extractor = EmbeddingSentenceExtractor(
        embedder=hash_embedder, max_words=10, embed_chars=40, min_similarity=0.1
    )
    out = extractor.compress_documents([Document(page_content=table)], "cell21 revenue")
    assert out[0].page_content == "cell20 cell21 cell22 cell23 cell24 revenue 512"
    assert out[0].metadata["kept_sentences"] == 1


def test_piece_vectors_are_cached_between_questions(hash_embedder: Any) -> None:
    extractor = EmbeddingSentenceExtractor(embedder=hash_embedder, cache_size=3)
    extractor.compress_documents([Document(page_content=PARENT)], "Nvidia revenue")
    assert hash_embedder.calls == [4, 1]  # four sentences, then the query
    extractor.compress_documents([Document(page_content=PARENT)], "cats")
    assert hash_embedder.calls == [4, 1, 1, 1]  # the one evicted sentence again, then the query
