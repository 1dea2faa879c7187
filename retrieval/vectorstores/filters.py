"""Mongo-style metadata filters over chunk metadata.

``{"file_name": "a.pdf", "page_start": {"$gte": 3}}`` means file_name == "a.pdf" AND page_start >= 3.
Operators: $eq $ne $gt $gte $lt $lte $in $nin $contains (case-insensitive substring) $and $or $not.
The self-query translator produces these; the vector store, BM25 and graph hits all apply them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from retrieval.base import RetrievalError


class FilterError(RetrievalError):
    """A filter uses an unknown operator or a malformed value."""


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(value: Any, operand: Any) -> bool:
        if value is None or operand is None:
            return False
        try:
            return op(value, operand)
        except TypeError:
            return op(str(value), str(operand))

    return check


def _contains(value: Any, operand: Any) -> bool:
    return value is not None and str(operand).casefold() in str(value).casefold()


def _in(value: Any, operand: Any) -> bool:
    if not isinstance(operand, (list, tuple, set, frozenset)):
        raise FilterError(f"$in/$nin take a list, got {operand!r}")
    return value in operand


_FIELD_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda v, o: v == o,
    "$ne": lambda v, o: v != o,
    "$gt": _compare(lambda v, o: v > o),
    "$gte": _compare(lambda v, o: v >= o),
    "$lt": _compare(lambda v, o: v < o),
    "$lte": _compare(lambda v, o: v <= o),
    "$in": _in,
    "$nin": lambda v, o: not _in(v, o),
    "$contains": _contains,
}


def matches(metadata: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` satisfies ``flt`` (None or {} matches everything)."""
    if not flt:
        return True
    return all(_clause(metadata, key, operand) for key, operand in flt.items())


def _clause(metadata: Mapping[str, Any], key: str, operand: Any) -> bool:
    if key == "$and":
        return all(matches(metadata, sub) for sub in _as_list(key, operand))
    if key == "$or":
        return any(matches(metadata, sub) for sub in _as_list(key, operand))
    if key == "$not":
        return not matches(metadata, operand)
    if key.startswith("$"):
        raise FilterError(f"unknown logical operator {key!r}; use $and, $or or $not")
    value = metadata.get(key)
    if isinstance(operand, Mapping):
        return all(_field_op(op)(value, arg) for op, arg in operand.items())
    return bool(value == operand)


def _field_op(op: str) -> Callable[[Any, Any], bool]:
    try:
        return _FIELD_OPS[op]
    except KeyError:
        raise FilterError(f"unknown filter operator {op!r}; choose one of {sorted(_FIELD_OPS)}") from None


def _as_list(key: str, operand: Any) -> list[Mapping[str, Any]]:
    if not isinstance(operand, (list, tuple)):
        raise FilterError(f"{key} takes a list of filters, got {operand!r}")
    return list(operand)


def validate(flt: Mapping[str, Any] | None) -> None:
    """Raise :class:`FilterError` now for a malformed filter, rather than at the first match."""
    matches({}, flt)
