"""bench.api's arithmetic and its section of the report (no server is started here)."""

from __future__ import annotations

from bench.api import markdown, percentile, summary


def test_percentile_interpolates() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 25.0
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([0.0, 10.0], 0.95) == 9.5
    assert summary([3.0, 1.0, 2.0]) == {"n": 3, "p50_ms": 2.0, "p95_ms": 2.9, "max_ms": 3.0}


def test_markdown_shows_overhead_concurrency_and_sync() -> None:
    stats = {"n": 36, "p50_ms": 20.0, "p95_ms": 30.0, "max_ms": 40.0}
    result = {
        "corpus": "data/corpus (6 files, 80 chunks)",
        "overhead": {"library": stats, "http": {**stats, "p50_ms": 23.5}, "overhead_p50_ms": 3.5},
        "single_client": {"clients": 1, **stats, "searches_per_s": 45.0, "n_errors": 0},
        "concurrent": {"clients": 16, **stats, "p95_ms": 400.0, "searches_per_s": 60.0, "n_errors": 0},
        "watch": {"trials": 3, "p50_s": 1.2, "max_s": 1.9, "debounce_s": 0.5},
    }
    text = markdown(result)
    assert "API overhead over the library at p50: **3.5 ms**." in text
    assert "| 16 | 36 | 20.0 | 400.0 | 40.0 | 60.0 | 0 |" in text
    assert "p50 1.2 s, at most 1.9 s over 3 files" in text
