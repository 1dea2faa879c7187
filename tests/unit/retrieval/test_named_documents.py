"""Narrowing to the documents a question names, when none of the first hits comes from them."""

from __future__ import annotations

from typing import Any

from retrieval.base import Chunk, Hit
from retrieval.coverage import DocumentCoverage
from retrieval.retrievers.hybrid import HybridConfig, HybridRetriever
from tests.fakes import HashEmbedder


class Coverage:
    """Three filings' names as :class:`retrieval.coverage.CorpusCoverage` would read them."""

    def documents(self) -> list[DocumentCoverage]:
        return [
            DocumentCoverage(
                "amzn-q1", "2023 Q1 AMZN.pdf", "2023 q1 amzn amazon com inc form 10 q", None, frozenset()
            ),
            DocumentCoverage(
                "amzn-q2", "2023 Q2 AMZN.pdf", "2023 q2 amzn amazon com inc form 10 q", None, frozenset()
            ),
            DocumentCoverage(
                "msft-q2",
                "2023 Q2 MSFT.pdf",
                "2023 q2 msft microsoft corporation form 10 q",
                None,
                frozenset(),
            ),
        ]


def hit(doc_id: str) -> Hit:
    chunk = Chunk(id=f"{doc_id}#1", doc_id=doc_id, text="We repurchased shares.", source=doc_id,
                  file_name=doc_id, file_type="pdf")  # fmt: skip
    return Hit(chunk=chunk, score=1.0)


def narrowed(question: str, top: list[Hit], **config: Any) -> Any:
    retriever = HybridRetriever(store=None, embedder=HashEmbedder(), coverage=Coverage())  # type: ignore[arg-type]
    return retriever._named_filter(question, top, HybridConfig(**config))


def test_a_named_company_whose_documents_got_no_hit_narrows_the_search_to_them() -> None:
    found = narrowed("Has Amazon repurchased shares this quarter?", [hit("msft-q2"), hit("msft-q2")])
    assert found == ({"doc_id": {"$in": ["amzn-q1", "amzn-q2"]}}, "'Amazon'")


def test_no_narrowing_when_a_hit_already_comes_from_a_named_document() -> None:
    assert narrowed("Has Amazon repurchased shares?", [hit("msft-q2"), hit("amzn-q2")]) is None


def test_no_narrowing_without_a_name_or_when_the_name_fits_every_document_or_none() -> None:
    top = [hit("msft-q2")]
    assert narrowed("how many shares were repurchased this quarter?", top) is None  # no name
    assert narrowed("Has Tesla repurchased shares?", top) is None  # named documents: none indexed
    assert narrowed("What did Form 10-Q filers repurchase?", top) is None  # 'Form' names all three


def test_the_switch_turns_it_off() -> None:
    assert narrowed("Has Amazon repurchased shares?", [hit("msft-q2")], named_documents=False) is None
