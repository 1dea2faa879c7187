"""The refusal gate: names and periods checked against evidence and coverage, not against spelling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from retrieval.base import Chunk, Hit, RetrievalResult
from retrieval.coverage import CorpusCoverage, document_coverage, name_pattern, normalize
from retrieval.periods import parse_periods
from retrieval.refusal import Name, RefusalGate, question_names, uncovered
from retrieval.vectorstores.docstore import DocumentRecord

# Two made-up filers, with text shaped like real 10-K / 10-Q pages.
HARBOR_10K = [
    "HARBOR FREIGHT LINES, INC. ANNUAL REPORT ON FORM 10-K For the fiscal year ended June 30, 2023",
    "Consolidated Statements of Income (In millions) Year Ended June 30, 2023 2022 2021 "
    "Revenue $ 4,812 $ 4,377 $ 3,905 Operating income 611 540 488",
    "Contractual obligations: senior notes due 2030 of $500 million. Expected benefit payments: "
    "2024 $12; 2025 $13; 2026 $14.",
]
ORCHARD_10Q = [
    "Blue Orchard Foods Corp. QUARTERLY REPORT For the quarterly period ended March 31, 2021",
    "Net sales for the three months ended March 31, 2021 were $812 million compared with $760 million "
    "for the three months ended March 31, 2020.",
]


class MemoryDocStore:
    """The slice of ``SQLiteDocStore`` coverage reads: generation, documents(), iter_chunks()."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[DocumentRecord, list[str]]] = {}
        self.generation = 0
        self.reads = 0

    def add(self, file_name: str, pages: list[str], content_hash: str = "h1") -> None:
        record = DocumentRecord(file_name, f"/d/{file_name}", file_name, "pdf", content_hash)
        self.docs[file_name] = (record, pages)
        self.generation += 1

    def documents(self) -> list[DocumentRecord]:
        return [record for record, _ in self.docs.values()]

    def iter_chunks(self, kind: str | None = "child", doc_id: str | None = None) -> Iterator[Chunk]:
        self.reads += 1
        record, pages = self.docs[doc_id or ""]
        for n, text in enumerate(pages):
            yield _chunk(record.file_name, text, n + 1, kind or "child")


def _chunk(file_name: str, text: str, page: int, kind: str = "child") -> Chunk:
    return Chunk(
        id=f"{file_name}#{page}", doc_id=file_name, text=text, source=f"/d/{file_name}", file_name=file_name,
        file_type="pdf", page_start=page, page_end=page, kind=kind,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def coverage() -> CorpusCoverage:
    store = MemoryDocStore()
    store.add("HARBORFREIGHT_2023_10K.pdf", HARBOR_10K)
    store.add("BLUEORCHARD_2021Q1_10Q.pdf", ORCHARD_10Q)
    return CorpusCoverage(store)


def _result(*hits: tuple[str, str, int], best: float = 0.6) -> RetrievalResult:
    return RetrievalResult(
        hits=tuple(Hit(_chunk(f, t, p), 1.0) for f, t, p in hits), query="q", best_relevance=best
    )


HARBOR_INCOME = ("HARBORFREIGHT_2023_10K.pdf", HARBOR_10K[1], 2)
HARBOR_OBLIGATIONS = ("HARBORFREIGHT_2023_10K.pdf", HARBOR_10K[2], 3)
ORCHARD_SALES = ("BLUEORCHARD_2021Q1_10Q.pdf", ORCHARD_10Q[1], 2)


# ------------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What is Harbor Freight's FY2023 revenue?", ["Harbor Freight"]),
        (
            "What is the FY2019 - FY2020 revenue growth for Block (formerly known as Square)?",
            ["Block", "Square"],
        ),
        ("Microsoft, Apple and Bank of America", ["Apple", "Bank of America"]),  # first word skipped
        ("Does Foot Locker's new CEO have CEO experience?", ["Foot Locker"]),
        ("What is the unadjusted EBITDA % margin in USD for 3M?", []),  # bare acronyms are jargon
        ("What do the 10-Qs and the CEOs say about Intel?", ["Intel"]),  # and so are their plurals
        ("Which of JPM's segments had the lowest revenue in 2021 Q1?", ["JPM"]),
        ("Tesla's revenue in Q3 FY23?", ["Tesla"]),  # a possessive first word is a name
        ("We want a metric. Here's the question: what was Netflix's margin in June 2023?", ["Netflix"]),
    ],
)
def test_question_names(question: str, names: list[str]) -> None:
    assert [n.text for n in question_names(question)] == names


