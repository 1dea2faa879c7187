"""Refusal on real indexes: the sample corpus, and two real 10-Q filings asked in analysts' spellings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path, embedder, cache_dir: Path):  # type: ignore[no-untyped-def]
    from app.service import Citewise

    root = tmp_path_factory.mktemp("refusal")
    cw = Citewise.open(
        root / "index", cache_dir=cache_dir, graph={"enabled": False}, llm={"answer_mode": "extractive"}
    )
    cw.__dict__["embedder"] = embedder
    assert cw.ingest([sample_corpus_dir]).failed == []
    yield cw
    cw.close()


@pytest.mark.parametrize(
    ("question", "because"),
    [
        ("What did Tesla build on Vesterholm?", "names 'Tesla'"),
        ("Who directed the Skarvik Marine Institute in 1999?", "never mention 1999"),
    ],
)
def test_questions_naming_what_no_document_mentions_are_refused(service, question: str, because: str) -> None:
    answer = service.ask(question)
    assert answer.refused and answer.citations == ()
    assert any(because in note for note in answer.notes), answer.notes


def test_answerable_questions_are_not_refused(service) -> None:
    for question in (
        "When was the Skarvik Marine Institute founded?",
        "What does NOSA stand for?",
        "Where was the Havørn built?",
    ):
        answer = service.ask(question)
        assert not answer.refused and answer.citations, (question, answer.notes)


def test_the_gate_and_the_retriever_share_one_coverage_of_the_index(service) -> None:  # type: ignore[no-untyped-def]
    coverage = service.chain.gate.coverage
    assert coverage is not None and coverage is service.retriever.coverage
    assert len(coverage.documents()) == len(service.documents())


def test_the_checks_can_be_switched_off(
    tmp_path: Path, sample_corpus_dir: Path, embedder, cache_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    from app.service import Citewise

    cw = Citewise.open(
        tmp_path / "index",
        cache_dir=cache_dir,
        graph={"enabled": False},
        llm={"answer_mode": "extractive"},
        retrieval={"refuse_uncovered": False},
    )
    cw.__dict__["embedder"] = embedder
    cw.ingest([sample_corpus_dir / "havorn.html"])
    answer = cw.ask("What did Tesla build near the Havørn?")
    assert not any("names" in n or "never mention" in n for n in answer.notes), answer.notes
    cw.close()


# Two real 10-Qs: NVIDIA's for the quarter ended July 30, 2023 (its fiscal 2024's second quarter) and
# Apple's for the quarter ended December 31, 2022 (its fiscal 2023's first).
FILINGS = ("2023 Q2 NVDA.pdf", "2023 Q1 AAPL.pdf")


@pytest.fixture(scope="module")
def filings(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path, embedder):  # type: ignore[no-untyped-def]
    from app.service import Citewise

    root = tmp_path_factory.mktemp("filings")
    docs = root / "docs"
    docs.mkdir()
    for name in FILINGS:  # copies: nothing may write next to the shared data
        shutil.copy2(shared_data_dir / "sec10q" / "docs" / name, docs / name)
    cw = Citewise.open(
        root / "index",
        cache_dir=root / "cache",
        graph={"enabled": False},
        llm={"answer_mode": "extractive"},
        ingest={"parse_timeout_s": 3600},  # parsing a 10-Q on a loaded machine: no wall-clock race
    )
    cw.__dict__["embedder"] = embedder
    assert cw.ingest([docs]).failed == []
    yield cw
    cw.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "What was NVIDIA's revenue in Q2 FY24?",
        "What was NVIDIA's Data Center revenue in 2Q FY2024?",
        "What were Apple's total net sales in Q1 FY23?",
        "How much did AAPL's iPhone net sales come to in the first quarter of fiscal 2023?",
    ],
)
def test_real_filings_answer_analyst_spellings(filings, question: str) -> None:
    answer = filings.ask(question)
    assert not answer.refused and answer.citations, answer.notes


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "because"),
    [
        ("What was NVIDIA's revenue in FY2030?", "report on periods up to 2023-07-30, before FY2030"),
        (
            "What were Apple's total net sales for the quarter ended December 28, 2024?",
            "report on periods up to 2022-12-31, before 3 months to 2024-12-28",
        ),
        ("What was Boeing's commercial airplanes backlog in Q2 FY24?", "names 'Boeing'"),
    ],
)
def test_real_filings_refuse_uncovered_periods_and_absent_companies(
    filings, question: str, because: str
) -> None:
    answer = filings.ask(question)
    assert answer.refused and answer.citations == ()
    assert any(because in note for note in answer.notes), answer.notes


@pytest.mark.slow
def test_the_literal_check_refused_what_the_evidence_gate_answers(filings) -> None:
    question = "What were Apple's total net sales in Q1 FY23?"
    gate = filings.chain.gate
    literal = type(gate)(min_relevance=gate.min_relevance, knows=filings.bm25.knows)
    result = filings.search(question)
    assert literal.reason(question, result) == "the documents never mention 'FY23'"
    assert gate.reason(question, result) is None
