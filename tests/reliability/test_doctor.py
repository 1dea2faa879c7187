"""The doctor on every crash point of a write, simulated exactly, and on damaged files.

A killed ingest can stop between any two of: docstore commit, BM25 delete, BM25 add, graph
commit, graph confirmation in the docstore, FAISS save. Each test below leaves the index in one
of those states (or damages a file), then checks that ``doctor`` names the problem, that the
repair (or the next ingest's reconciliation) fixes it from stored chunks without embedding
anything, and that the result equals an index built without interruption.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from filelock import FileLock

from app.cli import cli
from app.manifest import begin_session, read_manifest, write_manifest
from graph.base import DocumentGraph, ExtractionError, TextUnit
from tests.reliability.helpers import index_state

pytestmark = pytest.mark.integration

TEXTS = {
    "harbour.md": "# Harbour\n\nIngrid Dahl founded the Skarvik Harbour Company in Bergen in 1921.\n\n"
    "The company built ships for Norway Line.",
    "mill.txt": "Olav Berg ran the Tromso Paper Mill. He sold paper to the Skarvik Harbour Company.",
    "letters.html": "<html><body><h1>Letters</h1><p>Astrid Lunde wrote to Olav Berg from Oslo.</p></body></html>",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    target.mkdir()
    for name, text in TEXTS.items():
        (target / name).write_text(text)
    return target


@pytest.fixture
def reference(services: Any, folder: Path, tmp_path: Path) -> dict[str, Any]:
    service = services(tmp_path / "reference")
    service.ingest([folder])
    return index_state(service)


@pytest.fixture
def hash_reference(hash_services: Any, folder: Path, tmp_path: Path) -> dict[str, Any]:
    """The reference state built with the hash embedder: a test on ``hash_services`` indexes must
    not also request ``services``, whose patch of ``app.container`` would hand the CLI MiniLM."""
    service = hash_services(tmp_path / "reference")
    service.ingest([folder])
    return index_state(service)


def kinds(report: Any) -> set[str]:
    return {f"{i.store}:{i.kind}" for i in report.errors}


def doc_of(service: Any, name: str) -> str:
    return next(r.doc_id for r in service.documents() if r.file_name == name)


def no_embedding(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is embedded from here on (the session's embedder is restored after)."""
    monkeypatch.setattr(
        service.embedder, "embed_batch", lambda texts: pytest.fail(f"re-embedded {len(texts)} texts")
    )


def test_clean_index_is_consistent_and_matches_its_manifest(services: Any, folder: Path) -> None:
    service = services()
    service.ingest([folder])
    report = service.doctor()
    assert report.consistent and report.issues == []
    manifest = read_manifest(service.index_dir)
    assert manifest is not None and manifest["state"] == "clean"
    stores = manifest["stores"]
    assert stores["docstore"]["documents"] == 3 == stores["bm25"]["documents"] == stores["graph"]["documents"]
    assert stores["faiss"]["vectors"] == stores["docstore"]["children"] == stores["bm25"]["chunks"]


