"""The lock files pin what pyproject.toml declares, and the venv the suite runs in is the lock."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def check_lock() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_lock", REPO / "scripts" / "check_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy_repo_files(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock", "requirements-bench.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_the_locks_agree_with_pyproject(check_lock: ModuleType) -> None:
    assert check_lock.lock_problems(REPO) == []


def test_the_venv_is_what_the_dev_lock_pins(check_lock: ModuleType) -> None:
    assert check_lock.install_problems(REPO) == []


def test_a_dependency_missing_from_a_lock_is_reported(check_lock: ModuleType, tmp_path: Path) -> None:
    root = _copy_repo_files(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace('"click>=8.1",', '"click>=8.1",\n    "left-pad>=1.0",'), encoding="utf-8"
    )
    problems = check_lock.lock_problems(root)
    assert len(problems) == 3  # one per lock: each covers the core dependencies
    assert all("left-pad>=1.0 is declared in pyproject.toml but not pinned" in p for p in problems)


def test_a_pin_outside_the_declared_range_is_reported(check_lock: ModuleType, tmp_path: Path) -> None:
    root = _copy_repo_files(tmp_path)
    dev = root / "requirements-dev.lock"
    lines = dev.read_text(encoding="utf-8").splitlines()
    dev.write_text(
        "\n".join("pytest==7.0.0" if line.startswith("pytest==") else line for line in lines) + "\n",
        encoding="utf-8",
    )
    assert check_lock.lock_problems(root) == [
        "requirements-dev.lock: pins pytest==7.0.0, outside pyproject's pytest>=8"
    ]


def test_a_line_that_is_not_an_exact_pin_is_refused(check_lock: ModuleType, tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("numpy>=1.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an exact pin"):
        check_lock.read_pins(lock)