def test_question_names_mark_acronyms() -> None:
    assert question_names("What drove 3M's growth?") == [Name("3M", acronym=True)]


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("Footlocker", "Foot Locker, Inc. announced", True),
        ("Foot Locker", "footlocker_2022_8k", True),
        ("Amazon", "AMAZON.COM, INC.", True),
        ("Kraft Heinz", "KRAFTHEINZ_2019_10K", True),
        ("JPMorgan", "JPMorgan Chase & Co.", True),
        ("3M", "3M Company and Subsidiaries", True),
        ("Target", "targeted marketing", False),
        ("Apple", "pineapple exports", False),
    ],
)
def test_names_match_in_any_spelling_but_whole_words(name: str, text: str, found: bool) -> None:
    pattern = name_pattern(name)
    assert pattern is not None and bool(pattern.search(normalize(text))) is found


def test_acronyms_may_begin_a_longer_name() -> None:
    pattern = name_pattern("JPM", prefix=True)
    assert pattern is not None and pattern.search(normalize("JPMORGAN_2021Q1_10Q"))
    assert name_pattern("2023") is None  # no letters: not a name


# ------------------------------------------------------------------------------- coverage
def test_document_coverage_reads_periods_years_and_names() -> None:
    cov = document_coverage("d", "HARBORFREIGHT_2023_10K.pdf", "", HARBOR_10K)
    assert cov.through == date(2023, 6, 30)  # notes due 2030 and 2026 payments do not extend it
    coverless = [
        "Revenue for the three months ended March 31, 2024 rose.",
        "Year ended June 30, 2023: $4.8bn",
    ]
    assert document_coverage("n", "notes.md", "", coverless).through == date(2024, 3, 31)
    assert {2021, 2022, 2023, 2024, 2030} <= cov.years
    assert cov.names.startswith("harborfreight 2023 10k harbor freight lines")


def test_coverage_is_rebuilt_only_for_changed_documents() -> None:
    store = MemoryDocStore()
    store.add("a.pdf", ORCHARD_10Q)
    cov = CorpusCoverage(store)
    assert [d.through for d in cov.documents()] == [date(2021, 3, 31)]
    reads = store.reads
    cov.documents()
    assert store.reads == reads  # same generation: nothing re-read
    store.add("b.pdf", HARBOR_10K)
    assert sorted(d.doc_id for d in cov.documents()) == ["a.pdf", "b.pdf"]
    assert store.reads == reads + 1  # b.pdf only


def test_uncovered_periods() -> None:
    docs = [document_coverage("d", "HARBORFREIGHT_2023_10K.pdf", "", HARBOR_10K)]
    (fy2030,) = parse_periods("FY2030")
    assert uncovered(fy2030, docs, evidence=["revenue 4 812"]) == (
        "report on periods up to 2023-06-30, before FY2030"
    )
    (fy2022,) = parse_periods("fiscal 2022")
    assert uncovered(fy2022, docs, evidence=[]) is None
    (old,) = parse_periods("FY2009")
    assert uncovered(old, docs, evidence=[]) == "never mention 2009 (FY2009)"
    # After the documents, but a retrieved passage names the year (a payment schedule): covered.
    (year2025,) = parse_periods("in 2025")
    assert uncovered(year2025, docs, evidence=[normalize(HARBOR_10K[2])]) is None


