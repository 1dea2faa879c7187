"""The hybrid retriever on the sample corpus: real MiniLM, FAISS, BM25, spaCy and SQLite graph.

One index per module, built through the service facade like a user would, from a copy of the
corpus plus a planted duplicate of ``havorn.html``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.base import RetrievalResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MULTI_HOP = "Who worked with the founder of the Skarvik Marine Institute?"


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path, cache_dir: Path
) -> Iterator[Any]:
    from app.service import Citewise

    root = tmp_path_factory.mktemp("retrieval")
    corpus = root / "corpus"
    shutil.copytree(sample_corpus_dir, corpus, ignore=shutil.ignore_patterns("QUESTIONS.md"))
    shutil.copy(corpus / "havorn.html", corpus / "havorn_copy.html")
    cw = Citewise.open(root / "index", cache_dir=cache_dir, llm={"answer_mode": "extractive"})
    report = cw.ingest([corpus])
    assert len(cw.store.docstore.documents()) == 7, report
    yield cw
    cw.close()


def _files(result: RetrievalResult) -> list[str]:
    return [h.chunk.file_name for h in result.hits]


def test_multi_hop_question_needs_the_graph(service: Any) -> None:
    with_graph = service.search(MULTI_HOP, graph=True)
    without = service.search(MULTI_HOP, graph=False)
    assert "rustad_logbook.txt" in _files(with_graph)
    assert "rustad_logbook.txt" not in _files(without)
    rustad = next(h for h in with_graph.hits if h.chunk.file_name == "rustad_logbook.txt")
    assert "graph" in rustad.provenance and rustad.provenance["graph"].get("hop") == 1.0
    assert any("Skarvik Marine Institute" in n for n in with_graph.notes)


def test_mmr_removes_the_planted_duplicate(service: Any) -> None:
    question = "How long was the Havørn and where was she built?"
    plain = service.search(question, mmr=False, graph=False, compression=False, k=5)
    assert {"havorn.html", "havorn_copy.html"} <= set(_files(plain))
    diverse = service.search(question, graph=False, compression=False, k=5)
    texts = [h.chunk.text for h in diverse.hits]
    assert len(texts) == len(set(texts)) == 5
    # the copy's chunks duplicate the original's: one of the two files is left out
    assert not {"havorn.html", "havorn_copy.html"} <= set(_files(diverse))
    # the compressor's redundancy filter is a second line of defence against copies
    compressed = service.search(question, mmr=False, graph=False, k=5)
    contexts = [h.context for h in compressed.hits]
    assert len(contexts) == len(set(contexts))


def test_self_query_restricts_hits_to_the_named_file(service: Any) -> None:
    result = service.search("What was the total budget in the annual_report_1938.docx file?")
    assert result.filter == {"file_name": {"$eq": "annual_report_1938.docx"}}
    assert result.hits and set(_files(result)) == {"annual_report_1938.docx"}
    assert "annual_report_1938" not in result.query
    paged = service.search("At what depth does the reef lie, on page 3?")
    assert paged.hits and all(h.chunk.page_start is not None and h.chunk.page_start <= 3 for h in paged.hits)
    assert all((h.chunk.page_end or h.chunk.page_start) >= 3 for h in paged.hits)
    typed = service.search("Who captained the ship, in the PDFs?")
    assert typed.hits and set(_files(typed)) == {"skarvik_history.pdf"}


def test_filter_matching_nothing_falls_back_and_says_so(service: Any) -> None:
    result = service.search("How long was the Havørn, on page 40?")
    assert result.filter is None and result.hits
    assert any("matched nothing" in n for n in result.notes)


def test_compression_keeps_the_answer_sentence_and_drops_unrelated_ones(service: Any) -> None:
    result = service.search("At what depth does the Aasen Reef lie?", graph=False)
    top = next(h for h in result.hits if "312 metres" in (h.parent.text if h.parent else h.chunk.text))
    assert "312 metres" in top.context
    assert top.parent is not None and len(top.context) < len(top.parent.text) / 2
    assert "Brennøy Savings Bank" not in top.context and "Eikrem" not in top.context
    length = service.search("How long was the Havørn?", graph=False)
    assert any("38 metres" in h.context for h in length.hits)
    uncompressed = service.search("At what depth does the Aasen Reef lie?", graph=False, compression=False)
    assert all(h.context == "" for h in uncompressed.hits)
    assert result.best_relevance > 0.4


def test_langchain_invoke_carries_provenance(service: Any) -> None:
    docs = service.retriever.invoke("Where was the Havørn built?", graph=False)
    assert docs and all(set(d.metadata["provenance"]) <= {"dense", "bm25", "document"} for d in docs)
    assert all(0.0 <= d.metadata["provenance"]["document"]["score"] <= 1.0 for d in docs)
    built = [d for d in docs if "Lindøy" in d.page_content]
    assert built and built[0].metadata["file_name"] in {"havorn.html", "havorn_copy.html"}
    assert built[0].metadata["provenance"]["dense"]["rank"] <= 2.0
