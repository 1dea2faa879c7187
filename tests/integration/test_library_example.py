"""The README's library example, run as a new user runs it: a script file, in its own process.

The graph worker once started with multiprocessing's ``spawn``, which re-imports the caller's
``__main__`` in the child: a script without an ``if __name__ == "__main__":`` guard ran again from
the top at every worker start, and every document ended with an empty graph recorded as done
(issue 21). Here the README's code runs verbatim between two lines of our own (one marking the
script body, one printing the graph counts), with the worker forced on for the small corpus, then
with the worker off and under a main guard: the body runs once and the three graphs are the same.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARK = "script body runs"
PROLOGUE = f"import logging\nlogging.basicConfig(level=logging.INFO)\nprint({MARK!r}, flush=True)\n"
EPILOGUE = 'import json\nprint("graph:", json.dumps(cw.stats()["graph"]), flush=True)\n'


def readme_example(repo_dir: Path) -> str:
    """The Python block that follows "As a library:" in the README, exactly as written there."""
    readme = (repo_dir / "README.md").read_text(encoding="utf-8")
    found = re.search(r"As a library:\s*```python\n(.*?)```", readme, re.DOTALL)
    assert found, "the README has no library example after 'As a library:'"
    code = found.group(1)
    assert "Citewise.open(" in code and ".ingest(" in code, code
    return code


def run_script(folder: Path, body: str, cache: Path, *, worker: bool) -> dict[str, Any]:
    """Run ``body`` as ``folder/example.py`` from ``folder``; what it printed and the graph counts."""
    script = folder / "example.py"
    script.write_text(body, encoding="utf-8")
    repo = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p),
        "CITEWISE_CACHE_DIR": str(cache),
        "CITEWISE_GRAPH__WORKER": "true" if worker else "false",
        "CITEWISE_GRAPH__WORKER_MIN_MB": "0",  # the small corpus would otherwise stay in-process
    }
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=folder, env=env, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    graph_lines = [line for line in lines if line.startswith("graph: ")]
    assert len(graph_lines) == 1, done.stdout
    return {
        "body_runs": lines.count(MARK),
        "graph": json.loads(graph_lines[0].removeprefix("graph: ")),
        "stderr": done.stderr,
    }


def user_folder(root: Path, corpus: Path, example: str) -> Path:
    """A fresh folder holding the example's input (``docs/``, the sample corpus) and nothing else."""
    docs = re.search(r"\.ingest\(\[\"([^\"]+)\"\]\)", example)
    assert docs, example
    root.mkdir()
    shutil.copytree(corpus, root / docs.group(1).rstrip("/"))
    return root


def test_the_readme_library_example_runs_once_and_builds_the_graph_with_or_without_the_worker(
    repo_dir: Path, sample_corpus_dir: Path, tmp_path: Path
) -> None:
    example = readme_example(repo_dir)
    cache = tmp_path / "cache"  # shared, so the bundled model is assembled once
    plain = PROLOGUE + example + EPILOGUE
    guarded = 'if __name__ == "__main__":\n' + textwrap.indent(plain, "    ")

    runs = {
        "worker, no guard": run_script(
            user_folder(tmp_path / "a", sample_corpus_dir, example), plain, cache, worker=True
        ),
        "no worker": run_script(
            user_folder(tmp_path / "b", sample_corpus_dir, example), plain, cache, worker=False
        ),
        "worker, main guard": run_script(
            user_folder(tmp_path / "c", sample_corpus_dir, example), guarded, cache, worker=True
        ),
    }
    for name, run in runs.items():
        assert run["body_runs"] == 1, (name, run["stderr"][-3000:])
        assert "IndexBusyError" not in run["stderr"] and "graph extraction failed" not in run["stderr"], name
        used_worker = "graph extraction in a worker process" in run["stderr"]
        assert used_worker == (name != "no worker"), (name, run["stderr"][-3000:])

    counts = {name: run["graph"] for name, run in runs.items()}
    reference = counts["no worker"]
    assert reference["entities"] > 20 and reference["relations"] > 20 and reference["mentions"] > 20
    assert reference["documents"] == len(list(sample_corpus_dir.iterdir()))
    assert counts["worker, no guard"] == reference == counts["worker, main guard"], counts
