"""One process ingests; this process keeps answering questions from the same index, and a second
writer is turned away with a clear message (or waits with ``--wait``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli import ingest_main
from app.service import IndexBusyError
from tests.reliability.helpers import REPO, driver_cmd, driver_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def start_writer(index: Path, folder: Path, log: Path) -> subprocess.Popen[str]:
    """An ingest in its own process that pauses after each file, holding the write lock, until
    it reads a line on stdin (closing stdin lets it run on)."""
    with log.open("w") as err:
        return subprocess.Popen(
            driver_cmd(index, "hash", "ingest", folder),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**driver_env(), "CITEWISE_DRIVER_STEP": "1"},
            cwd=REPO,
            start_new_session=True,
        )


def next_file(proc: subprocess.Popen[str], log: Path) -> str | None:
    """Read up to the writer's next ``file`` line (it is then paused); None when it finished."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("file "):
            return line.split()[1]
    assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    return None


def resume(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_readers_answer_while_another_process_ingests(
    hash_services: Any, mixed_folder: Path, tmp_path: Path, shared_data_dir: Path
) -> None:
    index, log = tmp_path / "index", tmp_path / "writer.log"
    filing = shared_data_dir / "sec10q" / "docs" / "2023 Q2 AAPL.pdf"  # 28 pages: a longer write
    (mixed_folder / "aapl.pdf").write_bytes(filing.read_bytes())
    n_files = len(list(mixed_folder.iterdir()))
    writer = start_writer(index, mixed_folder, log)
    question = "Who founded the Skarvik Marine Institute?"
    long_lived, answers, stored = None, [], []
    try:
        while (status := next_file(writer, log)) is not None:
            assert status == "added" and writer.poll() is None  # paused mid-session, lock held
            with pytest.raises(IndexBusyError):
                hash_services(index).ingest([mixed_folder])  # the writer really holds the index
            long_lived = long_lived or hash_services(index, read_only=True)  # opened after file 1
            reader = hash_services(index, read_only=True)  # opened now, mid-write
            documents = {d.source for d in reader.documents()}
            for service in (long_lived, reader):
                hits = service.search(question, k=3).hits
                assert hits and {h.chunk.source for h in hits} <= documents
            answer = reader.ask(question, mode="extractive")
            assert answer.text and {c.source for c in answer.citations} <= documents
            answers.append(answer)
            stored.append(len(documents))
            resume(writer)
    finally:
        stop(writer)
    # One answer after every file of the write, each from the documents committed by then.
    assert len(answers) == n_files == 10
    # After the k-th file the reader sees at least k documents (the writer may be ahead by one
    # stored document whose graph is still being built); after the last, all of them.
    assert stored == sorted(stored) and stored[-1] == n_files
    assert all(seen >= k for k, seen in enumerate(stored, start=1)), stored
    # The last answer comes from the whole committed index: the founding history is among what it
    # retrieved. (Which sentences an extractive answer picks with the hash embedder, a bag of
    # hashed words, says nothing about concurrency; the UI and sec10q tests check citations with
    # the real model.)
    last = answers[-1]
    assert not last.refused and last.citations
    assert "skarvik_history.pdf" in {h.chunk.file_name for h in last.hits}
    final = hash_services(index, read_only=True)
    assert len(final.documents()) == n_files
    assert final.doctor().consistent
    print(f"CONCURRENCY answers_during_ingest={len(answers)} documents_seen={stored}")


def test_a_second_writer_is_refused_then_waits(
    hash_services: Any, mixed_folder: Path, tmp_path: Path
) -> None:
    index, log = tmp_path / "index", tmp_path / "writer.log"
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("Harbour master Nils Strand kept the Skarvik tide book.\n")
    writer = start_writer(index, mixed_folder, log)
    try:
        assert next_file(writer, log) == "added"  # paused after its first file, holding the lock
        second = hash_services(index)
        with pytest.raises(IndexBusyError, match="another citewise process is writing"):
            second.ingest([other])
        with pytest.raises(IndexBusyError):
            second.forget(mixed_folder)
        refused = CliRunner().invoke(ingest_main, [str(other), "--index", str(index)])
        assert refused.exit_code == 1
        assert "another citewise process is writing" in refused.output and "--wait" in refused.output
        assert writer.stdin is not None
        writer.stdin.close()  # the first writer runs on; the second one waits for it
        t0 = time.monotonic()
        waited = CliRunner().invoke(
            ingest_main, [str(other), "--index", str(index), "--wait", "600", "--json"]
        )
        assert waited.exit_code == 0, waited.output
        assert writer.wait(timeout=120) == 0, log.read_text()[-3000:]
        assert writer.stdout is not None and '"added": 9' in writer.stdout.read()  # the first run was whole
        assert '"added": 1' in waited.output
        print(f"CONCURRENCY second_writer_waited_s={time.monotonic() - t0:.1f}")
    finally:
        stop(writer)
    final = hash_services(index, read_only=True)
    assert len(final.documents()) == 10 and final.doctor().consistent
