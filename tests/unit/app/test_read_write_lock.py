"""The service's readers-writer lock: shared reads, exclusive writes, a waiting writer first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.concurrency import ReadWriteLock

DEADLINE_S = 30.0  # generous: only a hang (a real deadlock) takes this long


def wait_until(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.001)


def test_readers_share_and_a_writer_waits_for_them() -> None:
    lock = ReadWriteLock()
    events: list[str] = []
    with lock.read(), lock.read():  # two readers at once: no deadlock
        assert lock.status()["readers"] == 2
        writer_in = threading.Event()

        def write() -> None:
            with lock.write():
                events.append("write")
                writer_in.set()

        t = threading.Thread(target=write)
        t.start()
        wait_until(lambda: lock.status()["writers_waiting"] == 1)
        assert not writer_in.is_set()
        events.append("readers done")
    assert writer_in.wait(DEADLINE_S)
    t.join(DEADLINE_S)
    assert events == ["readers done", "write"]


class CountingCondition(threading.Condition):
    """The lock's condition, counting the threads blocked in ``wait`` so a test can wait for them."""

    def __init__(self) -> None:
        super().__init__(threading.Lock())
        self.blocked = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.blocked += 1  # wait() is called with the condition's lock held
        try:
            return super().wait(timeout)
        finally:
            self.blocked -= 1

    def blocked_now(self) -> int:
        with self:
            return self.blocked


def test_waiting_writer_holds_back_new_readers() -> None:
    lock = ReadWriteLock()
    cond = lock._cond = CountingCondition()
    order: list[str] = []
    first = lock.read()
    first.__enter__()
    writer = threading.Thread(target=lambda: _hold(lock.write, order, "writer"))
    writer.start()
    wait_until(lambda: lock.status()["writers_waiting"] == 1)
    reader = threading.Thread(target=lambda: _hold(lock.read, order, "late reader"))
    reader.start()
    # The late reader is blocked behind the waiting writer before the first reader leaves: a lock
    # that let it in would never get here (and the order below would not be tested otherwise).
    wait_until(lambda: cond.blocked_now() == 2)
    first.__exit__(None, None, None)
    writer.join(DEADLINE_S)
    reader.join(DEADLINE_S)
    assert order == ["writer", "late reader"]
    assert lock.status() == {"readers": 0, "writing": False, "writers_waiting": 0}


def test_release_from_another_thread() -> None:
    """A streamed answer may finish on another worker thread than the one that started it."""
    lock = ReadWriteLock()
    held = lock.read()
    held.__enter__()
    t = threading.Thread(target=lambda: held.__exit__(None, None, None))
    t.start()
    t.join(DEADLINE_S)
    with lock.write():
        assert lock.status()["writing"] is True


def _hold(make: Callable[[], object], order: list[str], name: str) -> None:
    with make():  # type: ignore[attr-defined]
        order.append(name)
