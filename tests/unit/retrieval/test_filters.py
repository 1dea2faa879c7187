"""Mongo-style metadata filters."""

from __future__ import annotations

import pytest

from retrieval.vectorstores.filters import FilterError, matches, validate

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
