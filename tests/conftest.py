"""Fixtures shared by the whole suite: the real embedder, the sample corpus, the shared data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def sample_corpus_dir() -> Path:
    """The sample corpus we wrote (data/corpus)."""
    path = REPO / "data" / "corpus"
    assert path.is_dir(), f"sample corpus missing at {path}"
    return path


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Public evaluation data (CITEWISE_SHARED_DATA, default ../shared/data next to the repo)."""
    path = Path(os.environ.get("CITEWISE_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
    assert path.is_dir(), f"shared data missing at {path}: set CITEWISE_SHARED_DATA"
    return path


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real bundled all-MiniLM-L6-v2 embedder, loaded once per test session."""
    from retrieval.embeddings.sentence_transformer_embedder import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up"])
    return emb


@pytest.fixture
def hash_embedder():  # type: ignore[no-untyped-def]
    """A deterministic fake embedder for unit tests of logic around embeddings."""
    from tests.fakes import HashEmbedder

    return HashEmbedder()


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's cache folder (assembled GGUF, distilled static model), under pytest's tmp tree.

    Shared by every test, so the static model is distilled once per session (about 15 s); exported
    as ``CITEWISE_CACHE_DIR`` so services opened without ``cache_dir`` and the processes tests start
    use it too, and nothing is written to ``./data/cache`` or ``~/.cache``.
    """
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITEWISE_CACHE_DIR", str(path))
        mp.setenv("CITEWISE_STATIC_CACHE", str(path / "static"))  # StaticEmbedder used directly
        yield path


def _repository_files() -> set[Path]:
    """Files under data/ and at the top of the repository (where a stray default path would write)."""
    return {p for p in (REPO / "data").rglob("*") if p.is_file()} | {p for p in REPO.iterdir() if p.is_file()}


@pytest.fixture(scope="session", autouse=True)
def nothing_written_into_the_repository() -> Iterator[None]:
    """Fail the session if a test wrote into the repository (``./data/cache``, ``./data/index``...)."""
    before = _repository_files()
    yield
    added = sorted(str(p.relative_to(REPO)) for p in _repository_files() - before)
    assert not added, f"tests wrote into the repository instead of tmp_path: {added[:10]}"
