"""The API's guards as plain functions: loopback binding, the bearer key, the ingest roots, the queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.api.errors import ApiError
from app.api.runtime import GenerationQueue, QueueFullError
from app.api.security import check_bind, inside_roots, is_loopback, key_matches


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "localhost", "::1", "[::1]", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, "")  # no key needed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.org", ""])
def test_other_hosts_need_a_key(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="without an API key"):
        check_bind(host, "")
    check_bind(host, "s3cret")


def test_bearer_key_matching() -> None:
    assert key_matches("Bearer s3cret", "s3cret")
    assert key_matches("bearer s3cret", "s3cret")
    assert not key_matches("Bearer s3cre", "s3cret")
    assert not key_matches("Basic s3cret", "s3cret")
    assert not key_matches("s3cret", "s3cret")
    assert not key_matches(None, "s3cret")
    assert not key_matches("", "s3cret")


def test_paths_inside_roots(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.md").write_text("x")
    assert inside_roots(str(root / "sub" / "a.md"), [root]) == (root / "sub" / "a.md").resolve()
    assert inside_roots("sub/a.md", [root]) == (root / "sub" / "a.md").resolve()  # relative to the root
    assert inside_roots(str(root), [root]) == root.resolve()


@pytest.mark.parametrize("raw", ["../etc/passwd", "sub/../../x", "/x/../y", ""])
def test_dotdot_and_empty_paths_are_400(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ApiError) as err:
        inside_roots(raw, [tmp_path])
    assert err.value.status == 400 and err.value.param == "paths"


def test_outside_roots_and_symlinks_out_are_403(tmp_path: Path) -> None:
    root, outside = tmp_path / "docs", tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "link").symlink_to(outside)
    for raw in (str(outside / "secret.txt"), "/etc/passwd", str(root / "link" / "secret.txt")):
        with pytest.raises(ApiError) as err:
            inside_roots(raw, [root])
        assert err.value.status == 403 and "outside" in err.value.message
    with pytest.raises(ApiError) as err:
        inside_roots(str(root), [])
    assert err.value.status == 403 and "CITEWISE_ROOTS" in err.value.message


def test_generation_queue_admits_slots_and_bounds_waiting() -> None:
    async def scenario() -> list[str]:
        queue = GenerationQueue(1, max_waiting=1)
        order: list[str] = []
        release = asyncio.Event()

        async def job(name: str) -> None:
            async with queue.slot():
                order.append(f"{name} start")
                await release.wait()
                order.append(f"{name} end")

        first = asyncio.create_task(job("a"))
        while queue.running < 1:
            await asyncio.sleep(0)
        second = asyncio.create_task(job("b"))
        while queue.waiting < 1:
            await asyncio.sleep(0)
        assert queue.status() == {"slots": 1, "running": 1, "waiting": 1, "served": 0}
        assert queue.full()
        with pytest.raises(QueueFullError):
            async with queue.slot():
                pass
        release.set()
        await asyncio.gather(first, second)
        assert queue.status() == {"slots": 1, "running": 0, "waiting": 0, "served": 2}
        return order

    assert asyncio.run(scenario()) == ["a start", "a end", "b start", "b end"]


def test_request_options_hold_only_retrieval_switches() -> None:
    from app.api.schemas import AskRequest, SearchRequest

    search = SearchRequest(query="q", k=3, mmr=False)
    assert search.options() == {"k": 3, "mmr": False, "filters": None}
    ask = AskRequest(question="q", stream=True, filters={"page_start": {"$gte": 2}})
    assert ask.options() == {"filters": {"page_start": {"$gte": 2}}}
