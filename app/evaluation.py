"""Evaluate citewise on your own questions: the dataset format, the metrics, and the scoring loop.

A dataset is a JSONL file, one question per line (documented in ``docs/eval-format.md``)::

    {"question": "What was revenue in Q2?", "answer": "$13,507 million", "doc": "2023 Q2 NVDA.pdf", "page": 3}
    {"question": "Who is the CFO of Mars?", "answer": null}

``answer: null`` marks a question the documents cannot answer (citewise should refuse it).
The metric functions are plain functions over strings and lists, shared by ``citewise eval`` and
the benchmarks under ``bench/``:

- retrieval: :func:`hit_at_k`, :func:`reciprocal_rank`, :func:`recall_at_k` over ranked file names
  matched against gold names or globs (``*AAPL*``), and :func:`page_hit`;
- answers: :func:`token_f1` (SQuAD-style bag of words) and :func:`numeric_match` (the reference's
  figures found in the answer, ``$6.8 billion`` = ``6,800 million``), :func:`citation_validity`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from retrieval.chain import Answer

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset file that cannot be read, with the file and line in the message."""


class EvalItem(BaseModel):
    """One question of an evaluation dataset.

    Attributes:
        question: The question asked.
        answer: The reference answer; None when the documents cannot answer it (a refusal is right).
        doc: Gold documents: file names or glob patterns (``"*AAPL*"``); empty when unknown.
        page: Gold pages (1-based) inside the gold documents; empty when unknown.
        id: Optional identifier, echoed in the results.
        type: Optional question type, used to break results down (``multi-doc``...).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    question: str = Field(min_length=1)
    answer: str | None
    doc: tuple[str, ...] = ()
    page: tuple[int, ...] = ()
    id: str = ""
    type: str = ""

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value

    @field_validator("doc", mode="before")
    @classmethod
    def _docs(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("page", mode="before")
    @classmethod
    def _pages(cls, value: Any) -> Any:
        pages = _as_tuple(value)
        if any(isinstance(p, int) and p < 1 for p in pages):
            raise ValueError(f"pages are 1-based, got {value!r}")
        return pages

    @property
    def answerable(self) -> bool:
        """False when the reference says the documents hold no answer."""
        return self.answer is not None


def _as_tuple(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, (str, int)):
        return (value,)
    return tuple(value) if isinstance(value, list) else value


def load_jsonl(path: str | Path) -> list[EvalItem]:
    """Read a JSONL dataset; blank lines and lines starting with ``#`` are skipped.

    Raises:
        DatasetError: The file is missing, a line is not JSON, or an item is invalid (line given).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"cannot read dataset {path}: {e.strerror or e}") from e
    items: list[EvalItem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
            if "answer" not in data:
                raise ValueError("missing 'answer' (use null for a question the documents cannot answer)")
            items.append(EvalItem.model_validate(data))
        except (ValueError, TypeError, ValidationError) as e:
            raise DatasetError(f"{path}:{number}: {e}") from e
    if not items:
        raise DatasetError(f"{path}: no questions")
    return items


# ------------------------------------------------------------------------------------ retrieval
def matches_gold(file_name: str, gold: Sequence[str]) -> bool:
    """True when ``file_name`` equals a gold name or matches a gold glob (case-insensitive)."""
    name = file_name.casefold()
    return any(fnmatch.fnmatchcase(name, pattern.casefold()) for pattern in gold)


def unique(ranked: Iterable[str]) -> list[str]:
    """``ranked`` without repeats, first occurrence kept (chunk ranking -> document ranking)."""
    return list(dict.fromkeys(ranked))


def hit_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """1.0 when one of the first ``k`` ranked file names is a gold document, else 0.0."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return float(any(matches_gold(name, gold) for name in ranked[:k]))


def reciprocal_rank(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """1 / rank of the first gold document in ``ranked`` (1-based), 0.0 when there is none."""
    for rank, name in enumerate(ranked, start=1):
        if matches_gold(name, gold):
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of gold entries (names or globs) matched by one of the first ``k`` ranked names."""
    if not gold:
        raise ValueError("recall needs at least one gold document")
    top = ranked[:k]
    return sum(1 for g in gold if any(matches_gold(name, [g]) for name in top)) / len(gold)


def page_hit(
    located: Sequence[tuple[str, int | None, int | None]], gold_docs: Sequence[str], pages: Sequence[int]
) -> float:
    """1.0 when a ``(file_name, page_start, page_end)`` of ``located`` covers a gold page of a gold doc.

    With no gold documents any file counts (a dataset over one document may give pages only).
    """
    for name, start, end in located:
        if start is None or (gold_docs and not matches_gold(name, gold_docs)):
            continue
        if any(start <= p <= (end if end is not None else start) for p in pages):
            return 1.0
    return 0.0


# ------------------------------------------------------------------------------------ answers
_CITE = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_STRIP = str.maketrans({c: " " for c in string.punctuation if c not in ".,%$"})
_ARTICLES = frozenset({"a", "an", "the"})
_FIGURE = re.compile(
    r"(?<![\w.])\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\)?\s*(%|percent|thousand|million|billion|trillion)?",
    re.IGNORECASE,
)
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}


