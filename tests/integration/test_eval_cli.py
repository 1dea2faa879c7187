"""``citewise eval`` end to end: real loaders, real MiniLM, real FAISS and BM25 on the sample corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli_eval import default_eval_index, eval_command

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> tuple[dict, Path]:  # type: ignore[type-arg]
    """One extractive run over the example dataset; the JSON payload and the index directory."""
    base = tmp_path_factory.mktemp("eval")
    docs = shutil.copytree(repo_dir / "data" / "corpus", base / "corpus")
    index = base / "index"
    args = [str(repo_dir / "docs" / "eval-example.jsonl"), "--docs", str(docs), "--index", str(index)]
    result = CliRunner().invoke(eval_command, [*args, "--no-llm", "--no-graph", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), index


def test_eval_scores_every_question(evaluated: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    payload, index = evaluated
    s = payload["summary"]
    assert (s["questions"], s["scored"], s["answerable"], s["unanswerable"]) == (10, 10, 8, 2)
    assert payload["index"] == str(index) and payload["model"] is None
    # Every planted fact is in one known file; the hybrid retriever finds at least 7 of the 8.
    assert s["hit_at_k"] >= 0.875 and s["mrr"] >= 0.8
    # Extractive answers quote retrieved chunks, so every citation maps to a retrieved file+page.
    assert s["citation_validity"] == 1.0
    assert 0.0 < s["token_f1"] < 1.0
    assert set(payload["by_type"]) == {"fact", "unanswerable"}
    a1 = next(r for r in payload["results"] if r["id"] == "a1")
    assert a1["files"][0] == "skarvik_history.pdf" and a1["page_hit"] == 1.0
    assert a1["numeric_match"] == 1.0  # "14 May 1923": the 14 is found, the year is not a figure


def test_eval_reuses_the_index_without_docs(evaluated: tuple[dict, Path], repo_dir: Path) -> None:  # type: ignore[type-arg]
    _, index = evaluated
    dataset = str(repo_dir / "docs" / "eval-example.jsonl")
    args = [dataset, "--index", str(index), "--no-llm", "--limit", "2", "--json"]
    result = CliRunner().invoke(eval_command, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["summary"]["questions"] == 2
    assert [r["id"] for r in payload["results"]] == ["a1", "a3"]


def test_eval_rejects_bad_input(tmp_path: Path, repo_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Q?"}\n', encoding="utf-8")
    result = CliRunner().invoke(eval_command, [str(bad), "--index", str(tmp_path / "idx")])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output and "missing 'answer'" in result.output
    dataset = str(repo_dir / "docs" / "eval-example.jsonl")
    result = CliRunner().invoke(eval_command, [dataset, "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no index at" in result.output
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x")
    result = CliRunner().invoke(eval_command, [dataset, "--model", str(model), "--no-llm"])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_default_eval_index_is_per_folder(tmp_path: Path) -> None:
    a = default_eval_index(tmp_path / "cache", tmp_path / "docs")
    assert a.parent == tmp_path / "cache" / "eval" and a.name.startswith("docs-")
    assert a == default_eval_index(tmp_path / "cache", tmp_path / "docs")
    assert a != default_eval_index(tmp_path / "cache", tmp_path / "other" / "docs")
