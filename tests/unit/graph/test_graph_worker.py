"""ExtractionWorker's process handling, with small extractors in place of spaCy.

The real spaCy extractor in the worker, through the pipeline, is in
tests/integration/test_graph_worker_pipeline.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from graph.base import DocumentGraph, Entity, ExtractionError, TextUnit
from graph.extract.spacy_extractor import SpacyGraphExtractor
from graph.extract.worker import ExtractionUnit, ExtractionWorker, WorkerUnavailableError, can_run_in_worker


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


def in_thread(call: Callable[[], Any], bound_s: float = 120.0) -> Any:
    """``call()``'s result or exception, failing the test if it has not returned within ``bound_s``.

    The bound is far above the time the call needs and far below a hang's (an hour), so it
    fails on a hang without being a timing assertion.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=bound_s)
    assert not thread.is_alive(), f"{call} did not return within {bound_s} s"
    return outcome.get("error", outcome.get("value"))


def test_a_job_over_its_time_limit_stops_the_worker_and_the_next_job_runs() -> None:
    with ExtractionWorker(EchoExtractor(), timeout_s=1.0, per_unit_s=0.0) as w:
        w.submit("d1", units("d1", "hang"))  # the child sleeps an hour on it
        error = in_thread(w.result)
        assert isinstance(error, ExtractionError) and "timed out after 1 s" in str(error)
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


def test_a_document_sent_after_the_child_died_goes_to_the_next_child(worker: ExtractionWorker) -> None:
    worker.submit("d1", units("d1", "die"))
    assert worker._proc is not None and worker._proc.wait(timeout=60) == 7  # dead before d2 is sent
    worker.submit("d2", units("d2", "Acme"))  # not refused: it waits for the restart d1's crash brings
    with pytest.raises(ExtractionError, match=r"crashed \(exit code 7\)"):
        worker.result()
    assert [e.name for e in worker.result().graph.entities] == ["Acme"]


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
    big = "x" * 400_000  # each job and each reply is far larger than a pipe buffer
    worker.submit("d1", units("d1", big + "1", big + "2"))
    assert worker._conn is not None and worker._conn.poll(60)  # d1's reply has started to arrive,
    # so the child is blocked sending it (we do not read yet) when d2 comes, larger than the buffer
    assert in_thread(lambda: worker.submit("d2", units("d2", big + "3")), bound_s=60) is None
    assert [len(e.name) for e in worker.result().graph.entities] == [400_001, 400_001]
    assert [e.name[-1] for e in worker.result().graph.entities] == ["3"]


class UnloadableExtractor(EchoExtractor):
    """Encodes in the parent; rebuilding it (in the child) raises, or with ``exit`` ends the child."""

    def __init__(self, exit_code: int | None = None) -> None:
        self.exit_code = exit_code

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state["exit_code"] is not None:
            os._exit(state["exit_code"])
        raise RuntimeError("this extractor only loads in its parent")


def test_a_child_that_cannot_load_the_extractor_makes_the_worker_unavailable() -> None:
    with ExtractionWorker(UnloadableExtractor(), timeout_s=30) as w:
        with pytest.raises(
            WorkerUnavailableError, match="RuntimeError: this extractor only loads in its parent"
        ):
            w.start()
        with pytest.raises(WorkerUnavailableError, match="only loads in its parent"):
            w.submit("d1", units("d1", "Acme"))  # no second start is tried
        assert w.pid is None and w.in_flight == 0


def test_a_child_that_exits_while_starting_makes_the_worker_unavailable() -> None:
    worker = ExtractionWorker(UnloadableExtractor(exit_code=5), timeout_s=30)
    with worker, pytest.raises(WorkerUnavailableError, match=r"exited while starting \(exit code 5\)"):
        worker.submit("d1", units("d1", "Acme"))


class SlowLoadingExtractor(EchoExtractor):
    """A model that takes longer to load than a job may take; ``crash`` makes loading it crash."""

    def __init__(self, crash: bool = False) -> None:
        self.crash = crash

    def warm_up(self) -> None:
        if self.crash:
            os._exit(4)
        time.sleep(4.0)


def test_loading_the_model_is_not_on_any_jobs_clock() -> None:
    with ExtractionWorker(SlowLoadingExtractor(), timeout_s=2.0, per_unit_s=0.0) as w:
        w.submit("d1", units("d1", "Acme"))
        w.submit("d2", units("d2", "Globex"))
        assert [e.name for e in in_thread(w.result).graph.entities] == ["Acme"]
        assert [e.name for e in in_thread(w.result).graph.entities] == ["Globex"]


def test_a_child_that_dies_loading_its_model_fails_no_document_it_makes_the_worker_unavailable() -> None:
    with ExtractionWorker(SlowLoadingExtractor(crash=True), timeout_s=30) as w:
        w.submit("d1", units("d1", "Acme"))
        w.submit("d2", units("d2", "Globex"))
        for _ in range(2):  # neither is reported as a crash of its own: the caller extracts both itself
            with pytest.raises(
                WorkerUnavailableError, match=r"exited while loading its model \(exit code 4\)"
            ):
                w.result()
        with pytest.raises(WorkerUnavailableError):
            w.submit("d3", units("d3", "Initech"))


def test_an_extractor_defined_in_the_running_script_is_refused() -> None:
    scripted = type("ScriptExtractor", (EchoExtractor,), {"__module__": "__main__"})
    with pytest.raises(ExtractionError, match="defined in the running script"):
        ExtractionWorker(scripted())


@pytest.mark.slow
def test_the_child_is_its_own_program_and_never_runs_the_callers_script(tmp_path: Path) -> None:
    """A script without a main guard starts a worker twice: its body runs once (spawn ran it per start)."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from graph.extract.worker import ExtractionUnit, ExtractionWorker\n"
        "from graph.extract.spacy_extractor import SpacyGraphExtractor\n"
        "print('script body runs', flush=True)\n"
        "with ExtractionWorker(SpacyGraphExtractor(), timeout_s=120) as worker:\n"
        "    for n in range(2):\n"
        "        worker.submit(f'd{n}', [ExtractionUnit('u', f'd{n}', 'Ingrid Dahl lives in Bergen.', 1)])\n"
        "        print('entities', len(worker.result().graph.entities), flush=True)\n"
        "        worker._kill()  # the next job starts a new child\n"
    )
    repo = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("script body runs") == 1, done.stdout
    counts = [int(line.split()[1]) for line in lines if line.startswith("entities")]
    assert len(counts) == 2 and counts[0] == counts[1] > 0, done.stdout