def _clean(text: str) -> str:
    """Drop citation markers ``[1]``, which are not answer content."""
    return _CITE.sub(" ", text)


def normalize_tokens(text: str) -> list[str]:
    """Lower-case words, punctuation and articles removed; ``$``, ``%`` and inner ``.,`` kept (13,507)."""
    words = (w.strip(".,") for w in _clean(text).lower().translate(_STRIP).split())
    return [w for w in words if w and w not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the bags of normalized tokens of ``prediction`` and ``reference`` (1.0 when both are empty)."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def figures(text: str) -> list[tuple[float, ...]]:
    """Each number of ``text`` with the values it may stand for, bare years (1900-2100) left out.

    ``"$6.8 billion"`` gives ``(6.8, 6.8e9)``: reports and answers mix "in millions" tables with
    spelled-out scales, so both readings are accepted. ``"13,507"`` gives ``(13507.0,)``.
    """
    out: list[tuple[float, ...]] = []
    for m in _FIGURE.finditer(_clean(text)):
        whole, frac, unit = m.group(1), m.group(2) or "", (m.group(3) or "").lower()
        if not frac and not unit and "," not in whole and len(whole) == 4 and 1900 <= int(whole) <= 2100:
            continue
        value = float(whole.replace(",", "") + frac)
        out.append((value, value * _SCALE[unit]) if unit in _SCALE else (value,))
    return out


def numeric_match(prediction: str, reference: str, *, rel_tol: float = 0.005) -> float | None:
    """Share of the reference's distinct figures found in the prediction; None when it has none.

    Two figures match when some reading of each agrees within ``rel_tol`` (0.5%, so rounding
    ``13,507`` to ``13.5 billion`` counts).
    """
    wanted = set(figures(reference))
    if not wanted:
        return None
    found = [v for fig in figures(prediction) for v in fig]
    hits = sum(1 for fig in wanted if any(math.isclose(w, f, rel_tol=rel_tol) for w in fig for f in found))
    return hits / len(wanted)


def pages_overlap(cited: tuple[int | None, int | None], found: tuple[int | None, int | None]) -> bool:
    """True when a cited page range overlaps a chunk's; both must be unpaged or both paged."""
    (c0, c1), (f0, f1) = cited, found
    if c0 is None or f0 is None:
        return c0 is None and f0 is None
    return c0 <= (f1 if f1 is not None else f0) and f0 <= (c1 if c1 is not None else c0)


def citation_validity(answer: Answer) -> float | None:
    """Share of cited sources that were retrieved and map to the retrieved chunk's file and pages.

    A citation may name its parent section's wider page range; it must overlap the chunk's pages.
    None when the answer cites nothing.
    """
    if not answer.citations:
        return None
    by_id = {h.chunk.id: h.chunk for h in answer.hits}
    good = 0
    for c in answer.citations:
        chunk = by_id.get(c.chunk_id)
        good += (
            chunk is not None
            and 1 <= c.n <= len(answer.hits)
            and bool(c.file_name)
            and c.file_name == chunk.file_name
            and pages_overlap((c.page_start, c.page_end), (chunk.page_start, chunk.page_end))
        )
    return good / len(answer.citations)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


# ------------------------------------------------------------------------------------ scoring
class QuestionResult(BaseModel):
    """The figures of one question (None where a metric does not apply); ``notes`` say why it was refused."""

    id: str
    question: str
    type: str
    answerable: bool
    answer: str
    refused: bool
    files: list[str]
    hit_at_k: float | None
    reciprocal_rank: float | None
    page_hit: float | None
    citation_validity: float | None
    token_f1: float | None
    numeric_match: float | None
    latency_s: float
    ttft_s: float | None
    notes: list[str] = []
    valid_citation: bool | None = None
    cited_claims: int = 0
    supported_claims: int = 0
    unsupported: bool | None = None


def score(item: EvalItem, answer: Answer, latency_s: float, ttft_s: float | None = None) -> QuestionResult:
    """Score one answer against its dataset item."""
    files = unique(h.chunk.file_name for h in answer.hits)
    located = [(h.chunk.file_name, h.chunk.page_start, h.chunk.page_end) for h in answer.hits]
    gold_docs = list(item.doc)
    return QuestionResult(
        id=item.id,
        question=item.question,
        type=item.type,
        answerable=item.answerable,
        answer=answer.text,
        refused=answer.refused,
        files=files,
        hit_at_k=hit_at_k(files, gold_docs, max(1, len(files))) if gold_docs and files else None,
        reciprocal_rank=reciprocal_rank(files, gold_docs) if gold_docs and files else None,
        page_hit=page_hit(located, gold_docs, item.page) if item.page else None,
        citation_validity=citation_validity(answer),
        token_f1=token_f1(answer.text, item.answer or "") if item.answerable else None,
        numeric_match=numeric_match(answer.text, item.answer or "") if item.answerable else None,
        latency_s=round(latency_s, 3),
        ttft_s=None if ttft_s is None else round(ttft_s, 3),
        notes=list(answer.notes),
        **claim_figures(answer),
    )


def claim_figures(answer: Answer) -> dict[str, Any]:
    """For an answer that is not a refusal: whether it carries a valid citation, how many of its
    sentences cite a source, how many of those pass the claim check, and whether any sentence
    (cited or not) is unsupported. All None/0 for a refusal."""
    if answer.refused:
        return {"valid_citation": None, "cited_claims": 0, "supported_claims": 0, "unsupported": None}
    cited = [c for c in answer.claims if c.sources]
    return {
        "valid_citation": bool(answer.citations) and citation_validity(answer) == 1.0,
        "cited_claims": len(cited),
        "supported_claims": sum(c.supported for c in cited),
        "unsupported": any(not c.supported for c in answer.claims),
    }


def ask_timed(service: Any, question: str, **options: Any) -> tuple[Answer, float, float | None]:
    """Stream one answer from ``service``; returns it with total seconds and seconds to first text."""
    from retrieval.chain import Done, TextDelta

    start = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for event in service.stream(question, **options):
        if isinstance(event, TextDelta) and first is None and event.text:
            first = time.perf_counter() - start
        elif isinstance(event, Done):
            answer = event.answer
    if answer is None:
        raise RuntimeError(f"the answer stream ended without an answer for {question!r}")
    return answer, time.perf_counter() - start, first


def evaluate(
    service: Any,
    items: Sequence[EvalItem],
    *,
    on_result: Callable[[QuestionResult], None] | None = None,
    **options: Any,
) -> Iterator[QuestionResult]:
    """Ask every item through ``service`` (a :class:`app.service.Citewise`) and yield its scores.

    ``options`` go to ``service.stream`` (``mode``, ``k``...). A question that fails is logged and
    skipped, so one bad item does not end a long run.
    """
    for item in items:
        try:
            answer, latency, ttft = ask_timed(service, item.question, **options)
        except Exception as e:  # keep going: the summary reports how many were scored
            log.warning("eval question failed id=%s question=%r error=%s", item.id, item.question, e)
            continue
        result = score(item, answer, latency, ttft)
        if on_result is not None:
            on_result(result)
        yield result


def summarize(results: Sequence[QuestionResult], total: int | None = None) -> dict[str, Any]:
    """Aggregate figures over ``results`` (means skip questions where a metric does not apply)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    latencies = [r.latency_s for r in results]
    ttfts = [r.ttft_s for r in results if r.ttft_s is not None]
    return {
        "questions": total if total is not None else len(results),
        "scored": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit_at_k": mean(r.hit_at_k for r in results),
        "mrr": mean(r.reciprocal_rank for r in results),
        "page_hit": mean(r.page_hit for r in results),
        "citation_validity": mean(r.citation_validity for r in results),
        "token_f1": mean(r.token_f1 for r in answerable),
        "numeric_match": mean(r.numeric_match for r in answerable),
        "false_refusal_rate": mean(float(r.refused) for r in answerable),
        "correct_refusal_rate": mean(float(r.refused) for r in unanswerable),
        "answered_with_valid_citation": mean(
            float(r.valid_citation) for r in results if r.valid_citation is not None
        ),
        "claim_support_rate": (
            sum(r.supported_claims for r in results) / cited
            if (cited := sum(r.cited_claims for r in results))
            else None
        ),
        "unsupported_rate": mean(float(r.unsupported) for r in results if r.unsupported is not None),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "ttft_p50_s": percentile(ttfts, 50),
    }
