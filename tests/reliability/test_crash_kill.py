"""SIGKILL an ingest at every write step, chosen by count rather than by time; every time the index
opens, the doctor says whether it is consistent (and repairs it when not), and the resumed run
ends in exactly the state of an uninterrupted one.

The ingest runs in its own process group (its parser worker dies with it). The driver counts the
write steps of its session (``tests.reliability.driver.CHECKPOINTS``: parse, chunk, embed, the
docstore transaction, the BM25 update and its files, the graph commit, the docstore's graph
confirmation, the FAISS save and the manifest) and SIGKILLs its process group when the chosen
step starts for the chosen time. Steps are taken in turn until each has been killed once, then
at random; the occurrence is random within what a finished run did. Between trials files are
edited, removed and restored, so kills also hit updates, prunes and the next run's repair of the
last kill. Even-numbered kills are repaired with ``citewise doctor --repair``; odd ones are left to
the next ingest's reconciliation.
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
from tests.reliability.driver import CHECKPOINTS
from tests.reliability.helpers import REPO, driver_cmd, driver_env, index_state, run_driver

pytestmark = [pytest.mark.slow, pytest.mark.integration]

KILLS = 21
MAX_TRIALS = 3 * KILLS  # trials whose run ends before its target are retried; this many means a bug
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


def run_and_kill(index: Path, folder: Path, kill_at: str) -> tuple[str | None, dict[str, int]]:
    """Run an ingest that SIGKILLs itself when the write step ``kill_at`` (``STEP#N``) starts.

    Returns (the step it was killed at, or None when the run finished first; the step counts of a
    finished run).
    """
    proc = subprocess.Popen(
        driver_cmd(index, "hash", "ingest", folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**driver_env(), "CITEWISE_DRIVER_KILL_AT": kill_at},
        cwd=REPO,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=600)  # a bound for a hung session, far above a run's time
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    killed = next((line.split()[1] for line in out.splitlines() if line.startswith("kill ")), None)
    if killed is not None:
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, out[-2000:])
        return killed, {}
    assert proc.returncode == 0, out[-2000:]
    return None, checkpoint_counts(out)


def checkpoint_counts(out: str) -> dict[str, int]:
    line = next(line for line in out.splitlines() if line.startswith("checkpoints "))
    counts: dict[str, int] = json.loads(line.removeprefix("checkpoints "))
    return counts


def assert_opens_and_searches(make_service: Any, index: Path) -> None:
    reader = make_service(index, read_only=True)
    live = {c.id for c in reader.store.docstore.iter_chunks("child")}
    hits = reader.store.search_by_vector(reader.embedder.embed_query("Skarvik harbour history"), k=5)
    assert all(c.id in live for c, _ in hits)
    assert len(hits) == min(5, len(live))
    reader.close()


def test_sigkill_at_every_write_step_converges(
    tmp_path: Path, mixed_folder: Path, hash_services: Any
) -> None:
    rng = random.Random(20240607)
    index, stash = tmp_path / "index", tmp_path / "stash"
    stash.mkdir()
    calibration = tmp_path / "calibration"
    out = subprocess.run(
        driver_cmd(calibration, "hash", "ingest", mixed_folder),
        capture_output=True, text=True, env=driver_env(), cwd=REPO, timeout=600, check=True,
    )  # fmt: skip
    steps = sorted(checkpoint_counts(out.stdout))
    assert set(steps) == {name for name, _, _ in CHECKPOINTS}, steps  # an ingest runs every step
    fewest = dict(checkpoint_counts(out.stdout))  # per step, the fewest times a finished run did it
    untried = list(steps)
    t0 = time.monotonic()
    trials: list[dict[str, Any]] = []
    while sum(t["killed"] for t in trials) < KILLS:
        assert len(trials) < MAX_TRIALS, f"only {sum(t['killed'] for t in trials)} kills: {trials}"
        mutate(mixed_folder, stash, rng, len(trials))
        step = untried[0] if untried else rng.choice(steps)
        target = f"{step}#{rng.randint(1, fewest[step])}"
        killed_at, counts = run_and_kill(index, mixed_folder, target)
        for name, n in counts.items():
            fewest[name] = max(1, min(fewest[name], n))
        if killed_at is not None and step in untried:
            untried.remove(step)
        trial: dict[str, Any] = {"target": target, "killed": killed_at is not None}
        if (index / "docstore.sqlite").exists():
            assert_opens_and_searches(hash_services, index)
            report = doctor(index)
            trial["consistent_after_kill"] = report["consistent"]
            trial["issues"] = sorted({f"{i['store']}:{i['kind']}" for i in report["issues"]})
            if killed_at and not report["consistent"] and sum(t["killed"] for t in trials) % 2 == 0:
                repaired = doctor(index, "--repair")
                assert repaired["consistent"], repaired
                trial["repaired_by"] = "doctor --repair"
                trial["repairs"] = len(repaired["repairs"])
        trials.append(trial)
    assert not untried, f"write steps never reached: {untried}"

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
        "killed_steps": sorted({t["target"].split("#")[0] for t in kills}),
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
