"""Mongo-style metadata filters over chunk metadata.

``{"file_name": "a.pdf", "page_start": {"$gte": 3}}`` means file_name == "a.pdf" AND page_start >= 3.
Operators: $eq $ne $gt $gte $lt $lte $in $nin $contains (case-insensitive substring) $and $or $not.
The self-query translator produces these; the vector store, BM25 and graph hits all apply them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from retrieval.base import RetrievalError

# Hits a filtered search tests one by one before it asks SQL (:func:`to_sql`) which rows can match.
NARROW_AFTER = 2048


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


# ------------------------------------------------------------------------------------------ SQL
# Chunk metadata keys as docstore columns (``c`` = chunks, ``d`` = documents).
SQL_COLUMNS: dict[str, str] = {
    "id": "c.id",
    "doc_id": "c.doc_id",
    "kind": "c.kind",
    "parent_id": "c.parent_id",
    "chunk_index": "c.chunk_index",
    "page_start": "c.page_start",
    "page_end": "c.page_end",
    "section": "c.section",
    "n_tokens": "c.n_tokens",
    "source": "d.source",
    "file_name": "d.file_name",
    "file_type": "d.file_type",
    "content_hash": "d.content_hash",
    "title": "d.title",
    "created": "d.created",
    "modified": "d.modified",
}
_INT_KEYS = frozenset({"chunk_index", "page_start", "page_end", "n_tokens"})
SQL_CONTAINS = "cw_contains"  # the docstore registers :func:`_contains` under this name
_SQL_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

Sql = tuple[str, list[Any]]


def to_sql(flt: Mapping[str, Any] | None) -> Sql | None:
    """A SQL condition every chunk matching ``flt`` satisfies, or None when nothing can be said.

    A *superset* on purpose: the condition narrows the candidates a search looks at (so a filter
    matching few or no chunks costs one indexed query, not a scan of every hit), and
    :func:`matches` still decides. Where SQL and Python could disagree (mixed types, ``$not``,
    ``$nin``, unknown keys) the clause is left out, which only widens the superset.
    """
    if not flt:
        return None
    return _sql_and([_sql_clause(key, operand) for key, operand in flt.items()])


def _sql_and(parts: list[Sql | None]) -> Sql | None:
    known = [p for p in parts if p is not None]
    if not known:
        return None
    return " AND ".join(f"({sql})" for sql, _ in known), [arg for _, args in known for arg in args]


def _sql_clause(key: str, operand: Any) -> Sql | None:
    if key == "$and":
        return _sql_and([to_sql(sub) for sub in _as_list(key, operand)])
    if key == "$or":
        parts = [to_sql(sub) for sub in _as_list(key, operand)]
        if not parts or any(p is None for p in parts):
            return None
        known = [p for p in parts if p is not None]
        return " OR ".join(f"({sql})" for sql, _ in known), [arg for _, args in known for arg in args]
    if key.startswith("$") or key not in SQL_COLUMNS:
        return None  # $not of a superset is no superset; unknown keys are never stored columns
    column = SQL_COLUMNS[key]
    if not isinstance(operand, Mapping):
        return _sql_eq(key, column, operand)
    return _sql_and([_sql_op(key, column, op, arg) for op, arg in operand.items()])


def _same_type(key: str, value: Any) -> bool:
    """Whether SQLite compares ``value`` with the column as Python would (ints with ints, str with str)."""
    if key in _INT_KEYS:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _sql_eq(key: str, column: str, operand: Any) -> Sql | None:
    if operand is None:
        return f"{column} IS NULL", []
    return (f"{column} = ?", [operand]) if _same_type(key, operand) else None


def _sql_op(key: str, column: str, op: str, arg: Any) -> Sql | None:
    if op == "$eq":
        return _sql_eq(key, column, arg)
    if op == "$ne" and arg is not None and _same_type(key, arg):
        return f"{column} IS NULL OR {column} != ?", [arg]
    if op in _SQL_COMPARE and arg is not None and _same_type(key, arg):
        return f"{column} {_SQL_COMPARE[op]} ?", [arg]
    if op == "$in" and isinstance(arg, (list, tuple, set, frozenset)):
        values = list(arg)
        if not all(v is None or _same_type(key, v) for v in values):
            return None
        present = [v for v in values if v is not None]
        parts = [f"{column} IN ({','.join('?' * len(present))})"] if present else []
        if len(present) < len(values):
            parts.append(f"{column} IS NULL")
        return (" OR ".join(parts), present) if parts else ("0", [])
    if op == "$contains":
        return f"{SQL_CONTAINS}({column}, ?)", [arg]
    return None


def sql_contains(value: Any, operand: Any) -> int:
    """``$contains`` for SQLite (registered by the docstore), the same test as :func:`matches`."""
    return int(_contains(value, operand))
