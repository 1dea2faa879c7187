"""Graph extraction in the worker process, through the real pipeline, spaCy model and stores.

The worker path must build exactly the graph the in-process path builds, keep relation evidence
pointing at real child chunks, survive a crashing or hanging document (whose graph then stays
pending until ``doctor --repair`` builds it), and keep the incremental invariant: after ingests,
edits and forgets the graph equals one built from scratch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from graph.base import DocumentGraph, TextUnit
from graph.extract.spacy_extractor import SpacyGraphExtractor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class TrippingExtractor(SpacyGraphExtractor):
    """The real extractor, except that a document containing a marker crashes or hangs the worker."""

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        text = " ".join(u.text for u in units)
        if "CRASHMARKER" in text:
            os._exit(3)
        if "HANGMARKER" in text:
            time.sleep(3600)
        return super().extract(doc_id, units)


def graph_view(service: Any) -> tuple[Any, ...]:
    """Everything the graph holds, in a comparable form."""
    graph = service.graph_store
    entities = sorted((e.id, e.name, e.type, e.aliases) for e in graph._entities())
    relations = sorted(
        (r.source_id, r.target_id, r.type, r.kind, r.weight, r.doc_id, r.chunk_id, r.sentence, r.page)
        for r in graph._edges()
    )
    mentions = sorted(graph._rows("SELECT entity_id, chunk_id, doc_id, surface, page, count FROM mentions"))
    return entities, relations, mentions, graph.stats()


def graph_notes(service: Any) -> dict[str, Any]:
    return {r.source: r.extra_data().get("graph_notes") for r in service.store.docstore.documents()}


def ingest(service: Any, paths: list[Path], *, worker: bool, **kwargs: Any) -> Any:
    service.pipeline.graph_worker = worker
    service.pipeline.graph_worker_min_bytes = 0  # the sample corpus is below the service's 1 MB default
    return service.ingest(paths, **kwargs)


def test_small_runs_stay_in_process_and_large_ones_use_the_worker(
    open_service: Any, corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.graph_step as graph_step

    started: list[int] = []

    class CountingWorker(graph_step.ExtractionWorker):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started.append(1)  # one worker per ingest run that uses it
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(graph_step, "ExtractionWorker", CountingWorker)
    size = sum(p.stat().st_size for p in corpus_copy.rglob("*") if p.is_file())
    small = open_service(tmp_path / "small", graph={"worker": True, "worker_min_mb": 2 * size / 2**20})
    small.ingest([corpus_copy])
    assert started == [] and small.graph_store.stats()["entities"] > 0
    large = open_service(tmp_path / "large", graph={"worker": True, "worker_min_mb": 0.5 * size / 2**20})
    large.ingest([corpus_copy])
    assert started == [1]
    assert graph_view(large) == graph_view(small)  # the same graph either way


def test_worker_builds_the_in_process_graph(open_service: Any, corpus_copy: Path, tmp_path: Path) -> None:
    serial = open_service(tmp_path / "serial")
    overlapped = open_service(tmp_path / "worker")
    r_serial = ingest(serial, [corpus_copy], worker=False)
    r_worker = ingest(overlapped, [corpus_copy], worker=True)

    assert "graph_wait" in r_worker.timings and "graph_wait" not in r_serial.timings
    assert r_worker.count("added") == r_serial.count("added") == 6
    by_path = {o.path: o for o in r_serial.outcomes}
    for o in r_worker.outcomes:
        assert (o.status, o.entities, o.warnings) == (
            by_path[o.path].status,
            by_path[o.path].entities,
            by_path[o.path].warnings,
        )
    view = graph_view(overlapped)
    assert view == graph_view(serial)
    assert len(view[0]) > 20 and any(rel[3] == "extracted" for rel in view[1])
    assert graph_notes(overlapped) == graph_notes(serial)
    assert overlapped.doctor().consistent


def test_relation_evidence_names_a_child_chunk_holding_the_sentence(
    open_service: Any, corpus_copy: Path, tmp_path: Path
) -> None:
    service = open_service()
    ingest(service, [corpus_copy], worker=True)
    children = {c.id: c for c in service.store.docstore.iter_chunks("child")}
    edges = list(service.graph_store._edges())
    assert len(edges) > 20
    for r in edges:
        chunk = children[r.chunk_id]
        assert chunk.doc_id == r.doc_id
        assert " ".join(r.sentence.split()) in " ".join(chunk.text.split())
        assert r.page == chunk.page_start


def test_crashing_and_hanging_documents_stay_pending_the_rest_completes_and_doctor_builds_them(
    open_service: Any, corpus_copy: Path, tmp_path: Path
) -> None:
    (corpus_copy / "a_crash.txt").write_text("Olav Berg met Astrid Lunde in Bergen. CRASHMARKER\n")
    (corpus_copy / "b_hang.txt").write_text("Sigrid Holm moved to Oslo. HANGMARKER\n")
    service = open_service()
    service.pipeline.extractor = TrippingExtractor()
    # the hanging document (one chunk) gets 16 s; the others their chunks' allowance on top
    service.pipeline.graph_timeout_s, service.pipeline.graph_timeout_per_chunk_s = 15.0, 1.0
    report = ingest(service, [corpus_copy], worker=True)

    outcomes = {Path(o.path).name: o for o in report.outcomes}
    assert report.count("added") == 8 and not report.failed
    crash, hang = outcomes["a_crash.txt"], outcomes["b_hang.txt"]
    assert crash.entities == 0 and any("graph worker crashed (exit code 3)" in w for w in crash.warnings)
    assert hang.entities == 0 and any("timed out after 16 s" in w for w in hang.warnings)
    for name in ("skarvik_history.pdf", "people_of_vesterholm.md", "rustad_logbook.txt", "nosa_overview.md"):
        assert outcomes[name].entities > 0, name
    records = {Path(r.source).name: r for r in service.store.docstore.documents()}
    assert records["b_hang.txt"].n_children == records["a_crash.txt"].n_children == 1  # stored, searchable
    assert records["b_hang.txt"].extra_data() == {
        "graph": "pending",
        "graph_reason": "graph extraction timed out after 16 s; the worker was stopped",
    }
    assert records["a_crash.txt"].graph_status == "pending"
    assert {r.graph_status for n, r in records.items() if not n.startswith(("a_", "b_"))} == {"done"}

    found = service.doctor()
    assert not found.consistent
    pending = {(i.kind, i.doc_id) for i in found.errors}
    assert pending == {("pending_graph", records[n].doc_id) for n in ("a_crash.txt", "b_hang.txt")}
    fixed = service.doctor(repair=True)  # the index's own extractor, which neither crashes nor hangs
    assert fixed.consistent, fixed.issues
    rebuilt = {Path(r.source).name: r for r in service.store.docstore.documents()}
    assert rebuilt["a_crash.txt"].graph_status == rebuilt["b_hang.txt"].graph_status == "done"
    assert rebuilt["a_crash.txt"].n_entities > 0 and rebuilt["b_hang.txt"].n_entities > 0


def test_incremental_ingest_and_forget_equal_a_fresh_build(
    open_service: Any, corpus_copy: Path, tmp_path: Path
) -> None:
    service = open_service()
    ingest(service, [corpus_copy], worker=True)
    (corpus_copy / "people_of_vesterholm.md").write_text(
        "# People\n\nIngrid Halvorsen founded the Skarvik Marine Institute in 1921. "
        "Olav Berg worked for the Nordic Ocean Survey Agency in Bergen.\n"
    )
    (corpus_copy / "rustad_logbook.txt").unlink()
    ingest(service, [corpus_copy], worker=True, prune=True)
    service.forget(corpus_copy / "havorn.html")

    fresh = open_service(tmp_path / "fresh")
    live = sorted(p for p in corpus_copy.iterdir() if p.name != "havorn.html")
    ingest(fresh, live, worker=False)
    assert graph_view(service) == graph_view(fresh)
    assert service.doctor().consistent
