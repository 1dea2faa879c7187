"""Mongo-style metadata filters."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from retrieval.vectorstores.filters import (
    SQL_COLUMNS,
    SQL_CONTAINS,
    FilterError,
    matches,
    sql_contains,
    to_sql,
    validate,
)

META = {
    "file_name": "NVDA_2023_Q3.pdf",
    "file_type": "pdf",
    "page_start": 12,
    "created": "2023-10-01",
    "section": "",
}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (None, True),
        ({}, True),
        ({"file_type": "pdf"}, True),
        ({"file_type": "md"}, False),
        ({"page_start": {"$gte": 12, "$lt": 13}}, True),
        ({"page_start": {"$gt": 12}}, False),
        ({"file_name": {"$contains": "nvda"}}, True),
        ({"file_type": {"$in": ["md", "pdf"]}}, True),
        ({"file_type": {"$nin": ["md", "pdf"]}}, False),
        ({"created": {"$gte": "2023-01-01"}}, True),
        ({"$or": [{"file_type": "md"}, {"page_start": 12}]}, True),
        ({"$and": [{"file_type": "pdf"}, {"page_start": {"$ne": 12}}]}, False),
        ({"$not": {"file_type": "pdf"}}, False),
        ({"missing": {"$gte": 1}}, False),
    ],
)
def test_matches(flt, expected) -> None:
    assert matches(META, flt) is expected


@pytest.mark.parametrize("flt", [{"a": {"$regex": "x"}}, {"$xor": []}, {"$and": {"a": 1}}, {"a": {"$in": 3}}])
def test_malformed_filters_are_errors(flt) -> None:
    with pytest.raises(FilterError):
        validate(flt)


def _table(rows: list[dict[str, Any]]) -> sqlite3.Connection:
    """A docstore-shaped pair of tables holding ``rows`` (one chunk per document)."""
    conn = sqlite3.connect(":memory:")
    conn.create_function(SQL_CONTAINS, 2, sql_contains, deterministic=True)
    chunk_cols = [c.split(".")[1] for c in SQL_COLUMNS.values() if c.startswith("c.")]
    doc_cols = ["doc_id"] + [c.split(".")[1] for c in SQL_COLUMNS.values() if c.startswith("d.")]
    conn.execute(f"CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, {', '.join(chunk_cols)})")
    conn.execute(f"CREATE TABLE documents ({', '.join(doc_cols)})")
    for i, row in enumerate(rows):
        conn.execute(
            f"INSERT INTO chunks VALUES (?, {', '.join('?' * len(chunk_cols))})",
            [i, *[row.get(c) for c in chunk_cols]],
        )
        conn.execute(
            f"INSERT INTO documents VALUES ({', '.join('?' * len(doc_cols))})", [row.get(c) for c in doc_cols]
        )
    return conn


def _sql_rows(conn: sqlite3.Connection, flt: dict[str, Any]) -> set[int] | None:
    where = to_sql(flt)
    if where is None:
        return None
    sql = f"SELECT c.rowid FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE {where[0]}"
    return {r for (r,) in conn.execute(sql, where[1])}


ROWS = [
    {"doc_id": f"d{i}", "file_name": name, "file_type": ftype, "page_start": page, "section": section,
     "created": created, "kind": "child"}
    for i, (name, ftype, page, section, created) in enumerate([
        ("NVDA_2023_Q3.pdf", "pdf", 12, "Human Resources", "2023-10-01"),
        ("AAPL_2022_Q3.pdf", "pdf", 3, "Risk Factors", None),
        ("notes.md", "md", None, "", "2021-01-05"),
        ("Straße.txt", "txt", 1, "STRASSE plan", "2022-06-30"),
    ])
]  # fmt: skip


@pytest.mark.parametrize(
    ("flt", "exact"),
    [
        ({"file_type": "pdf"}, True),
        ({"page_start": {"$gte": 3, "$lt": 13}}, True),
        ({"section": {"$contains": "human resources"}}, True),
        ({"section": {"$contains": "strasse"}}, True),  # casefold, as in Python
        ({"file_type": {"$in": ["md", "txt"]}}, True),
        ({"created": {"$in": [None, "2021-01-05"]}}, True),
        ({"page_start": None}, True),
        ({"$or": [{"file_type": "md"}, {"page_start": 12}]}, True),
        ({"file_type": {"$ne": "pdf"}}, True),
        ({"file_type": {"$in": []}}, True),
        ({"page_start": {"$gte": "3"}}, False),  # mixed types: left to Python
        ({"$not": {"file_type": "pdf"}}, False),
        ({"file_type": {"$nin": ["pdf"]}}, False),
        ({"$or": [{"file_type": "md"}, {"$not": {"page_start": 3}}]}, False),
        ({"embedding": {"$gte": 1}}, False),
    ],
)
def test_sql_is_a_superset_of_matches(flt: dict[str, Any], exact: bool) -> None:
    conn = _table(ROWS)
    expected = {i for i, row in enumerate(ROWS) if matches(row, flt)}
    got = _sql_rows(conn, flt)
    if exact:
        assert got == expected
    else:
        assert got is None or expected <= got
