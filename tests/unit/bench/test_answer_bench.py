"""The answer benchmark's question loading and per-answer scoring."""

from __future__ import annotations

import json
from pathlib import Path

from bench.answer import load_questions, score_answer
from retrieval.base import Chunk, Hit
from retrieval.chain import Answer, Citation


def test_load_questions_from_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "q.csv"
    csv_path.write_text(
        '\ufeffQuestion,Source Docs,Answer\n"Revenue?",*NVDA*,"$13,507 million"\n', encoding="utf-8"
    )
    assert load_questions(csv_path) == [
        {"question": "Revenue?", "answer": "$13,507 million", "gold": "*NVDA*"}
    ]
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(json.dumps({"question": "Q?", "answer": "A"}) + "\n\n", encoding="utf-8")
    assert load_questions(jsonl) == [{"question": "Q?", "answer": "A", "gold": ""}]


def test_score_answer() -> None:
    chunk = Chunk(id="c1", doc_id="d", text="Revenue $ 13,507", source="/x/2023 Q2 NVDA.pdf",
                  file_name="2023 Q2 NVDA.pdf", file_type="pdf", page_start=3, page_end=3)  # fmt: skip
    citation = Citation(1, "c1", chunk.source, chunk.file_name, 3, 3, "Revenue $ 13,507")
    answer = Answer("Revenue?", "Revenue?", "Revenue was $13,507 million [1].", (citation,),
                    (Hit(chunk=chunk, score=0.9),), refused=False, flagged=False, mode="llm")  # fmt: skip
    scores = score_answer(
        answer, {"question": "Revenue?", "answer": "Revenue was $13,507 million.", "gold": "*NVDA*"}
    )
    assert scores["citations_valid"] and scores["cited"] and not scores["refused"]
    assert scores["citation_precision"] == 1.0
    assert scores["numeric_match"] == 1.0
    assert scores["token_f1"] == 1.0
