"""One index shared: threads of one service (the API, a watcher), and two processes' services.

Real MiniLM, FAISS, BM25 and files; the service's gate must keep searches consistent while an
ingest writes, and a service must see what another process wrote to the same index.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_searches_from_threads_while_an_ingest_writes(open_service: Any, corpus_copy: Path) -> None:
    service = open_service(graph={"enabled": False})
    first = sorted(p for p in corpus_copy.iterdir() if p.suffix == ".md")
    service.ingest(first[:1])
    done = threading.Event()
    errors: list[BaseException] = []
    counts: list[int] = []

    def reader() -> None:
        n = 0
        try:
            while not done.is_set() and n < 10_000:
                hits = service.search("Who founded the Skarvik Marine Institute?", k=3, graph=False).hits
                assert hits and all(h.chunk.text for h in hits)
                n += 1
        except BaseException as e:  # reported below: a thread's assertion would be lost otherwise
            errors.append(e)
        counts.append(n)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        report = service.ingest([corpus_copy])
    finally:
        done.set()
        for t in threads:
            t.join(timeout=300)
    assert errors == []
    assert report.count("added") >= 4 and len(counts) == 3 and min(counts) >= 1
    assert service.gate.status() == {"readers": 0, "writing": False, "writers_waiting": 0}


def test_a_service_sees_what_another_process_wrote(open_service: Any, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Ferry\n\nThe ferry to Brennøy leaves at dawn.\n")
    writer = open_service(graph={"enabled": False})
    writer.ingest([docs])
    reader = open_service(graph={"enabled": False}, read_only=True)

    def keyword_hits(word: str) -> list[str]:  # BM25 only: the index that is held in memory
        result = reader.search(word, k=2, dense=False, graph=False, self_query=False, documents=False)
        return [h.chunk.text for h in result.hits]

    assert any("ferry" in t for t in keyword_hits("ferry"))
    assert keyword_hits("gravmolle") == []
    (docs / "b.md").write_text("# Mole\n\nThe gravmolle on the north mole was rebuilt in 1931.\n")
    writer.ingest([docs])
    assert any("gravmolle" in t for t in keyword_hits("gravmolle"))
