"""Document targeting: facts read from cover pages and file names, scopes read from questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.base import Chunk
from retrieval.documents import DocumentRanker
from retrieval.targeting import DocumentFacts, QuestionScope, document_facts, question_scope, scope_fit
from retrieval.vectorstores.docstore import DocumentRecord
from retrieval.vectorstores.faiss_store import FaissVectorStore


def _chunk(doc: str, text: str) -> Chunk:
    return Chunk(id=f"{doc}-0", doc_id=doc, text=text, source=f"/c/{doc}", file_name=doc, file_type="pdf")


COVER_10K = (
    "UNITED STATES SECURITIES AND EXCHANGE COMMISSION Washington, D.C. 20549 FORM 10-K "
    "ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) For the fiscal year ended December 31, 2018 "
    "Commission file number 1-3285 3M COMPANY"
)
COVER_10Q = "FORM 10-Q QUARTERLY REPORT For the quarterly period ended June 25, 2022 Apple Inc."
COVER_8K = (
    "FORM 8-K CURRENT REPORT Date of Report (Date of earliest event reported): May 18, 2022 FOOT LOCKER"
)


def test_cover_pages_give_form_and_the_year_the_period_ends() -> None:
    assert document_facts(COVER_10K, "3M_2018_10K.pdf") == DocumentFacts("10-K", 2018, None)
    assert document_facts(COVER_10Q, "2022 Q3 AAPL.pdf") == DocumentFacts("10-Q", 2022, 3)
    assert document_facts(COVER_8K, "FOOTLOCKER_2022_8K.pdf") == DocumentFacts("8-K", 2022, None)


def test_the_cover_page_wins_over_the_file_name_and_the_file_name_fills_gaps() -> None:
    # A fiscal year that ends in January is named by its end: the cover says 2020.
    walmart = "Form 10-K For the fiscal year ended January 31, 2020 Walmart Inc."
    assert document_facts(walmart, "annual-report-2019.pdf").year == 2020
    assert document_facts("no cover words here", "JPMORGAN_2021Q1_10Q.pdf") == DocumentFacts("10-Q", 2021, 1)
    assert document_facts("nothing", "notes.md") == DocumentFacts(None, None, None)
    assert document_facts("For the year ended 31 December 2021 Acme plc", "").year == 2021


@pytest.mark.parametrize(
    ("question", "scope"),
    [
        ("What is the FY2018 capital expenditure for 3M?", QuestionScope((2018,), None, None)),
        ("3 year average from FY2017 - FY2019 for Activision?", QuestionScope((2017, 2019), None, None)),
        ("Revenue in Q3 FY23?", QuestionScope((2023,), 3, None)),
        ("Net sales in the third quarter of 2023", QuestionScope((2023,), 3, None)),
        ("Which segment had the lowest revenue in 2021 Q1?", QuestionScope((2021,), 1, None)),
        ("Does the 10-K for fiscal 2022 list risks?", QuestionScope((2022,), None, "10-K")),
        ("Who founded the institute?", QuestionScope((), None, None)),
    ],
)
def test_question_scope(question: str, scope: QuestionScope) -> None:
    assert question_scope(question) == scope


def test_the_latest_year_asked_fits_best_other_named_years_a_little_and_the_rest_not() -> None:
    scope = question_scope("Revenue growth from FY2016 to FY2017")
    assert scope_fit(scope, DocumentFacts("10-K", 2017)) == 1.0
    assert scope_fit(scope, DocumentFacts("10-K", 2016)) == 0.5
    assert scope_fit(scope, DocumentFacts("10-K", 2019)) == 0.0
    assert scope_fit(scope, DocumentFacts(None, None)) == 0.5
    quarter = question_scope("Q2 2023 net income")
    assert scope_fit(quarter, DocumentFacts("10-Q", 2023, 2)) == 1.0
    assert scope_fit(quarter, DocumentFacts("10-Q", 2023, 3)) == 0.5  # right year, wrong quarter
    assert scope_fit(question_scope("no period at all"), DocumentFacts("10-K", 2017)) is None


def test_ranker_targets_the_filing_of_the_year_asked(tmp_path: Path, hash_embedder) -> None:
    store = FaissVectorStore(tmp_path, hash_embedder)
    covers = {
        "ACME_2017_10K.pdf": "FORM 10-K For the fiscal year ended December 31, 2017 Acme Corp.",
        "ACME_2019_10K.pdf": "FORM 10-K For the fiscal year ended December 31, 2019 Acme Corp.",
        "kelp.md": "Kelp forests of the northern fjords.",
    }
    for name, body in covers.items():
        chunks = [_chunk(name, body)]
        record = DocumentRecord(
            doc_id=name,
            source=f"/c/{name}",
            file_name=name,
            file_type="pdf",
            content_hash=name,
            ingested_at=0,
        )
        store.replace_document(record, chunks, hash_embedder.embed([body]))
    ranker = DocumentRanker(store.docstore, hash_embedder)
    assert ranker.facts()["ACME_2019_10K.pdf"] == DocumentFacts("10-K", 2019, None)
    fit = ranker.targeting("Acme's revenue change from FY2018 to FY2019")
    assert fit == {"ACME_2017_10K.pdf": 0.0, "ACME_2019_10K.pdf": 1.0, "kelp.md": 0.5}
    assert ranker.targeting("What do kelp forests need?") == {}
    store.close()
