"""Answer benchmark: LLM speed (time to first token, tokens/s) and answer quality over an index.

    python -m bench.answer                                   # bundled Gemma 3 270M speed
    python -m bench.answer --model mistral.gguf              # plus any GGUF
    python -m bench.answer --index data/index --limit 40     # plus quality on sec10q qna_data.csv
    python -m bench.answer --index idx --questions q.jsonl --mode extractive

Speed is measured on a short prompt and on a real answer prompt (fenced 10-Q pages, packed to
about 700 tokens), greedy, median of ``--runs``. Quality: refusal and flag rates, citation
validity (every cited ``[n]`` maps to a retrieved hit) and precision against the gold documents,
token F1 and numeric match against the reference answers, latency. Results go to
``bench/results/answer.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.answer_metrics import citation_precision, gold_patterns, mean, numeric_match, token_f1
from bench.common import shared_data, write_result

SHORT_PROMPT = "Question: What is the capital of France?\nAnswer:"


def _rag_prompt(llm: Any, target_tokens: int = 700) -> str:
    """A real answer prompt: 10-Q pages fenced as sources, packed to ``target_tokens``."""
    from retrieval.prompts import PromptSource, pack_sources

    pdf = shared_data() / "sec10q" / "docs" / "2023 Q2 NVDA.pdf"
    if pdf.is_file():
        import pypdf

        reader = pypdf.PdfReader(pdf)
        texts = [reader.pages[i].extract_text() for i in range(2, 6)]
    else:
        texts = [" ".join(f"Revenue line {i} was {i * 17} million dollars." for i in range(200))]
    sources = [PromptSource(i + 1, f"p. {i + 3}", t) for i, t in enumerate(texts)]

    def measure(messages: Any) -> int:
        return int(llm.count_tokens(llm.format_chat(messages).prompt))

    question = "What was NVIDIA's revenue for the three months ended July 30, 2023?"
    packed = pack_sources(question, sources, measure=measure, limit=target_tokens)
    return str(llm.format_chat(packed.messages).prompt)


def _time_generation(llm: Any, prompt: str, max_tokens: int) -> dict[str, float]:
    llm.reset()  # a cold prompt: no prefix reused from the previous run
    start = time.perf_counter()
    first = None
    pieces = []
    for piece in llm.stream(prompt, max_tokens=max_tokens, temperature=0.0, seed=42):
        if first is None:
            first = time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    first = first or end
    generated = max(llm.count_tokens("".join(pieces)) - 1, len(pieces))  # minus the BOS
    return {
        "ttft_s": first - start,
        "decode_tok_s": (generated - 1) / (end - first) if generated > 1 and end > first else 0.0,
        "prompt_tok_s": llm.count_tokens(prompt) / (first - start) if first > start else 0.0,
        "generated_tokens": float(generated),
    }


def bench_speed(model: Path, *, n_ctx: int, threads: int, runs: int, max_tokens: int) -> dict[str, Any]:
    """Load time, then median TTFT and tokens/s on the short and the RAG prompt."""
    from retrieval.llm.llamacpp_llm import LlamaCppLLM

    llm = LlamaCppLLM(model, n_ctx=n_ctx, n_threads=threads, seed=42)
    t0 = time.perf_counter()
    llm.count_tokens("load")
    result: dict[str, Any] = {"model": model.name, "load_s": round(time.perf_counter() - t0, 3)}
    llm.generate(SHORT_PROMPT, max_tokens=4)  # warm-up
    for name, prompt in (("short", SHORT_PROMPT), ("rag", _rag_prompt(llm))):
        samples = [_time_generation(llm, prompt, max_tokens) for _ in range(runs)]
        result[name] = {
            "prompt_tokens": llm.count_tokens(prompt),
            **{k: round(statistics.median(s[k] for s in samples), 3) for k in samples[0]},
        }
    return result


def load_questions(path: Path) -> list[dict[str, str]]:
    """Questions from the sec10q CSV (Question, Answer, Source Docs) or a JSONL file."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        return [
            {"question": r["Question"], "answer": r["Answer"], "gold": r.get("Source Docs", "")} for r in rows
        ]
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        {"question": i["question"], "answer": i.get("answer", ""), "gold": i.get("source_docs", "")}
        for i in items
    ]


