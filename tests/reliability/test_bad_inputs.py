"""Hostile and broken input through the real service: every file gets a clear outcome, the rest
ingests, and the index stays consistent (real MiniLM, real isolated parser, real FAISS/BM25)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.render import report_json

pytestmark = pytest.mark.integration

GOOD = "The Vesterholm lighthouse was built in 1887 by the harbour board of Skarvik.\n"
ODD_NAMES = (
    "with space.md",
    "ünïcødé ✓ 名前.md",
    "new\nline.md",
    "-leading-dash.md",
    "semi;colon'quote\".md",
)


def build_folder(root: Path, outside: Path) -> dict[str, Path]:
    root.mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text("Outside the root: must never be read.\n")
    files = {
        "good": root / "good.md",
        "empty": root / "empty.txt",
        "binary": root / "binary.txt",
        "latin1": root / "latin1.txt",
        "huge": root / "huge.txt",
    }
    files["good"].write_text(GOOD)
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 64 + os.urandom(4096))
    files["latin1"].write_bytes("Søren Ærø wrote the café ledger in Tromsø, 1902.\n".encode("latin-1"))
    files["huge"].write_text("word " * 60_000)  # ~300 KB, over the 0.2 MB cap set below
    deep = root.joinpath(*[f"level{i}" for i in range(40)])
    deep.mkdir(parents=True)
    files["deep"] = deep / "deep.md"
    files["deep"].write_text("Forty folders down lives the Skarvik fog signal log.\n")
    for n, name in enumerate(ODD_NAMES):
        files[f"odd{n}"] = root / name
        files[f"odd{n}"].write_text(f"Odd name {n}: the Skarvik ferry timetable, entry {n}.\n")
    files["link_out"] = root / "link_out.md"
    files["link_out"].symlink_to(outside / "secret.md")
    files["link_dir_out"] = root / "outside_dir"
    files["link_dir_out"].symlink_to(outside, target_is_directory=True)
    (root / "sub").mkdir()
    files["loop"] = root / "sub" / "loop"
    files["loop"].symlink_to(root, target_is_directory=True)
    files["vanishes"] = root / "vanishes.md"
    files["vanishes"].write_text("This file is deleted after discovery, before it is parsed.\n")
    files["changes"] = root / "changes.md"
    files["changes"].write_text("This file is edited while the parser reads it.\n")
    return files


def outcomes(report: Any) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {o.path: (o.status, o.reason, o.warnings) for o in report.outcomes}


def test_every_bad_file_is_reported_and_the_rest_ingests(real_services: Any, tmp_path: Path) -> None:
    files = build_folder(tmp_path / "docs", tmp_path / "outside")
    service = real_services(ingest={"max_file_mb": 0.2})
    real_load = service.pipeline.load

    def hostile_load(path: Path) -> Any:
        if path.name == "vanishes.md":
            path.unlink()
        doc = real_load(path)
        if path.name == "changes.md":
            with open(path, "a") as fh:
                fh.write("An edit that lands while the file is being read.\n")
        return doc

    service.pipeline.load = hostile_load
    report = service.ingest([tmp_path / "docs"])
    got = outcomes(report)

    def status(key: str) -> tuple[str, str, tuple[str, ...]]:
        return got[str(files[key].resolve() if key != "link_out" else files[key])]

    assert status("good")[0] == "added"
    assert status("empty") == ("failed", "empty file (0 bytes)", ())
    assert status("binary") == ("failed", "looks binary (NUL bytes or mostly non-printable), not text", ())
    assert status("latin1") == ("added", "", ("not valid UTF-8; decoded as cp1252",))
    assert status("huge") == ("failed", "file is 0.3 MB, over the 0.2 MB limit", ())
    assert status("deep")[0] == "added"
    for n in range(len(ODD_NAMES)):
        assert status(f"odd{n}")[0] == "added", status(f"odd{n}")
    assert got[str(files["link_out"])] == (
        "skipped",
        f"symlink points outside {(tmp_path / 'docs').resolve()}",
        (),
    )
    assert got[str(files["link_dir_out"])][0] == "skipped"
    assert got[str(files["loop"])] == ("skipped", "symlink loop: folder already visited", ())
    assert status("vanishes") == ("failed", "file not found", ())
    assert status("changes") == (
        "failed",
        "file changed while being read; the next ingest reads it again",
        (),
    )

    added = {o.path for o in report.outcomes if o.status == "added"}
    assert len(added) == 3 + len(ODD_NAMES)
    texts = " ".join(c.text for c in service.store.iter_chunks("child"))
    assert "Søren Ærø" in texts and "Forty folders down" in texts
    assert "Outside the root" not in texts
    assert service.doctor().consistent

    data = json.loads(json.dumps(report_json(report)))
    by_path = {f["path"]: f for f in data["files"]}
    assert by_path[str(files["changes"].resolve())]["reason"].startswith("file changed while being read")
    assert data["summary"]["failed"] == 5 and data["summary"]["added"] == len(added)

    service.pipeline.load = real_load
    again = service.ingest([tmp_path / "docs"])  # the edited file is read again, nothing else
    assert outcomes(again)[str(files["changes"].resolve())][0] == "added"
    assert again.count("added") == 1


def test_cli_json_names_each_failure_and_exits_1(
    real_services: Any, tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import container
    from app.cli import cli

    monkeypatch.setattr(container, "build_embedder", lambda settings: embedder)
    monkeypatch.setenv("CITEWISE_GRAPH__ENABLED", "false")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text(GOOD)
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 16)
    (docs / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R")
    result = CliRunner().invoke(cli, ["ingest", str(docs), "--index", str(tmp_path / "index"), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    failed = {Path(f["path"]).name: f["reason"] for f in data["files"] if f["status"] == "failed"}
    assert set(failed) == {"binary.txt", "truncated.pdf"} and all(failed.values())
    assert data["summary"]["added"] == 1
