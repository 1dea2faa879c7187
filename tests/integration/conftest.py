"""Fixtures for integration tests: a writable copy of the sample corpus and services over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.service import Citewise


@pytest.fixture
def corpus_copy(sample_corpus_dir: Path, tmp_path: Path) -> Path:
    """A copy of data/corpus that a test may edit and delete from."""
    target = tmp_path / "corpus"
    shutil.copytree(sample_corpus_dir, target)
    return target


@pytest.fixture
def open_service(tmp_path: Path, embedder, cache_dir: Path) -> Iterator:  # type: ignore[no-untyped-def]
    """Factory of services on ``tmp_path/index`` that share the session's embedder and cache."""
    opened: list[Citewise] = []

    def make(index: Path | None = None, **overrides: object) -> Citewise:
        service = Citewise.open(index or tmp_path / "index", cache_dir=cache_dir, **overrides)
        service.__dict__["embedder"] = embedder  # reuse the loaded model; same weights as a fresh one
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    """One `citewise serve` subprocess (key required, 1 MB uploads, a watched folder) for the API tests."""
    from tests.support.api_server import start_server

    home = tmp_path_factory.mktemp("api")
    watched = home / "watched"
    watched.mkdir()
    server = start_server(home, key="test-key-1234", watched=watched, API__MAX_UPLOAD_MB="1")
    yield server
    assert server.stop() == 0, server.stderr()
