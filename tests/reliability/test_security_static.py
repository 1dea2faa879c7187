"""Static guarantees over the package source: nothing loaded back is unpickled, nothing the
LLM or a document says is executed, and every Cypher statement sends values as parameters."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "ingest", "retrieval", "graph")
UNSAFE_LOAD = re.compile(
    r"\b(import pickle|from pickle|pickle\.loads?|cPickle|import joblib|joblib\.load|torch\.load|"
    r"import dill|import shelve|marshal\.loads?|allow_dangerous_deserialization|allow_pickle\s*=\s*True|"
    r"yaml\.load\(|yaml\.unsafe_load)"
)
CYPHER = re.compile(r"\b(MATCH|CREATE|MERGE|DELETE|SET|RETURN|UNWIND|CALL)\b")


def package_files() -> list[Path]:
    files = sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))
    assert len(files) > 40, files  # the scan must see the real packages
    return files


def unsafe_lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if UNSAFE_LOAD.search(line)]


def test_the_unsafe_load_pattern_catches_what_it_must() -> None:
    bad = "import pickle\nx = pickle.load(fh)\nFAISS.load_local(p, e, allow_dangerous_deserialization=True)\n"
    bad += "np.load(p, allow_pickle=True)\nmodel = torch.load(path)\n"
    assert len(unsafe_lines(bad)) == 5
    assert unsafe_lines("np.load(p, allow_pickle=False)  # no pickle here\n") == []


def test_no_package_code_unpickles_or_deserializes_unsafely() -> None:
    found = {str(p.relative_to(REPO)): unsafe_lines(p.read_text()) for p in package_files()}
    assert {k: v for k, v in found.items() if v} == {}


def test_nothing_is_executed_from_text() -> None:
    calls = []
    for path in package_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("eval", "exec")
            ):
                calls.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if isinstance(node, ast.Call) and any(
                k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value
                for k in node.keywords
            ):
                calls.append(f"{path.relative_to(REPO)}:{node.lineno} shell=True")
    assert calls == []


def constant_names(tree: ast.Module) -> set[str]:
    """Names whose every assignment is a string literal (or an f-string of such names), to a fixpoint."""
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
    names: set[str] = set()
    while True:
        grown = {n for n, values in assigned.items() if all(is_constant(v, names) for v in values)}
        if grown <= names:
            return names
        names |= grown


def is_constant(node: ast.expr, names: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple):
        return all(is_constant(e, names) for e in node.elts)
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and is_constant(v.value, names))
            for v in node.values
        )
    return isinstance(node, ast.Name) and node.id in names


def interpolated_cypher(source: str) -> list[int]:
    """Lines where a Cypher string is built from anything but constant strings."""
    tree = ast.parse(source)
    constants = constant_names(tree)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if CYPHER.search(text) and not is_constant(node, constants):
                bad.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            parts = [node.left, node.right]
            if any(
                isinstance(p, ast.Constant) and isinstance(p.value, str) and CYPHER.search(p.value)
                for p in parts
            ) and not all(is_constant(p, constants) for p in parts):
                bad.append(node.lineno)
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
        ):
            target = node.func.value
            if (
                isinstance(target, ast.Constant)
                and isinstance(target.value, str)
                and CYPHER.search(target.value)
            ):
                bad.append(node.lineno)
    return sorted(set(bad))


@pytest.mark.parametrize(
    "snippet",
    [
        "def f(tx, doc_id):\n    tx.run(f\"MATCH (d:Document {{id: '{doc_id}'}}) DELETE d\")\n",
        'def f(tx, name):\n    tx.run("MATCH (e:Entity) WHERE e.name = \'" + name + "\' RETURN e")\n',
        "def f(tx, name):\n    tx.run(\"MATCH (e:Entity {{name: '{}'}}) RETURN e\".format(name))\n",
        "def f(tx, label):\n    q = f'MATCH (e:{label}) RETURN e'\n    tx.run(q)\n",
    ],
)
def test_the_cypher_check_catches_interpolated_values(snippet: str) -> None:
    assert interpolated_cypher(snippet) != []


def test_neo4j_store_sends_every_value_as_a_parameter() -> None:
    source = (REPO / "graph" / "stores" / "neo4j_store.py").read_text()
    assert len(CYPHER.findall(source)) > 20  # it does talk Cypher
    assert "$doc_id" in source and "$ids" in source
    assert interpolated_cypher(source) == []
