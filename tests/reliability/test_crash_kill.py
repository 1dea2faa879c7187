"""SIGKILL an ingest at 20+ seeded random moments; every time the index opens, the doctor says
whether it is consistent (and repairs it when not), and the resumed run ends in exactly the state
of an uninterrupted one.

The ingest runs in its own process group (its parser worker dies with it). Kill moments are
drawn per trial as "after the k-th finished file, plus up to 0.4 s", so they land in every stage
of a document: parse, chunk, embed, the docstore commit, the BM25 update, the graph commit and
the docstore's graph confirmation. Between trials files are edited, removed and restored, so
kills also hit updates and prunes. Even-numbered kills are repaired with ``citewise doctor
--repair``; odd ones are left to the next ingest's reconciliation.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli import cli
from tests.reliability.helpers import REPO, driver_cmd, driver_env, index_state, run_driver

pytestmark = [pytest.mark.slow, pytest.mark.integration]

KILLS = 21
BUDGET_S = 420.0
EDITABLE = (".md", ".txt", ".html", ".pdf")


def doctor(index: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["doctor", "--index", str(index), "--json", *args])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.output)
    assert result.exit_code == (0 if report["consistent"] else 1)
    return report


def mutate(folder: Path, stash: Path, rng: random.Random, trial: int) -> None:
    """Edit a few files; sometimes remove one (pruned by the next ingest) or bring one back."""
    files = sorted(p for p in folder.iterdir() if p.suffix in EDITABLE)
    for path in rng.sample(files, k=min(len(files), rng.randint(1, 4))):
        with open(path, "ab") as fh:
            fh.write(
                f"\n% trial {trial}\n".encode()
                if path.suffix == ".pdf"
                else f"\nTrial {trial} note.\n".encode()
            )
    if rng.random() < 0.3:
        victim = rng.choice(sorted(folder.iterdir()))
        shutil.move(str(victim), stash / victim.name)
    elif rng.random() < 0.6 and any(stash.iterdir()):
        back = rng.choice(sorted(stash.iterdir()))
        shutil.move(str(back), folder / back.name)


def run_and_kill(index: Path, folder: Path, after_files: int, extra_s: float) -> tuple[bool, int]:
    """Start an ingest, SIGKILL its process group after ``after_files`` files plus ``extra_s``.

    Returns (killed, files finished). ``killed`` is False when the run ended first.
    """
    proc = subprocess.Popen(
        driver_cmd(index, "hash", "ingest", folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=driver_env(),
        cwd=REPO,
        start_new_session=True,
    )
    assert proc.stdout is not None
    done, deadline = 0, time.monotonic() + 120
    try:
        for line in proc.stdout:
            if line.startswith("file "):
                done += 1
            if (line.startswith("ready") and after_files == 0) or (
                line.startswith("file ") and done == after_files
            ):
                break
            assert time.monotonic() < deadline, "ingest made no progress in 120 s"
        time.sleep(extra_s)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    return killed, done


def assert_opens_and_searches(make_service: Any, index: Path) -> None:
    reader = make_service(index, read_only=True)
    live = {c.id for c in reader.store.docstore.iter_chunks("child")}
    hits = reader.store.search_by_vector(reader.embedder.embed_query("Skarvik harbour history"), k=5)
    assert all(c.id in live for c, _ in hits)
    assert len(hits) == min(5, len(live))
    reader.close()


def test_sigkill_at_random_moments_converges(tmp_path: Path, mixed_folder: Path, hash_services: Any) -> None:
    rng = random.Random(20240607)
    index, stash = tmp_path / "index", tmp_path / "stash"
    stash.mkdir()
    t0 = time.monotonic()
    trials: list[dict[str, Any]] = []
    while sum(t["killed"] for t in trials) < KILLS:
        assert time.monotonic() - t0 < BUDGET_S, f"over budget after {len(trials)} trials: {trials}"
        mutate(mixed_folder, stash, rng, len(trials))
        n_files = sum(1 for _ in mixed_folder.iterdir())
        after, extra = rng.randint(0, n_files - 1), rng.uniform(0.0, 0.4)
        killed, done = run_and_kill(index, mixed_folder, after, extra)
        trial: dict[str, Any] = {"killed": killed, "after_files": done, "extra_s": round(extra, 2)}
        if (index / "docstore.sqlite").exists():
            assert_opens_and_searches(hash_services, index)
            report = doctor(index)
            trial["consistent_after_kill"] = report["consistent"]
            trial["issues"] = sorted({f"{i['store']}:{i['kind']}" for i in report["issues"]})
            if killed and not report["consistent"] and sum(t["killed"] for t in trials) % 2 == 0:
                repaired = doctor(index, "--repair")
                assert repaired["consistent"], repaired
                trial["repaired_by"] = "doctor --repair"
                trial["repairs"] = len(repaired["repairs"])
        trials.append(trial)

    run_driver(index, "hash", "ingest", mixed_folder)  # the resumed run, to completion
    final = doctor(index)
    assert final["consistent"] and final["issues"] == [], final
    reference = tmp_path / "reference"
    run_driver(reference, "hash", "ingest", mixed_folder)
    resumed_state = index_state(hash_services(index, read_only=True))
    assert resumed_state == index_state(hash_services(reference, read_only=True))
    assert resumed_state["vectors"] == len(resumed_state["chunks"]) - sum(
        1 for c in hash_services(index, read_only=True).store.docstore.iter_chunks("parent")
    )

    kills = [t for t in trials if t["killed"]]
    summary = {
        "trials": len(trials),
        "kills": len(kills),
        "consistent_right_after_kill": sum(1 for t in kills if t.get("consistent_after_kill")),
        "repaired_by_doctor": sum(1 for t in kills if t.get("repaired_by")),
        "issue_kinds": sorted({k for t in kills for k in t.get("issues", [])}),
        "seconds": round(time.monotonic() - t0, 1),
        "final_documents": len(resumed_state["documents"]),
        "final_chunks": len(resumed_state["chunks"]),
        "graph": resumed_state.get("graph_stats"),
    }
    print("CRASH-SUMMARY", json.dumps(summary))
    print("CRASH-TRIALS", json.dumps(trials))
    assert len(kills) >= KILLS
    # The kills must have hit real work, not only start-up: some left the stores disagreeing.
    assert summary["consistent_right_after_kill"] < len(kills)
