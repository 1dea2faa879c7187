"""Dataset adapters: the documented JSONL format and the sec10q CSV."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from app.evaluation import DatasetError, EvalItem, load_jsonl
from bench.datasets import SEC10Q_UNANSWERABLE, load_dataset, load_financebench, load_sec10q, write_jsonl


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_reads_every_documented_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        "# a comment",
        json.dumps({"question": "Q1?", "answer": "A1", "doc": "a.pdf", "page": 3, "id": "x", "type": "t"}),
        "",
        json.dumps({"question": "Q2?", "answer": None, "doc": ["a.pdf", "*b*"], "page": [1, 2]}),
        json.dumps({"question": "Q3?", "answer": "A3", "extra": "ignored"}),
    )
    items = load_jsonl(path)
    assert items[0] == EvalItem(question="Q1?", answer="A1", doc=("a.pdf",), page=(3,), id="x", type="t")
    assert items[1].doc == ("a.pdf", "*b*") and items[1].page == (1, 2) and not items[1].answerable
    assert items[2].answerable and items[2].doc == () and items[2].page == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "q.jsonl:1"),
        ('{"question": "Q?"}', "missing 'answer'"),
        ('{"question": "  ", "answer": "a"}', "question is blank"),
        ('{"question": "Q?", "answer": "a", "page": 0}', "1-based"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_jsonl(_write(tmp_path / "q.jsonl", line))


def test_jsonl_empty_or_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no questions"):
        load_jsonl(_write(tmp_path / "q.jsonl", ""))
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_jsonl(tmp_path / "missing.jsonl")


def test_write_jsonl_round_trips(tmp_path: Path) -> None:
    items = [
        EvalItem(question="Q1?", answer="A", doc=("a.pdf",), page=(2,)),
        EvalItem(question="Q2?", answer=None, type="unanswerable"),
    ]
    path = write_jsonl(items, tmp_path / "out.jsonl")
    assert json.loads(path.read_text().splitlines()[1]) == {
        "question": "Q2?", "answer": None, "type": "unanswerable",
    }  # fmt: skip
    assert load_jsonl(path) == items


def test_sec10q_csv_adapter(shared_data_dir: Path) -> None:
    items = load_sec10q(shared_data_dir / "sec10q" / "qna_data.csv")
    assert len(items) == 195
    assert Counter(i.type for i in items) == {"single-chunk": 76, "multi-chunk": 54, "multi-doc": 65}
    first = items[0]
    assert first.question == "How has Apple's total net sales changed over time?"
    assert first.doc == ("*AAPL*",) and first.id == "sec10q-1"
    assert "$82,959 million" in (first.answer or "")
    with_none = load_dataset(shared_data_dir / "sec10q" / "qna_data.csv", unanswerable=True)
    assert len(with_none) == 195 + len(SEC10Q_UNANSWERABLE)
    assert all(not i.answerable and i.type == "unanswerable" for i in with_none[195:])


def test_example_dataset_in_docs_is_valid(repo_dir: Path) -> None:
    items = load_jsonl(repo_dir / "docs" / "eval-example.jsonl")
    assert len(items) == 10 and sum(not i.answerable for i in items) == 2
    corpus = {p.name for p in (repo_dir / "data" / "corpus").iterdir()}
    assert {d for i in items for d in i.doc} <= corpus


def test_financebench_pages_become_one_based_and_docs_pdf_names(tmp_path: Path) -> None:
    row = {
        "financebench_id": "fb-1",
        "doc_name": "ACME_2022_10K",
        "question": "What was ACME's FY2022 revenue?",
        "answer": "$10.00",
        "question_type": "metrics-generated",
        "evidence": [
            {"evidence_text": "...", "doc_name": "ACME_2022_10K", "evidence_page_num": 0},
            {"evidence_text": "...", "doc_name": "ACME_2022_10K", "evidence_page_num": 41},
        ],
    }
    no_evidence = {"doc_name": "ACME_2021_10K", "question": "Q?", "answer": "A", "evidence": []}
    items = load_financebench(_write(tmp_path / "q.jsonl", json.dumps(row), "", json.dumps(no_evidence)))
    assert items[0] == EvalItem(
        id="fb-1", question=row["question"], answer="$10.00", doc=("ACME_2022_10K.pdf",), page=(1, 42),
        type="metrics-generated",
    )  # fmt: skip
    assert items[1].doc == ("ACME_2021_10K.pdf",) and items[1].page == () and items[1].id == "financebench-3"


def test_financebench_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="line 2"):
        load_financebench(
            _write(tmp_path / "q.jsonl", json.dumps({"doc_name": "A", "question": "Q?"}), "{bad")
        )
    with pytest.raises(DatasetError, match="cannot read"):
        load_financebench(tmp_path / "missing.jsonl")


def test_financebench_dev_adapter_on_the_shared_set(shared_data_dir: Path) -> None:
    items = load_dataset("financebench-dev")
    assert len(items) == 41 and len({i.id for i in items}) == 41
    pdfs = shared_data_dir / "financebench-dev" / "pdfs"
    assert all(len(i.doc) == 1 and (pdfs / i.doc[0]).is_file() for i in items)
    assert all(i.page and min(i.page) >= 1 for i in items)
    first = next(i for i in items if i.id == "financebench_id_03029")
    assert first.doc == ("3M_2018_10K.pdf",) and first.page == (60,) and first.answer == "$1577.00"
