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


def start_writer(index: Path, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        driver_cmd(index, "hash", "ingest", folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=driver_env(),
        cwd=REPO,
        start_new_session=True,
    )


def wait_for_first_file(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("file "):
            return
    raise AssertionError(f"writer ended before its first file: {proc.stderr.read() if proc.stderr else ''}")


def test_readers_answer_while_another_process_ingests(
    hash_services: Any, mixed_folder: Path, tmp_path: Path, shared_data_dir: Path
) -> None:
    index = tmp_path / "index"
    filing = shared_data_dir / "sec10q" / "docs" / "2023 Q2 AAPL.pdf"  # 28 pages: a longer write
    (mixed_folder / "aapl.pdf").write_bytes(filing.read_bytes())
    writer = start_writer(index, mixed_folder)
    try:
        wait_for_first_file(writer)
        reader = hash_services(index, read_only=True)
        answers, searches, seen_docs = 0, 0, set()
        while writer.poll() is None:
            result = reader.search("Who founded the institute in Skarvik?", k=3)
            searches += 1
            seen_docs |= {h.chunk.doc_id for h in result.hits}
            answer = reader.ask("Who founded the institute in Skarvik?", mode="extractive")
            assert answer.text
            assert {c.source for c in answer.citations} <= {d.source for d in reader.documents()}
            answers += 1
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait()
    assert answers >= 3 and searches >= 3, (answers, searches)
    final = hash_services(index, read_only=True)
    assert len(final.documents()) == 10
    assert final.doctor().consistent
    print(f"CONCURRENCY answers_during_ingest={answers} docs_seen={len(seen_docs)}")


def test_a_second_writer_is_refused_then_waits(
    hash_services: Any, mixed_folder: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("Harbour master Nils Strand kept the Skarvik tide book.\n")
    writer = start_writer(index, mixed_folder)
    try:
        wait_for_first_file(writer)
        second = hash_services(index)
        with pytest.raises(IndexBusyError, match="another citewise process is writing"):
            second.ingest([other])
        with pytest.raises(IndexBusyError):
            second.forget(mixed_folder)
        refused = CliRunner().invoke(ingest_main, [str(other), "--index", str(index)])
        assert refused.exit_code == 1
        assert "another citewise process is writing" in refused.output and "--wait" in refused.output
        t0 = time.monotonic()
        waited = CliRunner().invoke(
            ingest_main, [str(other), "--index", str(index), "--wait", "180", "--json"]
        )
        assert waited.exit_code == 0, waited.output
        assert writer.wait(timeout=60) == 0
        assert writer.stdout is not None and '"added": 9' in writer.stdout.read()  # the first run was whole
        assert '"added": 1' in waited.output
        print(f"CONCURRENCY second_writer_waited_s={time.monotonic() - t0:.1f}")
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait()
    final = hash_services(index, read_only=True)
    assert len(final.documents()) == 10 and final.doctor().consistent
