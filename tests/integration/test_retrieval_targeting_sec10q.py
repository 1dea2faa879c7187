"""Document targeting on real 10-Q filings: the named filing's pages come first.

Three real filings from the shared sec10q set (two of the same company, a year apart, and one of
another company), ingested with the real MiniLM embedder into a real FAISS + BM25 index under
tmp_path; the graph is not built (it plays no part here and would triple the ingest time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

FILES = ("2022 Q3 AAPL.pdf", "2023 Q3 AAPL.pdf", "2023 Q3 NVDA.pdf")


@pytest.fixture(scope="module")
def filings_service(shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    from app.service import Citewise

    root = tmp_path_factory.mktemp("sec10q-subset")
    service = Citewise.open(
        root / "index", cache_dir=root / "cache", graph={"enabled": False}, llm={"answer_mode": "extractive"}
    )
    service.__dict__["embedder"] = embedder  # the session's loaded model: same weights as a fresh one
    report = service.ingest([shared_data_dir / "sec10q" / "docs" / name for name in FILES])
    assert report.summary()["added"] == len(FILES), report.failed
    yield service
    service.close()


@pytest.mark.parametrize(
    ("question", "filing", "other_year"),
    [
        (
            "What were Apple's total net sales in the third quarter of fiscal 2022?",
            "2022 Q3 AAPL.pdf",
            "2023 Q3 AAPL.pdf",
        ),
        (
            "What were Apple's total net sales in the third quarter of fiscal 2023?",
            "2023 Q3 AAPL.pdf",
            "2022 Q3 AAPL.pdf",
        ),
        ("What was NVIDIA's revenue in Q3 2023?", "2023 Q3 NVDA.pdf", None),
    ],
)
def test_the_named_filings_pages_are_ranked_first(
    filings_service: Any, question: str, filing: str, other_year: str | None
) -> None:
    result = filings_service.search(question, k=5)
    files = [h.chunk.file_name for h in result.hits]
    assert files[:2] == [filing] * 2, files
    assert all(h.chunk.page_start is not None for h in result.hits[:2])
    if other_year in files:  # the same company's filing of another year comes later
        assert files.index(other_year) >= 2, files


def test_targeting_is_what_separates_two_years_of_one_company(filings_service: Any) -> None:
    ranker = filings_service.retriever.documents
    facts = {filings_service.store.docstore.document(d).file_name: f for d, f in ranker.facts().items()}
    assert facts["2022 Q3 AAPL.pdf"].form == "10-Q" and facts["2022 Q3 AAPL.pdf"].year == 2022
    assert facts["2023 Q3 AAPL.pdf"].year == 2023 and facts["2023 Q3 AAPL.pdf"].quarter == 3
    fit = ranker.targeting("Apple's net sales in the third quarter of fiscal 2022")
    by_name = {filings_service.store.docstore.document(d).file_name: v for d, v in fit.items()}
    assert by_name["2022 Q3 AAPL.pdf"] == 1.0 > by_name["2023 Q3 AAPL.pdf"]
