"""Dataset adapters: every benchmark question set as :class:`app.evaluation.EvalItem`.

- ``sec10q`` (``$CITEWISE_SHARED_DATA/sec10q/qna_data.csv``): 195 reviewed questions over 20 10-Q
  filings with reference answers, question type and ``Source Docs`` globs naming the gold filings.
- ``financebench-dev`` (``$CITEWISE_SHARED_DATA/financebench-dev/questions.jsonl``): 41 FinanceBench
  questions over 26 SEC filings, with reference answers and gold evidence pages (0-based in the
  file, 1-based here like every page in citewise); ``doc`` is the filing's PDF name.
- any JSONL in the documented format (``docs/eval-format.md``): ``question``, ``answer``, optional
  ``doc`` and ``page``.
- :data:`SEC10Q_UNANSWERABLE` and :data:`FINANCEBENCH_UNANSWERABLE`: questions we wrote that the
  filings cannot answer (other companies, periods no filing covers, facts no filing holds), for
  refusal behaviour; ``unanswerable=True`` appends them with ``answer: null``.

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


# sec10q's reference answers end claims with "(SOURCE: 2022 Q3 AAPL.pdf)": not answer content.
_SOURCE_NOTE = re.compile(r"\(?\s*SOURCES?(?:\(S\))?\s*:[^\n)]*\)?", re.IGNORECASE)


def clean_sec10q_answer(text: str) -> str:
    """A sec10q reference answer without its "(SOURCE: file.pdf)" annotations."""
    return re.sub(r"[ \t]+", " ", _SOURCE_NOTE.sub(" ", text)).strip()


# Questions about the FinanceBench-dev filings that they cannot answer, written in the analysts'
# style of questions.jsonl and checked against the filings' text: companies with no filing in the
# set, periods no filing of the company covers, and facts no filing discloses. Odd positions (1st,
# 3rd...) are the tune half, even positions the confirmation half (see :func:`split_half`); the
# split was fixed when the questions were written, before any gate scored them.
FINANCEBENCH_UNANSWERABLE = (
    # companies with no filing in the set
    "What is PepsiCo's FY2021 inventory turnover ratio? Inventory turnover ratio is defined as: (FY2021 COGS) "
    "/ (average inventory between FY2020 and FY2021). Round your answer to two decimal places.",
    "What is the FY2022 capital expenditure amount (in USD millions) for Boeing? Give a response to the "
    "question by relying on the details shown in the cash flow statement.",
    "Using only the information within the balance sheet, how much total assets did Target have at the end "
    "of FY2021? Answer in USD millions.",
    "By drawing conclusions from the information stated only in the income statement, what is Home Depot's "
    "FY2020 net income attributable to shareholders (in USD millions)?",
    "Does Intel have an improving operating margin profile as of FY2022? If operating margin is not a useful "
    "metric for a company like this, then state that and explain why.",
    "According to the information provided in the statement of cash flows, what is the FY2021 free cash flow "
    "(FCF) for Pfizer? FCF here is defined as: (cash from operations - capex). Answer in USD millions.",
    "Which of Goldman Sachs's business segments had the lowest net revenue in 2021 Q1?",
    "Is Coca-Cola a capital-intensive business based on FY2022 data?",
    # periods no filing of the company covers
    "What is Netflix's year end FY2022 total current liabilities (in USD millions)? Base your judgments on "
    "the information provided primarily in the balance sheet.",
    "What was 3M's FY2024 net income attributable to 3M (in USD millions)?",
    "Using only the information within the balance sheet, how much total assets did Costco have at the end "
    "of FY2023? Answer in USD millions.",
    "By drawing conclusions from the information stated only in the income statement, what is Amazon's "
    "FY2021 net income attributable to shareholders (in USD millions)?",
    "Which of JPM's business segments had the lowest net revenue in the third quarter of 2021?",
    "What is the FY2009 unadjusted EBITDA % margin for Netflix? Use the statement of income and the "
    "statement of cash flows.",
    "What was Microsoft's total revenue in FY2025 (in USD millions)?",
    "When primarily referencing the income statement and the statement of financial position, what is the "
    "FY2023 inventory turnover ratio for Nike?",
    "What is Walmart's FY2023 total revenue (in USD millions)?",
    "Has CVS Health paid dividends to common shareholders in Q1 of FY2024?",
    # facts no filing discloses
    "What was Costco's FY2021 revenue per square foot of warehouse space in Japan? Answer in USD.",
    "How many Netflix streaming members were there in India at the end of FY2017?",
    "What was the average hourly wage of Verizon's retail store employees in FY2022?",
    "What was Corning's FY2022 revenue from sales to Apple? Answer in USD millions.",
    "What was Activision Blizzard's FY2019 revenue from Call of Duty sales in China (in USD millions)?",
    "What were Foot Locker's comparable-store sales in Germany for the first quarter of 2022?",
    "What was General Mills's FY2020 market share in the US ready-to-eat cereal category, in percent?",
    "How many Lunchables packs did Kraft Heinz sell in FY2019?",
)


def split_half(items: list[EvalItem], half: str) -> list[EvalItem]:
    """``"tune"``: the 1st, 3rd, 5th... items; ``"confirm"``: the 2nd, 4th...; ``"all"``: every item.

    Alternating positions keep each kind of question (by type, company or category) in both halves.
    """
    if half not in ("tune", "confirm", "all"):
        raise ValueError(f"half must be 'tune', 'confirm' or 'all', got {half!r}")
    return items if half == "all" else items[0 if half == "tune" else 1 :: 2]


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
                    answer=clean_sec10q_answer(row.get("Answer") or ""),
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


def load_financebench(path: str | Path | None = None, *, unanswerable: bool = False) -> list[EvalItem]:
    """FinanceBench-dev as items: ``doc`` the gold filing's PDF, ``page`` its 1-based evidence pages.

    Args:
        path: The questions JSONL (default :func:`financebench_path`).
        unanswerable: Append :data:`FINANCEBENCH_UNANSWERABLE` with ``answer=None``.
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
    if unanswerable:
        items += [
            EvalItem(id=f"financebench-none-{n}", question=q, answer=None, type="unanswerable")
            for n, q in enumerate(FINANCEBENCH_UNANSWERABLE, start=1)
        ]
    return items


def load_dataset(spec: str | Path, *, unanswerable: bool = False) -> list[EvalItem]:
    """``"sec10q"``, ``"financebench-dev"``, a ``.csv`` in the sec10q layout, or a documented ``.jsonl``."""
    if str(spec) == "sec10q":
        return load_sec10q(unanswerable=unanswerable)
    if str(spec) == "financebench-dev":
        return load_financebench(unanswerable=unanswerable)
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
