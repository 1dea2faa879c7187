"""State snapshots and comparisons shared by the reliability tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SMALL_PDFS = (
    "001-trivial_minimal-document.pdf",
    "004-pdflatex-4-pages_pdflatex-4-pages.pdf",
    "016-libre-office-link_libre-office-link.pdf",
)


def make_folder(target: Path, corpus: Path, shared: Path) -> Path:
    """data/corpus plus three small real PDFs, in a writable folder."""
    shutil.copytree(corpus, target)
    for name in SMALL_PDFS:
        shutil.copy(shared / "pdf-samples" / name, target / name)
    return target


def index_state(service: Any) -> dict[str, Any]:
    """What must be equal between an interrupted-and-resumed index and an uninterrupted one."""
    from app.doctor import graph_documents

    docstore = service.store.docstore
    chunks = sorted(c.id for c in docstore.iter_chunks(None))
    state: dict[str, Any] = {
        "documents": sorted(
            (r.doc_id, r.content_hash, r.n_children, r.n_entities) for r in docstore.documents()
        ),
        "chunks": chunks,
        "vectors": service.store.count(),
        "bm25_docs": sorted(service.bm25.doc_ids()),
        "bm25_chunks": len(service.bm25),
    }
    if service.settings.graph.enabled:
        graph = service.graph_store
        state["graph_stats"] = graph.stats()
        state["graph_docs"] = {d: sorted(c) for d, c in sorted((graph_documents(graph) or {}).items())}
        state["entities"] = sorted((e.id, e.name, e.type, e.aliases) for e in graph._entities())
        state["relations"] = sorted(
            (r.source_id, r.target_id, r.type, r.kind, r.weight, r.chunk_id) for r in graph._edges()
        )
    return state


def driver_cmd(index: Path, embedder: str, command: str, *paths: Path) -> list[str]:
    """The command line of one write session in its own process."""
    return [sys.executable, "-m", "tests.reliability.driver", str(index), embedder, command, *map(str, paths)]


def driver_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def run_driver(
    index: Path, embedder: str, command: str, *paths: Path, timeout: float = 300
) -> dict[str, Any]:
    """Run one write session to completion; returns its last JSON line."""
    out = subprocess.run(
        driver_cmd(index, embedder, command, *paths),
        capture_output=True,
        text=True,
        env=driver_env(),
        cwd=REPO,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
