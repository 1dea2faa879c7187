"""A write session run in its own process, for tests that kill it or race it.

    python -m tests.reliability.driver INDEX (hash|real) ingest FOLDER...
    python -m tests.reliability.driver INDEX (hash|real) forget PATH

Prints ``ready`` once imports are done and the service is open, then one ``file <status>`` line
per file, then the report summary as JSON. ``hash`` uses the deterministic hash embedder (the
invariants under test are about bookkeeping); everything else is real: isolated parser
workers, FAISS, BM25, the spaCy graph extractor, the SQLite stores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def open_service(index: Path, embedder: str, *, cache_dir: Path | None = None, **overrides: Any) -> Any:
    """A writable service on ``index`` with the hash or the bundled embedder and the fake LLM."""
    from app.service import Citewise

    overrides.setdefault("llm", {"backend": "fake", "answer_mode": "extractive"})
    service = Citewise.open(index, cache_dir=cache_dir or index.parent / "cache", **overrides)
    if embedder == "hash":
        from tests.fakes import HashEmbedder

        service.__dict__["embedder"] = HashEmbedder()
    return service


def main(argv: list[str]) -> int:
    index, embedder, command, *paths = argv
    service = open_service(Path(index), embedder)

    def progress(event: str, data: dict[str, Any]) -> None:
        if event == "file":
            print(f"file {data['outcome'].status}", flush=True)

    print("ready", flush=True)
    if command == "ingest":
        report = service.ingest(paths, prune=True, progress=progress)
        print(json.dumps(report.summary()), flush=True)
    elif command == "forget":
        print(json.dumps({"forgot": service.forget(paths[0])}), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}: use ingest or forget")
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
