"""The `ingest` and `citewise` commands as a user runs them (installed console scripts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # CITEWISE_CACHE_DIR: the session's cache (conftest)
    return subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_ingest_json_exit_codes_status_and_forget(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx"
    (corpus_copy / "junk.txt").write_bytes(b"\x00\x01\x02" * 2000)
    done = run(
        str(BIN / "ingest"), str(corpus_copy), "--index", str(index), "--no-graph", "--json", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr  # one file failed
    report = json.loads(done.stdout)
    failed = [f for f in report["files"] if f["status"] == "failed"]
    assert [Path(f["path"]).name for f in failed] == ["junk.txt"] and failed[0]["reason"]
    added = report["summary"]["added"]
    corpus_files = sorted(p.name for p in corpus_copy.iterdir() if p.name != "junk.txt")
    assert len(corpus_files) == 6 and added == 6 and report["embedded"] > 0
    assert sorted(Path(f["path"]).name for f in report["files"] if f["status"] == "added") == corpus_files

    (corpus_copy / "junk.txt").unlink()
    again = run(
        str(BIN / "ingest"), str(corpus_copy), "--index", str(index), "--no-graph", "--json", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["summary"] == {
        "added": 0,
        "updated": 0,
        "unchanged": added,
        "removed": 0,
        "failed": 0,
        "skipped": 0,
    }

    status = run(str(BIN / "citewise"), "status", "--index", str(index), "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    stats = json.loads(status.stdout)["stats"]
    assert stats["documents"] == added and stats["vectors"] == stats["children"] > 0

    victim = sorted(p for p in corpus_copy.iterdir() if p.suffix == ".html")[0]
    forgot = run(str(BIN / "citewise"), "forget", str(victim), "--index", str(index), cwd=tmp_path)
    assert forgot.returncode == 0 and str(victim.resolve()) in forgot.stdout
    status = json.loads(
        run(str(BIN / "citewise"), "status", "--index", str(index), "--json", cwd=tmp_path).stdout
    )
    assert status["stats"]["documents"] == added - 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run(str(BIN / "ingest"), cwd=tmp_path).returncode == 2
    assert run(str(BIN / "ingest"), "x", "--bogus", cwd=tmp_path).returncode == 2


def test_ask_without_an_index_is_a_clear_error(tmp_path: Path) -> None:
    done = run(str(BIN / "citewise"), "ask", "anything?", "--index", str(tmp_path / "none"), cwd=tmp_path)
    assert done.returncode == 1
    assert "no index at" in done.stderr and "Traceback" not in done.stderr


def test_graph_commands_read_the_index_named_by_index(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx"
    people = corpus_copy / "people_of_vesterholm.md"
    done = run(str(BIN / "ingest"), str(people), "--index", str(index), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = run(
        str(BIN / "citewise"), "graph", "--index", str(index), "entity", "Halvorsen", "--json", cwd=tmp_path
    )
    assert found.returncode == 0, found.stderr
    entity = json.loads(found.stdout)["entities"][0]
    assert entity["name"] == "Ingrid Halvorsen" and "Halvorsen" in entity["aliases"]
    path = run(
        str(BIN / "citewise"),
        "graph",
        "--index",
        str(index),
        "path",
        "Ingrid Halvorsen",
        "Aksel Brandt",
        "--json",
        cwd=tmp_path,
    )
    assert path.returncode == 0, path.stderr
    assert {e["name"] for e in json.loads(path.stdout)["entities"]} >= {"Ingrid Halvorsen", "Aksel Brandt"}


def test_graph_subcommands_take_index_after_the_subcommand(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx"
    people = corpus_copy / "people_of_vesterholm.md"
    assert run(str(BIN / "ingest"), str(people), "--index", str(index), cwd=tmp_path).returncode == 0
    before = run(str(BIN / "citewise"), "graph", "--index", str(index), "stats", "--json", cwd=tmp_path)
    after = run(str(BIN / "citewise"), "graph", "stats", "--index", str(index), "--json", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)["stats"]["documents"] == 1
    assert json.loads(after.stdout)["stats"]["entities"] > 0
    found = run(
        str(BIN / "citewise"), "graph", "neighbors", "Ingrid Halvorsen", "--index", str(index), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert "Ingrid Halvorsen" in {e["name"] for e in json.loads(found.stdout)["entities"]}
    # A wrong index after the subcommand is used, not silently replaced by the default one.
    missing = run(str(BIN / "citewise"), "graph", "stats", "--index", str(tmp_path / "none"), cwd=tmp_path)
    assert missing.returncode == 1 and "no index at" in missing.stderr


def test_every_command_takes_index_after_its_name() -> None:
    import click

    from app.cli import cli

    def leaves(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        out: list[tuple[str, click.Command]] = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                out += leaves(command, f"{prefix}{name} ")
            else:
                out.append((f"{prefix}{name}", command))
        return out

    commands = leaves(cli, "")
    assert {"ask", "ingest", "graph stats", "graph path", "graph export", "eval"} <= {n for n, _ in commands}
    lacking = [name for name, cmd in commands if not any("--index" in p.opts for p in cmd.params)]
    assert lacking == []
