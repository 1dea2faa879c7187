"""Ingest through the service on real files: round trip, incremental updates, prune, bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.integration

QUERY = "Who founded the institute?"


def dense_hits(service, query: str = QUERY, k: int = 8) -> list[tuple[str, float]]:
    return [(d.id, float(s)) for d, s in service.store.similarity_search_with_score(query, k=k)]


def assert_same_hits(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> None:
    assert [i for i, _ in a] == [i for i, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=0, atol=1e-6)


def chunk_ids_by_doc(service) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in service.store.iter_chunks(None):
        out.setdefault(c.source, set()).add(c.id)
    return out


def test_round_trip_in_a_new_process(open_service, corpus_copy: Path, tmp_path: Path) -> None:
    service = open_service(graph={"enabled": False})
    report = service.ingest([corpus_copy])
    assert report.failed == [], report.failed
    assert report.count("added") == len(list(p for p in corpus_copy.rglob("*") if p.is_file()))
    before = dense_hits(service)
    assert len(before) == 8
    code = (
        "import json, sys\n"
        "from app.service import Citewise\n"
        f"s = Citewise.open({str(tmp_path / 'index')!r}, read_only=True)\n"
        f"print(json.dumps([(d.id, float(x)) for d, x in s.store.similarity_search_with_score({QUERY!r}, k=8)]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert_same_hits([tuple(h) for h in json.loads(out.stdout.strip().splitlines()[-1])], before)


def test_unchanged_edited_and_pruned(open_service, corpus_copy: Path) -> None:
    service = open_service(graph={"enabled": False})
    first = service.ingest([corpus_copy])
    n_files = first.count("added")
    assert n_files == 6 == len(list(corpus_copy.iterdir())) and not first.failed and first.embedded > 0
    ids_before = chunk_ids_by_doc(service)

    calls: list[int] = []
    real = service.embedder.embed_batch
    service.embedder.embed_batch = lambda texts: calls.append(len(texts)) or real(texts)  # type: ignore[method-assign]
    try:
        again = service.ingest([corpus_copy])
        assert again.count("unchanged") == n_files and again.embedded == 0 and calls == []

        edited = sorted(corpus_copy.glob("*.md"))[0]
        edited.write_text(edited.read_text() + "\n\nA new closing paragraph about glacier melt in 2031.\n")
        third = service.ingest([corpus_copy])
        assert third.summary()["updated"] == 1 and third.count("unchanged") == n_files - 1
        ids_after = chunk_ids_by_doc(service)
        assert ids_after[str(edited.resolve())] != ids_before[str(edited.resolve())]
        for source, ids in ids_before.items():
            if source != str(edited.resolve()):
                assert ids_after[source] == ids  # untouched documents keep their chunks
        # the edited file's child chunks, plus its one document profile
        assert (
            sum(calls) - 1
            == third.embedded
            == len([c for c in service.store.iter_chunks("child") if c.source == str(edited.resolve())])
        )
        assert any("glacier melt in 2031" in c.text for c in service.store.iter_chunks("child"))
    finally:
        service.embedder.embed_batch = real  # type: ignore[method-assign]

    gone = sorted(corpus_copy.glob("*.txt"))[0]
    gone.unlink()
    fourth = service.ingest([corpus_copy], prune=True)
    assert [o.path for o in fourth.outcomes if o.status == "removed"] == [str(gone.resolve())]
    assert str(gone.resolve()) not in chunk_ids_by_doc(service)
    assert service.stats()["documents"] == n_files - 1
    assert all(
        c.source != str(gone.resolve())
        for c, _ in service.store.search_by_vector(service.embedder.embed_query(QUERY), k=50)
    )


def test_stale_faiss_file_is_rebuilt_from_the_docstore(
    open_service, corpus_copy: Path, tmp_path: Path
) -> None:
    service = open_service(graph={"enabled": False})
    service.ingest([corpus_copy])
    before = dense_hits(service)
    service.close()
    (tmp_path / "index" / "vectors.faiss").unlink()
    reopened = open_service(graph={"enabled": False})
    assert_same_hits(dense_hits(reopened), before)
    reopened.close()
    stamp = tmp_path / "index" / "vectors.json"
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "generation": -5}))
    third = open_service(graph={"enabled": False}, read_only=True)
    assert_same_hits(dense_hits(third), before)


def test_bad_files_are_reported_and_the_rest_ingests(open_service, corpus_copy: Path) -> None:
    service = open_service(graph={"enabled": False})
    service.ingest([corpus_copy])
    before = dense_hits(service)
    (corpus_copy / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (corpus_copy / "empty.md").write_text("")
    (corpus_copy / "notes.xyz").write_text("unsupported")
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer\n%%EOF")
    report = service.ingest([corpus_copy])
    reasons = {
        Path(o.path).name: (o.status, o.reason) for o in report.outcomes if o.status in ("failed", "skipped")
    }
    assert set(reasons) == {"binary.txt", "empty.md", "notes.xyz", "broken.pdf"}
    assert reasons["notes.xyz"][0] == "skipped" and ".xyz" in reasons["notes.xyz"][1]
    assert all(
        status == "failed" and reason for name, (status, reason) in reasons.items() if name != "notes.xyz"
    )
    assert_same_hits(dense_hits(service), before)  # nothing already stored was lost
