"""Fixtures of the reliability suite: services (real or hash embedder), a shared spaCy extractor, folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.driver import open_service
from tests.reliability.helpers import make_folder


@pytest.fixture(scope="session")
def spacy_extractor() -> Any:
    """One real spaCy extractor for the session (the model loads once)."""
    from graph.extract.spacy_extractor import SpacyGraphExtractor

    return SpacyGraphExtractor()


@pytest.fixture
def mixed_folder(tmp_path: Path, sample_corpus_dir: Path, shared_data_dir: Path) -> Path:
    """data/corpus plus three small real PDFs, writable."""
    return make_folder(tmp_path / "docs", sample_corpus_dir, shared_data_dir)


def _service_factory(
    kind: str,
    embedder: Any,
    tmp_path: Path,
    spacy_extractor: Any,
    monkeypatch: pytest.MonkeyPatch,
    cache_dir: Path,
) -> Iterator[Any]:
    """Yield a factory of ``open_service(..., kind)`` services; close them after the test.

    ``app.container`` is patched so services the CLI opens in this process (``citewise doctor``
    through click's runner) get the same embedder and extractor. One test may not ask for both
    kinds: the second patch would hand the CLI the other embedder, and a store refuses an index
    built by another one (the doctor tests once failed that way, far from the cause).
    """
    from app import container

    other = getattr(container.build_embedder, "test_kind", kind)
    if other != kind:
        raise RuntimeError(f"one test asked for both {other!r} and {kind!r} services; use one kind")

    def build_embedder(settings: Any) -> Any:
        return embedder

    build_embedder.test_kind = kind  # type: ignore[attr-defined]
    monkeypatch.setattr(container, "build_embedder", build_embedder)
    monkeypatch.setattr(container, "build_extractor", lambda settings, llm_factory=None: spacy_extractor)
    opened: list[Any] = []

    def make(index: Path | None = None, **overrides: Any) -> Any:
        service = open_service(index or tmp_path / "index", kind, cache_dir=cache_dir, **overrides)
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()


@pytest.fixture
def hash_services(
    tmp_path: Path, spacy_extractor: Any, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> Iterator[Any]:
    """Factory of services with the hash embedder and the session's spaCy extractor.

    Only for indexes that a write session in another process built with the hash embedder
    (``tests.reliability.driver ... hash``: the crash, concurrency and state-machine tests, where
    a model load per process would dominate); a store refuses an index built by another
    embedder. The parser workers, FAISS, BM25, spaCy and SQLite stay real. Tests that write in
    this process use :func:`services` (the real MiniLM) instead.
    """
    from tests.fakes import HashEmbedder

    yield from _service_factory("hash", HashEmbedder(), tmp_path, spacy_extractor, monkeypatch, cache_dir)


@pytest.fixture
def services(
    tmp_path: Path, embedder: Any, spacy_extractor: Any, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> Iterator[Any]:
    """Factory of writable services with everything real: the session's MiniLM embedder and spaCy
    extractor, graph on (the fake LLM: nothing here asks the model)."""
    yield from _service_factory("real", embedder, tmp_path, spacy_extractor, monkeypatch, cache_dir)


@pytest.fixture
def real_services(tmp_path: Path, embedder: Any, cache_dir: Path) -> Iterator[Any]:
    """Factory of services with the session's real MiniLM embedder (graph off unless asked)."""
    from app.service import Citewise

    opened: list[Any] = []

    def make(index: Path | None = None, **overrides: Any) -> Any:
        overrides.setdefault("graph", {"enabled": False})
        overrides.setdefault("llm", {"backend": "fake", "answer_mode": "extractive"})
        service = Citewise.open(index or tmp_path / "index", cache_dir=cache_dir, **overrides)
        service.__dict__["embedder"] = embedder
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()