def test_killed_after_the_docstore_commit_bm25_is_refilled_by_the_next_ingest(
    services: Any, folder: Path, reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = services()
    service.ingest([folder])
    begin_session(service.index_dir, graph=True, operation="ingest")
    service.bm25.delete_document(doc_of(service, "mill.txt"))  # the BM25 update never happened
    report = service.doctor()
    assert kinds(report) == {"bm25:missing_chunks"}
    no_embedding(service, monkeypatch)
    again = service.ingest([folder])
    assert again.count("unchanged") == 3
    assert service.doctor().consistent
    assert index_state(service) == reference


def test_killed_mid_forget_leaves_orphans_that_doctor_removes(
    services: Any, folder: Path, tmp_path: Path
) -> None:
    service = services()
    service.ingest([folder])
    gone = doc_of(service, "letters.html")
    begin_session(service.index_dir, graph=True, operation="forget")
    service.store.delete_document(gone)  # docstore committed; BM25 and graph never heard of it
    service.store.persist()
    report = service.doctor()
    assert kinds(report) == {"bm25:orphan_document", "graph:orphan_document"}
    fixed = service.doctor(repair=True)
    assert fixed.consistent and {i.kind for i in fixed.found} >= {"orphan_document"}
    (folder / "letters.html").unlink()
    expected = services(tmp_path / "ref2")
    expected.ingest([folder])
    assert index_state(service) == index_state(expected)


def test_killed_before_the_graph_commit_the_graph_is_built_from_stored_chunks(
    services: Any, folder: Path, reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = services()
    write_manifest(
        service.index_dir, {"state": "writing", "session": {"started_at": 0, "graph": True, "pid": 1}}
    )
    service.pipeline.run([folder], graph=True)  # a session that never finished
    victim = doc_of(service, "harbour.md")
    service.graph_store.delete_document(victim)
    service.store.docstore.set_entity_count(victim, 0, None)
    with service.store.docstore.transaction() as conn:  # the record as committed before the graph step
        conn.execute("UPDATE documents SET extra = '{}' WHERE doc_id = ?", (victim,))
    assert kinds(service.doctor()) == {"graph:pending_graph"}
    no_embedding(service, monkeypatch)
    fixed = service.doctor(repair=True)
    assert fixed.consistent and any("re-extracted" in r for r in fixed.repairs)
    assert index_state(service) == reference


def test_killed_between_graph_commit_and_confirmation_of_an_update(
    services: Any, folder: Path, tmp_path: Path
) -> None:
    service = services()
    service.ingest([folder])
    old_graph = service.graph_store.stats()
    session = begin_session(service.index_dir, graph=True, operation="ingest")
    # The premise of the doctor's "written by the killed session" rule: older records predate it.
    assert max(r.ingested_at for r in service.documents()) < session["started_at"]
    (folder / "mill.txt").write_text(TEXTS["mill.txt"] + " Later Sigrid Holm bought the mill in Narvik.")
    mill = doc_of(service, "mill.txt")
    service.pipeline.extractor = None  # simulate the kill: docstore + BM25 updated, graph still old
    service.pipeline.graph_store = None
    service.pipeline.run([folder], graph=True)
    with service.store.docstore.transaction() as conn:  # the record as committed before the graph step
        conn.execute("UPDATE documents SET extra = ? WHERE doc_id = ?", ('{"graph": "pending"}', mill))
    assert service.graph_store.stats() == old_graph
    assert kinds(service.doctor()) == {"graph:stale_mentions"}
    assert mill in {i.doc_id for i in service.doctor().errors}
    service._drop_components()
    service.ingest([folder])  # reconciliation finishes the update first
    expected = services(tmp_path / "ref3")
    expected.ingest([folder])
    assert index_state(service) == index_state(expected)


def test_no_graph_session_killed_after_graph_commit_removes_the_graph(services: Any, folder: Path) -> None:
    service = services()
    write_manifest(
        service.index_dir, {"state": "writing", "session": {"started_at": 0, "graph": False, "pid": 1}}
    )
    service.pipeline.run([folder], graph=True)  # graph written, as if the flag had flipped mid-way
    victim = doc_of(service, "mill.txt")
    with service.store.docstore.transaction() as conn:
        conn.execute("UPDATE documents SET extra = '{}', n_entities = 0 WHERE doc_id = ?", (victim,))
    assert kinds(service.doctor()) == {"graph:unwanted_graph"}
    fixed = service.doctor(repair=True)
    assert fixed.consistent and service.graph_store.stats()["documents"] == 2


def test_bit_flipped_bm25_segment_is_caught_by_the_manifest_and_rebuilt(
    services: Any, folder: Path, reference: dict[str, Any]
) -> None:
    service = services()
    service.ingest([folder])
    before = service.bm25.search("Skarvik Harbour Company", k=5)
    service.close()
    segment = sorted((service.index_dir / "bm25").glob("seg-*.npz"))[0]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    reopened = services()
    report = reopened.doctor()
    assert "bm25:checksum_mismatch" in kinds(report)
    fixed = reopened.doctor(repair=True)
    assert fixed.consistent and any("bm25: rebuilt" in r for r in fixed.repairs)
    after = reopened.bm25.search("Skarvik Harbour Company", k=5)
    assert [c for c, _ in after] == [c for c, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], abs=1e-9)
    assert index_state(reopened) == reference


def test_truncated_faiss_file_with_a_current_stamp_is_rebuilt(
    services: Any, folder: Path, reference: dict[str, Any]
) -> None:
    service = services()
    service.ingest([folder])
    service.close()
    faiss_file = service.index_dir / "vectors.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    (service.index_dir / "vectors.tmp-999").write_bytes(b"half a write")
    reopened = services(read_only=True)
    report = reopened.doctor()
    assert kinds(report) == {"faiss:unreadable", "faiss:checksum_mismatch"}
    assert "files:leftover_temp" in {f"{i.store}:{i.kind}" for i in report.issues}
    writer = services()
    fixed = writer.doctor(repair=True)
    assert fixed.consistent and fixed.issues == [], fixed.issues
    assert not (service.index_dir / "vectors.tmp-999").exists()
    assert index_state(writer) == reference


def test_doctor_reports_busy_while_a_writer_holds_the_lock(services: Any, folder: Path) -> None:
    service = services()
    service.ingest([folder])
    with FileLock(str(service.index_dir / ".write.lock"), timeout=0):
        report = service.doctor()
    assert report.busy and not report.consistent
    assert json.loads(json.dumps(report.to_dict()))["busy"] is True
    assert service.doctor().consistent


class CrashingExtractor:
    """Kills the graph worker on every document (in the test process it only raises)."""

    worker_safe = True

    def __init__(self) -> None:
        self.parent = os.getpid()

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        if os.getpid() != self.parent:
            os._exit(9)
        raise ExtractionError("CrashingExtractor only crashes in the worker")


def cli_doctor(index: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["doctor", "--index", str(index), "--json", *args])
    return result.exit_code, json.loads(result.output)


def pending_docs(report: dict[str, Any]) -> set[str]:
    return {i["doc_id"] for i in report["issues"] if i["kind"] == "pending_graph"}


def test_documents_whose_graph_extraction_never_happened_are_reported_and_built_by_repair(
    hash_services: Any, folder: Path, hash_reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = hash_services()
    service.pipeline.extractor = CrashingExtractor()
    service.pipeline.graph_worker, service.pipeline.graph_worker_min_bytes = True, 0
    report = service.ingest([folder])
    assert report.count("added") == 3 and not report.failed  # stored and searchable
    for outcome in report.outcomes:
        assert outcome.entities == 0 and any(
            "graph worker crashed (exit code 9)" in w for w in outcome.warnings
        )
    docs = {r.doc_id for r in service.documents()}
    assert {r.graph_status for r in service.documents()} == {"pending"}
    assert service.stats()["graph_pending"] == 3
    service.close()

    code, found = cli_doctor(service.index_dir)  # a new process would see the same: it is persisted
    assert code == 1 and not found["consistent"] and pending_docs(found) == docs
    from tests.fakes import HashEmbedder

    monkeypatch.setattr(HashEmbedder, "embed_batch", lambda self, texts: pytest.fail("re-embedded"))
    code, fixed = cli_doctor(service.index_dir, "--repair")
    assert code == 0 and fixed["consistent"], fixed
    assert sum("re-extracted" in r for r in fixed["repairs"]) == 3
    reopened = hash_services()
    assert {r.graph_status for r in reopened.documents()} == {"done"}
    assert reopened.stats()["graph_pending"] == 0
    assert index_state(reopened) == hash_reference


def test_an_index_left_by_the_spawn_worker_bug_is_reported_and_repaired(
    hash_services: Any, folder: Path, hash_reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21's indexes: every graph empty yet confirmed, with the failure only in its notes."""
    service = hash_services()
    service.ingest([folder])
    note = "graph extraction failed: graph worker crashed (exit code 1)"
    for record in service.documents():
        service.graph_store.upsert_document(DocumentGraph(record.doc_id, notes=[note]))
        with service.store.docstore.transaction(bump=False) as conn:
            conn.execute(
                "UPDATE documents SET extra = ?, n_entities = 0 WHERE doc_id = ?",
                (json.dumps({"graph_notes": [note]}), record.doc_id),
            )
    assert service.graph_store.stats()["entities"] == 0
    assert service.stats()["graph_pending"] == 3
    found = service.doctor()
    assert kinds(found) == {"graph:pending_graph"}
    assert {i.doc_id for i in found.errors} == {r.doc_id for r in service.documents()}
    assert all(note in i.detail for i in found.errors)
    no_embedding(service, monkeypatch)
    fixed = service.doctor(repair=True)
    assert fixed.consistent, fixed.issues
    assert index_state(service) == hash_reference


def test_a_document_without_entities_has_a_done_graph_and_is_not_reported(
    hash_services: Any, tmp_path: Path
) -> None:
    docs = tmp_path / "plain"
    docs.mkdir()
    (docs / "numbers.txt").write_text("the ratio went from three to four over the year")
    service = hash_services()
    service.ingest([docs])
    (record,) = service.documents()
    assert record.graph_status == "done" and record.n_entities == 0
    assert service.doctor().consistent


class MarkerCrashExtractor:
    """The real spaCy extractor, except that a document saying CRASHMARKER kills the worker."""

    worker_safe = True

    def __init__(self) -> None:
        from graph.extract.spacy_extractor import SpacyGraphExtractor

        self.parent, self.base = os.getpid(), SpacyGraphExtractor()

    def warm_up(self) -> None:
        self.base.warm_up()

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        if any("CRASHMARKER" in u.text for u in units):
            if os.getpid() != self.parent:
                os._exit(3)
            raise ExtractionError("MarkerCrashExtractor crashed in the test process")
        return self.base.extract(doc_id, units)


def test_repair_in_the_worker_leaves_a_crashing_document_pending_and_builds_the_rest(
    hash_services: Any, folder: Path, hash_reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import container

    (folder / "poison.txt").write_text("Olav Berg met Astrid Lunde in Bergen. CRASHMARKER")
    service = hash_services(graph={"worker_min_mb": 0})  # the doctor's repair uses the worker
    service.ingest([folder])
    for record in service.documents():  # every graph lost, as issue 21 left them
        service.graph_store.delete_document(record.doc_id)
        service.store.docstore.set_graph_status(record.doc_id, "pending", reason="lost")
    monkeypatch.setattr(
        container, "build_extractor", lambda settings, llm_factory=None: MarkerCrashExtractor()
    )
    poison = doc_of(service, "poison.txt")

    fixed = service.doctor(repair=True)
    assert any(
        f"could not build {poison}, still pending: graph worker crashed (exit code 3)" in r
        for r in fixed.repairs
    )
    assert sum("re-extracted" in r for r in fixed.repairs) == 3
    assert [(i.kind, i.doc_id) for i in fixed.errors] == [("pending_graph", poison)]
    assert "graph worker crashed (exit code 3)" in fixed.errors[0].detail
    service.forget(folder / "poison.txt")
    assert service.doctor().consistent and index_state(service) == hash_reference