def score_answer(answer: Any, item: dict[str, str]) -> dict[str, Any]:
    """Per-question figures for one :class:`retrieval.chain.Answer`."""
    hit_ids = {h.chunk.id for h in answer.hits}
    valid = all(c.chunk_id in hit_ids and 1 <= c.n <= len(answer.hits) for c in answer.citations)
    return {
        "refused": answer.refused,
        "flagged": answer.flagged,
        "cited": bool(answer.citations),
        "citations_valid": valid,
        "citation_precision": citation_precision(
            [c.file_name for c in answer.citations], gold_patterns(item["gold"])
        ),
        "consulted_precision": citation_precision(
            [c.file_name for c in (answer.citations or answer.consulted)], gold_patterns(item["gold"])
        ),
        "token_f1": token_f1(answer.text, item["answer"]) if item["answer"] else None,
        "numeric_match": numeric_match(answer.text, item["answer"]) if item["answer"] else None,
        **_claims(answer),
    }


def _claims(answer: Any) -> dict[str, Any]:
    """Claim-check figures (app.evaluation.claim_figures) as numbers the summary can average."""
    from app.evaluation import claim_figures

    f = claim_figures(answer)
    return {
        "valid_citation": None if f["valid_citation"] is None else float(f["valid_citation"]),
        "claim_support": f["supported_claims"] / f["cited_claims"] if f["cited_claims"] else None,
        "unsupported": None if f["unsupported"] is None else float(f["unsupported"]),
    }


def bench_quality(
    index: Path, questions: Path, *, limit: int, mode: str, n_ctx: int, model: Path | None = None
) -> dict[str, Any]:
    """Ask every question through the service (with ``model``, else the bundled one) and aggregate."""
    from app.service import Citewise

    llm: dict[str, Any] = {"answer_mode": mode, "n_ctx": n_ctx}
    if model is not None:
        llm["model_path"] = model
    service = Citewise.open(index, read_only=True, llm=llm)
    items = load_questions(questions)[:limit]
    rows, latencies = [], []
    for item in items:
        t0 = time.perf_counter()
        answer = service.ask(item["question"], mode=mode)
        latencies.append(time.perf_counter() - t0)
        rows.append({"question": item["question"], "text": answer.text, **score_answer(answer, item)})
    summary = {
        key: mean(float(r[key]) if r[key] is not None else None for r in rows)
        for key in ("refused", "flagged", "cited", "citations_valid", "citation_precision",
                    "consulted_precision", "token_f1", "numeric_match", "valid_citation",
                    "claim_support", "unsupported")
    }  # fmt: skip
    summary["latency_p50_s"] = statistics.median(latencies) if latencies else None
    model_name = model.name if model is not None else "bundled"
    return {"mode": mode, "model": model_name, "questions": len(rows), "summary": summary, "rows": rows}


def markdown(speed: list[dict[str, Any]], quality: dict[str, Any] | None) -> str:
    lines = [
        "| model | load s | prompt | prompt tok | TTFT s | prompt tok/s | decode tok/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in speed:
        for name in ("short", "rag"):
            s = r[name]
            lines.append(
                f"| {r['model']} | {r['load_s']} | {name} | {s['prompt_tokens']} | {s['ttft_s']} | "
                f"{s['prompt_tok_s']} | {s['decode_tok_s']} |"
            )
    if quality:
        lines += [
            "",
            f"quality ({quality.get('model', 'bundled')}, {quality['mode']}, {quality['questions']} questions)",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        for key, value in quality["summary"].items():
            lines.append(f"| {key} | {'n/a' if value is None else round(value, 3)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", type=Path, default=[], help="extra GGUF files to time")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("data/cache/models"), help="bundled model cache"
    )
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--index", type=Path, help="an ingested index: also measure answer quality")
    parser.add_argument("--questions", type=Path, help="JSONL or CSV (default: sec10q qna_data.csv)")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--mode", choices=("llm", "extractive"), default="llm")
    args = parser.parse_args(argv)

    from retrieval.llm.llamacpp_llm import bundled_model_path

    models = [bundled_model_path(args.cache_dir), *args.model]
    speed = [bench_speed(m, n_ctx=args.n_ctx, threads=args.threads, runs=args.runs, max_tokens=args.max_tokens)
             for m in models]  # fmt: skip
    quality = None
    if args.index is not None:
        questions = args.questions or shared_data() / "sec10q" / "qna_data.csv"
        model = args.model[-1] if args.model else None  # the same quality metrics for the GGUF given
        quality = bench_quality(
            args.index, questions, limit=args.limit, mode=args.mode, n_ctx=args.n_ctx, model=model
        )
    path = write_result(
        "answer",
        {"load_average_at_end": os.getloadavg(), "speed": speed, "quality": quality},
        "python -m bench.answer " + " ".join(argv or sys.argv[1:]),
    )
    print(markdown(speed, quality))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
