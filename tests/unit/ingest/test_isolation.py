"""Isolated parsing: timeouts, the memory cap, crashes, recovery, size caps, and real documents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.base import LoaderError, UnsupportedFileError
from ingest.isolation import ParserPool, load_isolated
from ingest.loaders import load_document, register, unregister
from tests.unit.ingest.hostile_loaders import (
    ChattyLoader,
    CrashingLoader,
    GreedyLoader,
    SleepyLoader,
    started_marker,
)

LIMITS = {"timeout_s": 60.0, "memory_mb": 1024}


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    """One worker shared by the module's tests, started before any timing is measured."""
    with ParserPool(size=1) as shared:
        shared.warm_up()
        yield shared


@pytest.fixture(scope="module", autouse=True)
def hostile_loaders() -> Iterator[None]:
    loaders = [SleepyLoader(), GreedyLoader(), CrashingLoader(), ChattyLoader()]
    for loader in loaders:
        register(loader)
    yield
    for loader in loaders:
        unregister(loader.suffixes[0])


def touch(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("content that the hostile loaders ignore")
    return path


def test_corpus_documents_match_in_process_loading(pool: ParserPool, sample_corpus_dir: Path) -> None:
    for name in ("skarvik_history.pdf", "annual_report_1938.docx"):
        path = sample_corpus_dir / name
        assert load_isolated(path, pool=pool, **LIMITS) == load_document(path)


def test_timeout_kills_the_worker_and_the_pool_recovers(
    pool: ParserPool, tmp_path: Path, sample_corpus_dir: Path
) -> None:
    start = time.monotonic()
    with pytest.raises(LoaderError) as err:
        load_isolated(touch(tmp_path, "stuck.sleepy"), timeout_s=1.0, memory_mb=1024, pool=pool)
    elapsed = time.monotonic() - start
    assert err.value.reason == "timed out after 1s"
    # Never before the limit; far less than the parser's 120 s sleep however slow the machine.
    assert 1.0 <= elapsed < 60.0
    doc = load_isolated(sample_corpus_dir / "skarvik_history.pdf", pool=pool, **LIMITS)
    assert doc.pages == 4


def test_memory_cap(pool: ParserPool, tmp_path: Path, sample_corpus_dir: Path) -> None:
    with pytest.raises(LoaderError) as err:
        load_isolated(touch(tmp_path, "hog.greedy"), timeout_s=60.0, memory_mb=512, pool=pool)
    assert err.value.reason == "exceeded memory cap (512 MB)"
    doc = load_isolated(sample_corpus_dir / "annual_report_1938.docx", pool=pool, **LIMITS)
    assert doc.author == "Ingrid Halvorsen"


def test_crash_is_reported_and_the_pool_recovers(
    pool: ParserPool, tmp_path: Path, sample_corpus_dir: Path
) -> None:
    with pytest.raises(LoaderError) as err:
        load_isolated(touch(tmp_path, "boom.crashy"), pool=pool, **LIMITS)
    assert err.value.reason == "parser worker crashed (exit code 7)"
    assert load_isolated(sample_corpus_dir / "skarvik_history.pdf", pool=pool, **LIMITS).pages == 4


def test_worker_is_reused_between_files(pool: ParserPool, tmp_path: Path) -> None:
    first = load_isolated(touch(tmp_path, "a.chatty"), pool=pool, **LIMITS)
    second = load_isolated(touch(tmp_path, "b.chatty"), pool=pool, **LIMITS)
    assert first.text.startswith("pid ") and first.text == second.text  # same process, stray print ignored


def test_loader_errors_come_back_with_their_reason(pool: ParserPool, tmp_path: Path) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_text("not a pdf at all")
    with pytest.raises(LoaderError) as err:
        load_isolated(fake, pool=pool, **LIMITS)
    assert str(err.value) == f"{fake}: not a PDF file (no %PDF- header)"
    with pytest.raises(UnsupportedFileError):
        load_isolated(tmp_path / "notes.xyz", pool=pool, **LIMITS)


def test_size_cap_rejects_before_parsing(pool: ParserPool, tmp_path: Path) -> None:
    big = tmp_path / "big.sleepy"
    big.write_bytes(b"x" * 200_000)
    with pytest.raises(LoaderError) as err:
        load_isolated(big, pool=pool, max_file_mb=0.1, **LIMITS)
    assert err.value.reason == "file is 0.2 MB, over the 0.1 MB limit"
    assert not started_marker(big).exists()  # the sleepy parser never ran


def test_small_text_files_load_in_process(tmp_path: Path) -> None:
    closed = ParserPool()
    closed.close()  # any use of this pool would raise RuntimeError
    note = tmp_path / "note.md"
    note.write_text("# Title\nbody")
    assert load_isolated(note, pool=closed, **LIMITS).title == "Title"
    with pytest.raises(RuntimeError, match="closed"):
        load_isolated(touch(tmp_path, "x.chatty"), pool=closed, **LIMITS)


def test_limits_pass_through(pool: ParserPool, sample_corpus_dir: Path) -> None:
    doc = load_isolated(
        sample_corpus_dir / "skarvik_history.pdf", pool=pool, max_pages=2, max_chars=300, **LIMITS
    )
    assert [b.page for b in doc.blocks] == [1]
    assert len(doc.text) == 300
    assert doc.warnings == ("read 2 of 4 pages (max_pages=2)", "text truncated at max_chars=300")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"timeout_s": 0, "memory_mb": 1024}, "timeout_s"), ({"timeout_s": 1, "memory_mb": 10}, "memory_mb")],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_isolated(touch(tmp_path, "a.pdf"), **kwargs)  # type: ignore[arg-type]


def test_job_limits_are_set_and_lifted() -> None:
    import resource

    from ingest.isolation import _job_limits

    before = (resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU))
    used = resource.getrusage(resource.RUSAGE_SELF)
    with _job_limits(1_000_000, 5.0):  # a 1 TB cap: harmless to this test process
        assert resource.getrlimit(resource.RLIMIT_AS)[0] == 1_000_000 * 1024 * 1024
        cpu_soft = resource.getrlimit(resource.RLIMIT_CPU)[0]
        assert used.ru_utime + used.ru_stime + 5 < cpu_soft <= used.ru_utime + used.ru_stime + 37
    assert (resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)) == before
