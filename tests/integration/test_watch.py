"""Folder sync with real watchdog events, the real service (MiniLM, FAISS, BM25) and real files.

Waiting is on the watcher's own sync reports (a queue), with deadlines far above the few seconds
a sync takes: they only turn a hang into a failure. How fast a change becomes searchable is
measured by bench/api.py, not asserted here.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.service import Citewise
from app.watch import FolderWatcher, SyncReport

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEADLINE_S = 120.0


class Syncs:
    """Collects the watcher's reports and waits for one that satisfies a condition."""

    def __init__(self) -> None:
        self.reports: queue.Queue[SyncReport] = queue.Queue()
        self.seen: list[SyncReport] = []

    def __call__(self, report: SyncReport) -> None:
        self.reports.put(report)

    def wait_for(self, condition: Callable[[SyncReport], bool], what: str) -> SyncReport:
        end = time.monotonic() + DEADLINE_S
        while True:
            try:
                report = self.reports.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no sync {what} within {DEADLINE_S:.0f}s; saw {self.seen}") from None
            assert not report.error, report.error
            self.seen.append(report)
            if condition(report):
                return report

    def ingests_of(self, path: Path) -> int:
        """How many syncs actually (re-)indexed ``path`` (unchanged files cost nothing and are not counted)."""
        return sum(
            1
            for r in self.seen
            for o in (r.ingested.outcomes if r.ingested else [])
            if o.path == str(path.resolve()) and o.status in ("added", "updated")
        )


def ingested(path: Path, status: str) -> Callable[[SyncReport], bool]:
    target = str(path.resolve())
    return lambda r: any(
        o.path == target and o.status == status for o in (r.ingested.outcomes if r.ingested else [])
    )


def forgot(path: Path) -> Callable[[SyncReport], bool]:
    return lambda r: str(path.resolve()) in r.forgotten


def names(service: Citewise) -> set[str]:
    return {d.file_name for d in service.documents()}


def best_text(service: Citewise, query: str) -> str:
    hits = service.search(query, k=1, graph=False).hits
    return hits[0].chunk.text if hits else ""


@pytest.fixture
def watched(tmp_path: Path, open_service: Any) -> Iterator[tuple[Citewise, Path, Syncs]]:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "start.md").write_text("# Start\n\nThe ferry to Brennøy leaves at dawn.\n")
    service = open_service(graph={"enabled": False})
    syncs = Syncs()
    watcher = FolderWatcher(service, [folder], debounce_s=0.3, on_sync=syncs)
    first = watcher.start()
    assert first is not None and first.ingested is not None and first.ingested.count("added") == 1
    try:
        yield service, folder, syncs
    finally:
        watcher.stop()


def test_created_edited_renamed_and_deleted_files_follow_into_search(
    watched: tuple[Citewise, Path, Syncs],
) -> None:
    service, folder, syncs = watched
    note = folder / "crane.md"
    note.write_text("# Crane\n\nThe zanthrope crane lifts forty tonnes.\n")
    syncs.wait_for(ingested(note, "added"), "adding crane.md")
    assert "zanthrope" in best_text(service, "zanthrope crane")

    note.write_text("# Crane\n\nThe quilvarn crane lifts sixty tonnes.\n")
    syncs.wait_for(ingested(note, "updated"), "updating crane.md")
    assert "quilvarn" in best_text(service, "quilvarn crane")
    assert "zanthrope" not in best_text(service, "zanthrope crane")

    renamed = folder / "sub" / "lifting.md"
    renamed.parent.mkdir()
    note.rename(renamed)
    syncs.wait_for(lambda r: names(service) == {"start.md", "lifting.md"}, "the rename")
    hits = service.search("quilvarn crane", k=1, graph=False).hits
    assert hits[0].chunk.file_name == "lifting.md"

    renamed.unlink()
    syncs.wait_for(forgot(renamed), "forgetting lifting.md")
    assert names(service) == {"start.md"}
    assert "quilvarn" not in best_text(service, "quilvarn crane")


def test_a_burst_of_50_saves_is_ingested_at_most_twice(watched: tuple[Citewise, Path, Syncs]) -> None:
    service, folder, syncs = watched
    target = folder / "draft.md"
    for i in range(50):  # an editor saving over and over
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(f"# Draft\n\nRevision {i} of the harbour plan names the skerry Vornholm{i}.\n")
    final = "Vornholm49"
    syncs.wait_for(
        lambda r: final.lower() in best_text(service, final).lower(), "the last save to be searchable"
    )
    assert 1 <= syncs.ingests_of(target) <= 2, syncs.seen
    assert [d.n_children for d in service.documents() if d.file_name == "draft.md"] == [1]


def test_ingest_watch_command_follows_a_folder_until_stopped(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nThe first note about the lighthouse.\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CITEWISE_CACHE_DIR": str(tmp_path / "cache"),
           "CITEWISE_API__WATCH_DEBOUNCE_S": "0.3"}  # fmt: skip
    cmd = [str(Path(sys.executable).parent / "ingest"), str(folder), "--index", str(tmp_path / "idx"),
           "--no-graph", "--watch"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    out, err = _lines(proc.stdout), _lines(proc.stderr)
    try:
        _expect(err, "watching", str(folder.resolve()))  # the first ingest is done, events are observed
        (folder / "b.md").write_text("# B\n\nA second note about the harbour.\n")
        _expect(out, "added", "b.md")
        (folder / "a.md").unlink()
        _expect(out, "removed", "a.md")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 0
    _expect(err, "stopped watching", "")


def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _expect(lines: queue.Queue[str], first: str, second: str) -> None:
    end = time.monotonic() + DEADLINE_S
    seen = []
    while True:
        try:
            line = lines.get(timeout=max(0.1, end - time.monotonic()))
        except queue.Empty:
            raise AssertionError(
                f"`ingest --watch` never printed {first!r} with {second!r}; saw {seen}"
            ) from None
        seen.append(line)
        if first in line and second in line:
            return
