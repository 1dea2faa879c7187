"""The graph step's bookkeeping: a document's graph status follows what really happened to its graph.

Real SQLite docstore and graph store under tmp_path; the extractor and the worker are small fakes
(the real worker and spaCy run in tests/unit/graph/test_graph_worker.py and the integration tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graph.base import DocumentGraph, Entity, ExtractionError, Mention, TextUnit
from graph.extract.worker import WorkerResult, WorkerUnavailableError
from graph.stores.sqlite_store import SQLiteGraphStore
from ingest.graph_step import GraphStep, open_worker
from retrieval.base import Chunk
from retrieval.vectorstores.docstore import (
    GRAPH_DONE,
    GRAPH_OFF,
    GRAPH_PENDING,
    DocumentRecord,
    SQLiteDocStore,
    graph_extra,
)


class NamesExtractor:
    """One ORG entity per capitalised word of each unit; a unit saying ``boom`` raises."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        self.calls.append(doc_id)
        if any(u.text == "boom" for u in units):
            raise ValueError("bad chunk")
        entities, mentions = [], []
        for u in units:
            for word in u.text.split():
                if word[:1].isupper():
                    entities.append(Entity(f"e-{word}", word, "ORG"))
                    mentions.append(Mention(f"e-{word}", u.id, doc_id, word, u.page_start))
        notes = [] if entities else ["no entities found"]
        return DocumentGraph(doc_id, entities=entities, mentions=mentions, notes=notes)


class FakeWorker:
    """Stands in for ExtractionWorker: replies with a queued graph, or raises a queued error."""

    def __init__(self, *replies: DocumentGraph | Exception) -> None:
        self.replies = list(replies)
        self.submitted: list[str] = []

    def submit(self, doc_id: str, units: Sequence[TextUnit]) -> None:
        self.submitted.append(doc_id)

    def result(self) -> WorkerResult:
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return WorkerResult(reply, 0.5)


@pytest.fixture
def stores(tmp_path: Path) -> Any:
    docstore = SQLiteDocStore(tmp_path / "docstore.sqlite")
    graph_store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    yield docstore, graph_store
    docstore.close()
    graph_store.close()


def store_document(docstore: SQLiteDocStore, doc_id: str, text: str, status: str) -> list[Chunk]:
    """Commit a one-chunk document with ``status``, as the pipeline does before the graph step."""
    chunk = Chunk(f"{doc_id}:0", doc_id, text, f"/docs/{doc_id}.txt", f"{doc_id}.txt", "txt", page_start=1)
    record = DocumentRecord(
        doc_id, chunk.source, chunk.file_name, "txt", "hash", n_children=1, extra=graph_extra(status)
    )
    with docstore.transaction() as conn:
        docstore.replace_document(conn, record, [chunk], np.zeros((1, 4), dtype=np.float32))
    return [chunk]


def step(stores: Any, *, worker: Any = None, build: bool = True, extractor: Any = None) -> GraphStep:
    docstore, graph_store = stores
    timings: dict[str, float] = {}
    return GraphStep(
        extractor=extractor or NamesExtractor(),
        graph_store=graph_store,
        docstore=docstore,
        build=build,
        worker=worker,
        add_time=lambda stage, s: timings.__setitem__(stage, timings.get(stage, 0.0) + s),
    )


def record(stores: Any, doc_id: str) -> DocumentRecord:
    found = stores[0].document(doc_id)
    assert found is not None
    return found


def test_an_in_process_graph_is_written_and_marked_done(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "Acme hired Globex", GRAPH_PENDING)
    written = step(stores).write("d1", chunks, in_worker=False)
    assert (written.entities, written.pending) == (2, None)
    assert record(stores, "d1").graph_status == GRAPH_DONE and record(stores, "d1").n_entities == 2
    assert stores[1].stats()["entities"] == 2


def test_a_graph_without_entities_is_done_not_pending(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "nothing named here", GRAPH_PENDING)
    written = step(stores).write("d1", chunks, in_worker=False)
    assert written.entities == 0 and written.pending is None
    data = record(stores, "d1").extra_data()
    assert data == {"graph": GRAPH_DONE, "graph_notes": ["no entities found"]}


def test_a_worker_crash_leaves_the_graph_pending_with_the_reason_and_drops_the_old_graph(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "Acme hired Globex", GRAPH_PENDING)
    step(stores).write("d1", chunks, in_worker=False)  # an older version's graph
    store_document(stores[0], "d1", "Initech bought Umbrella", GRAPH_PENDING)  # the update, committed
    worker = FakeWorker(ExtractionError("graph worker crashed (exit code -9)"))
    graph = step(stores, worker=worker)
    assert graph.submit("d1", chunks)
    written = graph.write("d1", chunks, in_worker=True)
    assert written.pending == "graph worker crashed (exit code -9)" and written.entities == 0
    assert "graph is pending" in written.notes[0]
    data = record(stores, "d1").extra_data()
    assert data == {"graph": GRAPH_PENDING, "graph_reason": "graph worker crashed (exit code -9)"}
    assert stores[1].stats()["entities"] == 0  # not the older version's graph


def test_an_unavailable_worker_costs_nothing_the_document_is_extracted_here(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "Acme hired Globex", GRAPH_PENDING)
    extractor = NamesExtractor()
    graph = step(stores, worker=FakeWorker(WorkerUnavailableError("no child")), extractor=extractor)
    graph.submit("d1", chunks)
    written = graph.write("d1", chunks, in_worker=True)
    assert extractor.calls == ["d1"] and written.entities == 2
    assert record(stores, "d1").graph_status == GRAPH_DONE


def test_the_worker_graph_is_written(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "ignored by the fake worker", GRAPH_PENDING)
    extractor = NamesExtractor()
    reply = DocumentGraph("d1", entities=[Entity("e-x", "Xylo", "ORG")])
    written = step(stores, worker=FakeWorker(reply), extractor=extractor).write("d1", chunks, in_worker=True)
    assert written.entities == 1 and extractor.calls == []


def test_an_extractor_error_in_process_leaves_the_graph_pending(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "boom", GRAPH_PENDING)
    written = step(stores).write("d1", chunks, in_worker=False)
    assert written.pending == "ValueError: bad chunk"
    assert record(stores, "d1").graph_status == GRAPH_PENDING


def test_a_run_without_graph_marks_documents_off_and_drops_their_graph(stores: Any) -> None:
    chunks = store_document(stores[0], "d1", "Acme hired Globex", GRAPH_PENDING)
    step(stores).write("d1", chunks, in_worker=False)
    off = step(stores, build=False)
    assert off.new_status == GRAPH_OFF and step(stores).new_status == GRAPH_PENDING
    store_document(stores[0], "d1", "Acme hired Globex", off.new_status)
    assert off.write("d1", chunks, in_worker=False).pending is None
    assert record(stores, "d1").graph_status == GRAPH_OFF and stores[1].stats()["documents"] == 0


def test_no_worker_for_an_extractor_that_is_not_worker_safe_or_a_small_run() -> None:
    with open_worker(NamesExtractor(), 10**9) as worker:  # NamesExtractor does not say worker_safe
        assert worker is None
    with open_worker(None, 10**9) as worker:
        assert worker is None
    safe = type("SafeNames", (NamesExtractor,), {"worker_safe": True})()
    with open_worker(safe, 10, min_bytes=100) as worker:  # starting it would cost more than it saves
        assert worker is None


def test_graph_extra_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown graph status 'maybe'"):
        graph_extra("maybe")
