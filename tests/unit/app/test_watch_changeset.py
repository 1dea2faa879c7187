"""The folder watcher's debouncing: which changes are due when (pure logic, explicit clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.watch import ChangeSet


def test_due_after_quiet_time_and_a_burst_is_one_batch() -> None:
    changes = ChangeSet(debounce_s=0.5, max_delay_s=10.0)
    assert changes.wait_s(0.0) is None
    for i in range(50):  # 50 saves of one file, 10 ms apart
        changes.add(Path("/w/a.md"), 100.0 + i * 0.01)
    assert len(changes) == 1
    assert changes.wait_s(100.49) == pytest.approx(0.5)
    assert changes.wait_s(100.99) == 0.0
    assert changes.take() == {Path("/w/a.md")}
    assert changes.wait_s(101.0) is None and len(changes) == 0


def test_max_delay_bounds_a_folder_that_never_goes_quiet() -> None:
    changes = ChangeSet(debounce_s=1.0, max_delay_s=3.0)
    t = 0.0
    while t < 2.9:
        changes.add(Path(f"/w/{int(t * 10)}.txt"), t)
        t += 0.5
    assert changes.wait_s(2.5) == pytest.approx(0.5)  # due at first + max_delay, not last + debounce
    assert changes.wait_s(3.0) == 0.0


def test_invalid_timing_is_rejected() -> None:
    with pytest.raises(ValueError, match="debounce_s"):
        ChangeSet(debounce_s=0, max_delay_s=1)
    with pytest.raises(ValueError, match="max_delay_s"):
        ChangeSet(debounce_s=2, max_delay_s=1)