# ------------------------------------------------------------------------------- the gate
@pytest.mark.parametrize(
    "question",
    [
        "What is Harbor Freight's FY2023 revenue?",
        "What was Harbor Freight's revenue in fiscal year 2022?",
        "What was HarborFreight revenue for the year ended June 30, 2021?",
        "What was HARBOR FREIGHT's operating income in FY22?",
        "What is the FY2021 - FY2023 revenue CAGR for Harbor Freight Lines?",
    ],
)
def test_answerable_questions_in_other_spellings_are_not_refused(
    coverage: CorpusCoverage, question: str
) -> None:
    gate = RefusalGate(min_relevance=0.25, coverage=coverage)
    assert gate.reason(question, _result(HARBOR_INCOME)) is None


def test_a_forward_looking_year_the_evidence_names_is_not_refused(coverage: CorpusCoverage) -> None:
    gate = RefusalGate(min_relevance=0.25, coverage=coverage)
    question = "As of FY2023, how much did Harbor Freight expect to pay in benefits in 2025?"
    assert gate.reason(question, _result(HARBOR_OBLIGATIONS)) is None


@pytest.mark.parametrize(
    ("question", "hits", "reason"),
    [
        (
            "What is Harbor Freight's FY2030 revenue?",
            (HARBOR_INCOME,),
            "the documents about Harbor Freight report on periods up to 2023-06-30, before FY2030",
        ),
        (
            # the corpus reports through June 2023, but Blue Orchard's own filing ends in March 2021
            "What were Blue Orchard's net sales in the third quarter of 2022?",
            (ORCHARD_SALES,),
            "the documents about Blue Orchard report on periods up to 2021-03-31, before Q3 FY2022",
        ),
        (
            "What were Blue Orchard's net sales for the quarter ended December 31, 2023?",
            (ORCHARD_SALES,),
            "the documents about Blue Orchard report on periods up to 2021-03-31, before 3 months to 2023-12-31",
        ),
        (
            "What was Harbor Freight's revenue in FY2009?",
            (HARBOR_INCOME,),
            "the documents about Harbor Freight never mention 2009 (FY2009)",
        ),
        (
            "What was Greystone Logistics' revenue in FY2023?",
            (HARBOR_INCOME,),
            "no retrieved passage or its document names 'Greystone Logistics'",
        ),
    ],
)
def test_uncovered_periods_and_unnamed_entities_are_refused(
    coverage: CorpusCoverage, question: str, hits: tuple[tuple[str, str, int], ...], reason: str
) -> None:
    gate = RefusalGate(min_relevance=0.25, coverage=coverage)
    assert gate.reason(question, _result(*hits)) == reason


def test_relevance_and_empty_retrieval_come_first(coverage: CorpusCoverage) -> None:
    gate = RefusalGate(min_relevance=0.3, coverage=coverage)
    assert gate.reason("Harbor Freight FY2023?", _result()) == "nothing was retrieved"
    low = gate.reason("Harbor Freight FY2023?", _result(HARBOR_INCOME, best=0.2))
    assert low == "best relevance 0.200 is below min_relevance 0.300"


def test_checks_can_be_switched_off(coverage: CorpusCoverage) -> None:
    question = "What was Greystone Logistics' revenue in FY2030?"
    assert (
        RefusalGate(coverage=coverage, check_names=False, check_periods=False).reason(
            question, _result(HARBOR_INCOME)
        )
        is None
    )
    only_periods = RefusalGate(coverage=coverage, check_names=False).reason(question, _result(HARBOR_INCOME))
    assert only_periods == "the documents report on periods up to 2023-06-30, before FY2030"


def test_the_literal_check_refuses_spellings_the_evidence_gate_accepts(coverage: CorpusCoverage) -> None:
    question = "What was Harbor Freight's revenue in FY2022?"
    vocabulary = {"harbor", "freight", "revenue", "2022"}
    literal = RefusalGate(coverage=coverage, knows=lambda w: w.lower() in vocabulary)
    assert literal.reason(question, _result(HARBOR_INCOME)) == "the documents never mention 'FY2022'"
    assert RefusalGate(coverage=coverage).reason(question, _result(HARBOR_INCOME)) is None
