"""The harness around the benchmarks: step commands, scale helpers, and the report generator."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import report, run, scale
from bench.retrieval import original_id


def test_quick_and_full_steps_cover_every_benchmark() -> None:
    names = [s[0] for s in run.STEPS]
    assert names == ["ingest", "graph", "retrieval", "pages", "scale", "answer", "eval", "api"]
    quick_pages = {name: args for name, _, args, _ in run.STEPS}["pages"]
    assert quick_pages[quick_pages.index("--sets") + 1] == "sample" and "--skip-langchain" in quick_pages
    quick = {name: args for name, _, args, _ in run.STEPS}
    assert quick["scale"][-4:] == ["--sizes", "10000", "--queries", "30"]
    full = {name: args for name, _, _, args in run.STEPS}
    assert "1000000" in full["scale"] and "--limit" not in full["retrieval"]


def test_step_command_fills_placeholders_and_passes_the_model(tmp_path: Path) -> None:
    model = tmp_path / "mistral.gguf"
    paths = {"data": tmp_path / "d", "cache": tmp_path / "c", "index": tmp_path / "c" / "idx"}
    argv = run.step_command("bench.answer", ["--index", "{index}", "--limit", "8"], model, paths)
    assert argv[:3] == [sys.executable, "-m", "bench.answer"]
    assert argv[3:] == ["--index", str(tmp_path / "c" / "idx"), "--limit", "8", "--model", str(model)]
    assert run.step_command("bench.ingest", ["--limit", "2"], model, paths)[3:] == ["--limit", "2"]
    argv = run.step_command("bench.run", ["--eval-step", "--data", "{data}"], model, paths)
    assert argv[3:] == ["--eval-step", "--data", str(tmp_path / "d"), "--model", str(model)]
    inside = {"index": run.INDEX}
    assert run.step_command("bench.answer", ["--index", "{index}"], None, inside)[3:] == [
        "--index", "bench/results/cache/sec10q-index",
    ]  # fmt: skip


def test_quick_data_keeps_the_subset_and_its_questions(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    docs = shared / "sec10q" / "docs"
    docs.mkdir(parents=True)
    for name in ("2023 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q3 NVDA.pdf"):
        (docs / name).write_bytes(b"%PDF-1.4 " + name.encode())
    (shared / "sec10q" / "qna_data.csv").write_text(
        "Question,Source Docs,Question Type,Source Chunk Type,Answer\n"
        "q1,*2023 Q3 AAPL*,Single-Doc Single-Chunk RAG,Text,a1\n"
        "q2,*AAPL*,Multi-Doc RAG,Text,a2\n"  # also matches the Q2 filing: dropped
        '"q3","*2023 Q3 AAPL*, *2023 Q3 NVDA*",Multi-Doc RAG,Table,a3\n'
        "q4,*INTC*,Single-Doc Single-Chunk RAG,Text,a4\n",  # matches nothing: dropped
        encoding="utf-8",
    )
    out = run.quick_data(shared, tmp_path / "quick")
    assert sorted(p.name for p in (out / "docs").iterdir()) == ["2023 Q3 AAPL.pdf", "2023 Q3 NVDA.pdf"]
    assert (out / "docs" / "2023 Q3 AAPL.pdf").read_bytes() == b"%PDF-1.4 2023 Q3 AAPL.pdf"
    from bench.datasets import load_sec10q

    assert [i.question for i in load_sec10q(out / "qna_data.csv")] == ["q1", "q3"]
    run.quick_data(shared, tmp_path / "quick")  # a second call reuses the copies


def test_run_step_records_exit_code_and_log(tmp_path: Path) -> None:
    ok = run.run_step("ok", [sys.executable, "-c", "print('hello')"], tmp_path)
    bad = run.run_step("bad", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    assert ok["exit_code"] == 0 and (tmp_path / "ok.log").read_text() == "hello\n"
    assert ok["load_before"] >= 0 and ok["load_after"] >= 0
    assert bad["exit_code"] == 3 and bad["command"] == "python -c 'raise SystemExit(3)'"


def test_scale_recall_against_exact() -> None:
    exact = [[1, 2, 3, 4], [5, 6, 7, 8]]
    found = [[1, 2, 9, 4], [8, 7, 6, 5]]  # 3/4 and 4/4 -> mean 0.875
    assert scale.recall_at_k(found, exact) == pytest.approx(0.875)
    assert scale.recall_at_k([], []) == 0.0


def test_scale_real_chunk_recall_counts_copies_of_one_chunk_once() -> None:
    assert [original_id(i) for i in ("c1", "c1~7", "c~x", "a~b~12")] == ["c1", "c1", "c~x", "a~b"]
    exact = [["c1", "c1", "c2"]]  # two copies of c1 in the exact top 3: two distinct real chunks
    assert scale.recall_at_k([["c1", "c3", "c3"]], exact) == pytest.approx(0.5)
    assert scale.recall_at_k([["c2", "c1", "c9"]], exact) == pytest.approx(1.0)


def test_scale_timed_reports_percentiles() -> None:
    calls: list[int] = []
    result = scale.timed(lambda q: calls.append(int(q[0])), np.arange(10, dtype=np.float32).reshape(10, 1))
    assert result["n"] == 10 and len(calls) == 13  # 3 warm-up calls, then 10 timed
    assert 0 <= result["p50_ms"] <= result["p95_ms"]


def _write(results: Path, name: str, payload: dict[str, Any]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    meta = {"command": f"python -m bench.{name} --x", "timestamp": "2026-01-01T00:00:00+0000"}
    meta["machine"] = {
        "cpu": "Test CPU",
        "cores": 2,
        "memory_gb": 8,
        "python": "3.11",
        "versions": {"faiss": "1"},
    }
    (results / f"{name}.json").write_text(json.dumps({**meta, **payload}))


SCALE = {
    "k": 10, "queries": 5, "note": "replicated",
    "sizes": {
        "10000": {
            "chunks": 10000,
            "raw_faiss_flat": {"build_s": 0.1, "search": {"p50_ms": 1.0, "p95_ms": 2.0}},
            "index_types": {
                "flat": {"faiss_class": "IndexFlatIP", "build_s": 0.2, "build_kind": "loaded the saved index file",
                         "rss_added_mb": 15.0, "index_mb": 14.6, "search": {"p50_ms": 1.1, "p95_ms": 2.1},
                         "search_with_docstore": {"p50_ms": 1.5, "p95_ms": 2.5}, "recall_at_k_vs_flat": 1.0},
                "hnsw": {"faiss_class": "IndexHNSWFlat", "build_s": 3.0, "build_kind": "built from the stored vectors",
                         "rss_added_mb": 25.0, "index_mb": 17.0, "search": {"p50_ms": 0.3, "p95_ms": 0.5},
                         "search_with_docstore": {"p50_ms": 0.7, "p95_ms": 0.9}, "recall_at_k_vs_flat": 0.97,
                         "params": {"M": 32, "efSearch": 128}},
            },
            "systems": {"LangChain EnsembleRetriever": {"p50_ms": 40.0, "p95_ms": 55.0}},
        }
    },
}  # fmt: skip


def test_report_renders_results_and_marks_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.setattr(report, "RESULTS", results)
    _write(results, "scale", SCALE)
    _write(results, "eval", {
        "dataset": "sec10q", "model": "m.gguf", "by_type": {},
        "summary": {"questions": 4, "scored": 4, "hit_at_k": 0.75, "mrr": 0.5, "citation_validity": 1.0,
                    "token_f1": 0.25, "numeric_match": None, "false_refusal_rate": 0.0,
                    "correct_refusal_rate": 1.0, "page_hit": None, "latency_p50_s": 2.0,
                    "latency_p95_s": 3.0, "ttft_p50_s": 1.0},
    })  # fmt: skip
    (results / "eval.notes.md").write_text("Limited by the 270M model.")
    _write(results, "run", {"mode": "quick", "total_seconds": 12.5, "steps": [
        {"step": "scale", "mode": "quick", "seconds": 10.0, "exit_code": 0, "command": "python -m bench.scale"},
        {"step": "ingest", "mode": "quick", "seconds": 2.5, "exit_code": 1, "command": "python -m bench.ingest",
         "load_before": 3.1, "load_after": 4.2},
    ]})  # fmt: skip
    text = report.write_report(tmp_path / "docs" / "benchmarks.md").read_text()
    assert "Not run yet (no `bench/results/ingest.json`)" in text
    assert (
        "Command: `python -m bench.scale --x`; run 2026-01-01T00:00:00+0000 on Test CPU (2 cores, 8 GB)"
        in text
    )
    assert (
        "| 10000 | hnsw {'M': 32, 'efSearch': 128} | IndexHNSWFlat | 3.0 | 25.0 | 17.0 | 0.3 | 0.5 | 0.7 | 0.9 | 0.97 |"
        in text
    )
    assert "| 10000 | LangChain EnsembleRetriever | 40.0 | 55.0 |" in text
    assert "| citation validity (cited sources retrieved, file+page) | 1.000 |" in text
    assert "| ingest | quick | 2.5 | 3.1 / 4.2 | FAILED (1) | `python -m bench.ingest` |" in text
    assert "| scale | quick | 10.0 | - | ok |" in text
    assert "Limited by the 270M model." in text
    for png in ("bench-eval.png", "bench-latency.png"):
        assert f"](img/{png})" in text and (tmp_path / "docs" / "img" / png).stat().st_size > 1000


def test_latency_series_merges_both_benchmarks() -> None:
    retrieval = {
        "latency": {
            "10000": {"citewise full": {"p50_ms": 30.0}},
            "100000": {"citewise full": {"p50_ms": 90.0}},
        }
    }
    series = report.latency_series(retrieval, SCALE)
    assert series["citewise full"] == [(10000, 30.0), (100000, 90.0)]
    assert series["FaissVectorStore hnsw (+ docstore fetch)"] == [(10000, 0.7)]
    assert series["raw FAISS IndexFlatIP"] == [(10000, 1.0)]
    assert series["LangChain EnsembleRetriever"] == [(10000, 40.0)]


def test_quick_step_never_replaces_full_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.setattr(run, "RESULTS", results)
    monkeypatch.setattr(run, "CACHE", results / "cache")
    monkeypatch.setattr(run, "QUICK", results / "quick")
    monkeypatch.setattr(run, "LOGS", results / "cache" / "logs")
    results.mkdir()
    (results / "graph_eval.json").write_text('{"set": "the committed full run"}')
    writes = (
        f"from pathlib import Path; Path({str(results / 'graph_eval.json')!r}).write_text('{{\"n\": 60}}')"
    )
    record = run.run_quick_step("graph", [sys.executable, "-c", writes])
    assert record["exit_code"] == 0
    assert json.loads((results / "graph_eval.json").read_text()) == {"set": "the committed full run"}
    assert json.loads((results / "quick" / "graph_eval.json").read_text()) == {"n": 60}
    failing = run.run_quick_step("graph", [sys.executable, "-c", "raise SystemExit(1)"])
    assert failing["exit_code"] == 1
    assert json.loads((results / "graph_eval.json").read_text()) == {"set": "the committed full run"}


def test_report_prefers_the_chosen_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.setattr(report, "RESULTS", results)
    _write(results, "scale", SCALE)
    quick = {**SCALE, "queries": 3}
    _write(results / "quick", "scale", quick)
    assert report.load("scale")["queries"] == 5 and report.load("scale")["set"] == "full"
    assert report.load("scale", "quick")["queries"] == 3
    assert report.load("eval", "quick") is None
    step = {"step": "scale", "seconds": 1.0, "exit_code": 0, "command": "python -m bench.scale"}
    for folder, mode, total in ((results, "full", 99.0), (results / "quick", "quick", 11.0)):
        _write(folder, "run", {"mode": mode, "total_seconds": total, "steps": [{**step, "mode": mode}]})
    text = report.write_report(tmp_path / "b.md", prefer="quick").read_text()
    quick_run, full_run = (
        text.index("(quick set), 2026-01-01T00:00:00+0000, 11.0 s"),
        text.index("(full set), 2026-01-01T00:00:00+0000, 99.0 s"),
    )
    assert quick_run < full_run < text.index("## Ingestion")  # both runs shown, the chosen set first
    assert (
        "**quick set.** Command: `python -m bench.scale --x`" in text
        and "k=10, 3 real sec10q questions" in text
    )
    with pytest.raises(ValueError, match="full or quick"):
        report.write_report(tmp_path / "b.md", prefer="both")
