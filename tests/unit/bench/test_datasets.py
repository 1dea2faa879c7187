"""Dataset adapters: the documented JSONL format and the sec10q CSV."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from app.evaluation import DatasetError, EvalItem, load_jsonl
from bench.datasets import SEC10Q_UNANSWERABLE, load_dataset, load_sec10q, write_jsonl


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
