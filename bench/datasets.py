"""Dataset adapters: every benchmark question set as :class:`app.evaluation.EvalItem`.

- ``sec10q`` (``$CITEWISE_SHARED_DATA/sec10q/qna_data.csv``): 195 reviewed questions over 20 10-Q
  filings with reference answers, question type and ``Source Docs`` globs naming the gold filings.
- ``financebench-dev`` (``$CITEWISE_SHARED_DATA/financebench-dev/questions.jsonl``): 41 FinanceBench
  questions over 26 SEC filings, with reference answers and gold evidence pages (0-based in the
  file, 1-based here like every page in citewise); ``doc`` is the filing's PDF name.
- any JSONL in the documented format (``docs/eval-format.md``): ``question``, ``answer``, optional
  ``doc`` and ``page``.
- :data:`SEC10Q_UNANSWERABLE`: questions we wrote that the 10-Q corpus cannot answer (other
  companies, periods after the filings, facts no filing holds), for refusal behaviour.

    python -m bench.datasets sec10q            # counts by type, one example
    python -m bench.datasets financebench-dev
    python -m bench.datasets my_questions.jsonl
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path

from app.evaluation import DatasetError, EvalItem, load_jsonl
from bench.common import shared_data

# The CSV's "Question Type" values, shortened for tables.
SEC10Q_TYPES = {
    "Single-Doc Single-Chunk RAG": "single-chunk",
    "Single-Doc Multi-Chunk RAG": "multi-chunk",
    "Multi-Doc RAG": "multi-doc",
}

SEC10Q_UNANSWERABLE = (
    "What was Tesla's total automotive revenue in the third quarter of 2023?",
    "How many employees did Alphabet report at the end of June 2023?",
    "What was Apple's total net sales for the quarter ended December 28, 2024?",
    "What dividend per share did NVIDIA declare for fiscal year 2027?",
    "Who won the 2022 FIFA World Cup final?",
    "What is the boiling point of ethanol at sea level?",
    "What was Meta Platforms' advertising revenue in Q2 2023?",
    "How many stores did Walmart operate in Mexico in 2023?",
    "What interest rate did the European Central Bank set in September 2023?",
    "What is Intel's planned revenue for the year 2030?",
)


def sec10q_path() -> Path:
    """The sec10q question file under the shared data directory."""
    return shared_data() / "sec10q" / "qna_data.csv"


def _globs(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[\n,;]+", cell) if p.strip())


def load_sec10q(path: str | Path | None = None, *, unanswerable: bool = False) -> list[EvalItem]:
    """The sec10q CSV as items (``doc`` = the ``Source Docs`` globs, ``type`` shortened).

    Args:
        path: The CSV (default :func:`sec10q_path`).
        unanswerable: Append :data:`SEC10Q_UNANSWERABLE` with ``answer=None``.
    """
    path = Path(path) if path is not None else sec10q_path()
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror or e}") from e
    items = []
    for n, row in enumerate(rows, start=1):
        try:
            items.append(
                EvalItem(
                    id=f"sec10q-{n}",
                    question=row["Question"],
                    answer=row.get("Answer") or "",
                    doc=_globs(row.get("Source Docs", "")),
                    type=SEC10Q_TYPES.get(row.get("Question Type", ""), row.get("Question Type", "")),
                )
            )
        except (KeyError, ValueError) as e:
            raise DatasetError(f"{path}: row {n}: {e}") from e
    if unanswerable:
        items += [
            EvalItem(id=f"sec10q-none-{n}", question=q, answer=None, type="unanswerable")
            for n, q in enumerate(SEC10Q_UNANSWERABLE, start=1)
        ]
    return items


def financebench_path() -> Path:
    """The FinanceBench-dev question file under the shared data directory."""
    return shared_data() / "financebench-dev" / "questions.jsonl"


def _financebench_item(row: dict, n: int) -> EvalItem:
    evidence = row.get("evidence") or []
    docs = {str(e.get("doc_name") or row["doc_name"]) for e in evidence} or {str(row["doc_name"])}
    pages = sorted(
        {int(e["evidence_page_num"]) + 1 for e in evidence if e.get("evidence_page_num") is not None}
    )
    return EvalItem(
        id=str(row.get("financebench_id") or f"financebench-{n}"),
        question=row["question"],
        answer=str(row.get("answer") or ""),
        doc=tuple(sorted(f"{d}.pdf" for d in docs)),
        page=tuple(pages),
        type=str(row.get("question_type") or ""),
    )


def load_financebench(path: str | Path | None = None) -> list[EvalItem]:
    """FinanceBench-dev as items: ``doc`` the gold filing's PDF, ``page`` its 1-based evidence pages.

    Args:
        path: The questions JSONL (default :func:`financebench_path`).
    """
    path = Path(path) if path is not None else financebench_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror or e}") from e
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(_financebench_item(json.loads(line), n))
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{path}: line {n}: {e}") from e
    return items


def load_dataset(spec: str | Path, *, unanswerable: bool = False) -> list[EvalItem]:
    """``"sec10q"``, ``"financebench-dev"``, a ``.csv`` in the sec10q layout, or a documented ``.jsonl``."""
    if str(spec) == "sec10q":
        return load_sec10q(unanswerable=unanswerable)
    if str(spec) == "financebench-dev":
        return load_financebench()
    path = Path(spec)
    if path.suffix.lower() == ".csv":
        return load_sec10q(path, unanswerable=unanswerable)
    return load_jsonl(path)


def write_jsonl(items: list[EvalItem], path: str | Path) -> Path:
    """Write ``items`` in the documented JSONL format (empty optional fields left out)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            data = item.model_dump(exclude_defaults=True)
            data["answer"] = item.answer  # always present: null marks an unanswerable question
            f.write(json.dumps(data, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m bench.datasets sec10q|financebench-dev|PATH.csv|PATH.jsonl", file=sys.stderr)
        return 2
    try:
        items = load_dataset(args[0])
    except DatasetError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"{len(items)} questions; by type: {dict(Counter(i.type or '-' for i in items))}")
    print(items[0].model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
