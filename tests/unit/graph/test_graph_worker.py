"""ExtractionWorker's process handling, with small extractors in place of spaCy.

The real spaCy extractor in the worker, through the pipeline, is in
tests/integration/test_graph_worker_pipeline.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import pytest

from graph.base import DocumentGraph, Entity, ExtractionError, TextUnit
from graph.extract.spacy_extractor import SpacyGraphExtractor
from graph.extract.worker import ExtractionUnit, ExtractionWorker, can_run_in_worker


class EchoExtractor:
    """One entity per unit, named after its text; a unit saying ``boom`` raises, ``die`` exits, ``hang`` hangs."""

    worker_safe = True

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        if any(u.text == "die" for u in units):
            os._exit(7)
        if any(u.text == "hang" for u in units):
            time.sleep(3600)
        if any(u.text == "boom" for u in units):
            raise ValueError("bad chunk")
        return DocumentGraph(doc_id, entities=[Entity(f"e{u.id}", u.text, "ORG") for u in units])


def units(doc_id: str, *texts: str) -> list[ExtractionUnit]:
    return [ExtractionUnit(f"{doc_id}-{i}", doc_id, t, i + 1) for i, t in enumerate(texts)]


@pytest.fixture
def worker():  # type: ignore[no-untyped-def]
    w = ExtractionWorker(EchoExtractor(), timeout_s=30)
    yield w
    w.close()


def test_a_document_round_trips(worker: ExtractionWorker) -> None:
    worker.submit("d1", units("d1", "Acme", "Globex"))
    result = worker.result()
    assert [e.name for e in result.graph.entities] == ["Acme", "Globex"]
    assert result.graph.doc_id == "d1" and result.seconds >= 0


def test_an_extractor_error_fails_that_document_and_the_worker_goes_on(worker: ExtractionWorker) -> None:
    worker.submit("d1", units("d1", "boom"))
    with pytest.raises(ExtractionError, match="ValueError: bad chunk"):
        worker.result()
    worker.submit("d2", units("d2", "Initech"))
    assert [e.name for e in worker.result().graph.entities] == ["Initech"]


def test_a_crash_fails_that_document_and_the_next_job_gets_a_new_worker(worker: ExtractionWorker) -> None:
    worker.submit("d1", units("d1", "die"))
    with pytest.raises(ExtractionError, match=r"graph worker crashed \(exit code 7\)"):
        worker.result()
    worker.submit("d2", units("d2", "Umbrella"))
    assert [e.name for e in worker.result().graph.entities] == ["Umbrella"]


def test_a_job_over_its_time_limit_stops_the_worker_and_the_next_job_runs() -> None:
    with ExtractionWorker(EchoExtractor(), timeout_s=1.0, per_unit_s=0.0) as w:
        w.submit("d1", units("d1", "hang"))
        t0 = time.monotonic()
        with pytest.raises(ExtractionError, match="timed out after 1 s"):
            w.result()
        assert time.monotonic() - t0 < 5
        w.timeout_s = 30.0  # room for the new worker to start
        w.submit("d2", units("d2", "Acme"))
        assert [e.name for e in w.result().graph.entities] == ["Acme"]


def test_queued_documents_come_back_in_order_and_survive_a_crash_before_them(
    worker: ExtractionWorker,
) -> None:
    worker.submit("d1", units("d1", "Acme"))
    worker.submit("d2", units("d2", "die"))
    worker.submit("d3", units("d3", "Globex"))
    assert worker.in_flight == 3
    assert worker.result().graph.doc_id == "d1"
    with pytest.raises(ExtractionError, match="crashed"):
        worker.result()
    assert [e.name for e in worker.result().graph.entities] == ["Globex"]  # re-sent to a new worker
    with pytest.raises(RuntimeError, match="no document in flight"):
        worker.result()


def test_an_extractor_that_cannot_be_pickled_is_refused() -> None:
    extractor = SpacyGraphExtractor(model_loader=lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ExtractionError, match="cannot be sent to a worker process"):
        ExtractionWorker(extractor)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        ExtractionWorker(EchoExtractor(), timeout_s=0)


def test_spacy_extractor_pickles_without_its_model() -> None:
    import pickle

    extractor = SpacyGraphExtractor(model_loader=_fake_model, batch_size=8)
    extractor._nlp = object()  # type: ignore[assignment]
    copy = pickle.loads(pickle.dumps(extractor))
    assert copy._nlp is None and copy.batch_size == 8 and extractor._nlp is not None
    assert can_run_in_worker(extractor) and not can_run_in_worker(object())


def _fake_model() -> None:
    return None


def test_big_documents_in_flight_together_do_not_deadlock_the_pipe(worker: ExtractionWorker) -> None:
    import threading

    big = "x" * 400_000  # each job and each reply is far larger than a pipe buffer
    worker.submit("d1", units("d1", big + "1", big + "2"))
    time.sleep(1.0)  # the child finishes d1 and starts sending its large reply
    second = threading.Thread(target=worker.submit, args=("d2", units("d2", big + "3")), daemon=True)
    second.start()
    second.join(timeout=20)
    assert not second.is_alive(), "submitting d2 blocked while the child was sending d1's reply"
    assert [len(e.name) for e in worker.result().graph.entities] == [400_001, 400_001]
    assert [e.name[-1] for e in worker.result().graph.entities] == ["3"]
