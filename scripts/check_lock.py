"""Check that the lock files agree with pyproject.toml, and (with --installed) with the venv.

Run by `make install`, `make lock` and `make lock-check`, and by the suite (tests/unit/test_lock.py):
every requirement pyproject.toml declares (core and the extras each lock covers) must be pinned
in that lock, at a version inside the declared range. With --installed, every pin of the dev
lock must be what this interpreter has installed. Exit 1 with one line per disagreement.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# Which extras each lock must cover (core dependencies always).
LOCKS = {
    "requirements.lock": ("models", "llm", "neo4j", "ui", "api", "formats"),
    "requirements-dev.lock": ("models", "llm", "neo4j", "ui", "api", "formats", "dev"),
    "requirements-bench.lock": ("models", "llm", "neo4j", "ui", "api", "formats", "dev", "bench"),
}


def read_pins(path: Path) -> dict[str, Version]:
    """Map canonical package name -> pinned version for every `name==version` line."""
    pins: dict[str, Version] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"{path.name}: not an exact pin: {raw!r}")
        pins[canonicalize_name(name.split("[", 1)[0])] = Version(version.strip())
    return pins


def declared(pyproject: dict, extras: tuple[str, ...]) -> list[Requirement]:
    project = pyproject["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs.extend(project["optional-dependencies"][extra])
    return [Requirement(r) for r in reqs]


def lock_problems(root: Path = ROOT) -> list[str]:
    """Every way the locks under `root` disagree with its pyproject.toml."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    problems: list[str] = []
    for lock_name, extras in LOCKS.items():
        pins = read_pins(root / lock_name)
        for req in declared(pyproject, extras):
            if req.marker is not None and not req.marker.evaluate():
                continue
            pinned = pins.get(canonicalize_name(req.name))
            if pinned is None:
                problems.append(f"{lock_name}: {req} is declared in pyproject.toml but not pinned")
            elif not req.specifier.contains(pinned, prereleases=True):
                problems.append(f"{lock_name}: pins {req.name}=={pinned}, outside pyproject's {req}")
    return problems


def install_problems(root: Path = ROOT) -> list[str]:
    """Pins of the dev lock that this interpreter does not have installed at that version."""
    problems = []
    for name, version in read_pins(root / "requirements-dev.lock").items():
        try:
            have = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            problems.append(f"{name}=={version} is locked but not installed")
            continue
        if have.public != version.public:
            problems.append(f"{name}: {have} installed, the lock pins {version}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installed", action="store_true", help="also compare the venv with the dev lock")
    args = parser.parse_args(argv)
    problems = lock_problems()
    if args.installed:
        problems += install_problems()
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print("run `make lock` to re-resolve, then `make test`", file=sys.stderr)
        return 1
    print("locks agree with pyproject.toml" + (" and the venv" if args.installed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
