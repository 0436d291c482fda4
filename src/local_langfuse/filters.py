"""Langfuse's structured ``filter`` query parameter (a JSON array of conditions) as SQL.

Each condition is ``{"type", "column", "operator", "value"}`` (``key`` too for object columns),
as the Langfuse UI and ``api.trace.list(filter=...)`` send it. Columns are looked up in a
per-route table of ``name -> (SQL expression, kind)``; values are always bound parameters.
"""

from __future__ import annotations

import json
from typing import Any

from local_langfuse.errors import BadRequestError
from local_langfuse.http import dt_to_ts, parse_ts

MAX_CONDITIONS = 50
_COMPARE = {"=": "=", ">": ">", "<": "<", ">=": ">=", "<=": "<=", "<>": "<>", "!=": "<>"}
_LIKE = {
    "contains": ("LIKE", "%{}%"),
    "does not contain": ("NOT LIKE", "%{}%"),
    "starts with": ("LIKE", "{}%"),
    "ends with": ("LIKE", "%{}"),
}


def _like(value: str, pattern: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return pattern.format(escaped)


def _condition(item: Any, columns: dict[str, tuple[str, str]]) -> tuple[str, list[Any]]:
    if not isinstance(item, dict):
        raise BadRequestError("Each 'filter' condition must be a JSON object.")
    column, operator, value = item.get("column"), item.get("operator"), item.get("value")
    kind = item.get("type")
    if column not in columns:
        raise BadRequestError(
            f"Unknown filter column {column!r}; filterable here: {', '.join(sorted(columns))}."
        )
    expr, column_kind = columns[str(column)]
    if kind == "null" or operator in ("is null", "is not null"):
        return f"{expr} IS {'NOT ' if operator == 'is not null' else ''}NULL", []
    if column_kind == "object":
        key = item.get("key")
        if not isinstance(key, str) or not key:
            raise BadRequestError(f"A filter on {column!r} needs the metadata 'key'.")
        expr = f"json_extract({expr}, ?)"
        prefix: list[Any] = ["$." + json.dumps(key)]
    else:
        prefix = []
    if column_kind == "array":
        values = value if isinstance(value, list) else [value]
        if operator not in ("any of", "none of", "all of") or not values:
            raise BadRequestError(f"Filter on {column!r}: use 'any of', 'none of' or 'all of'.")
        member = f"EXISTS (SELECT 1 FROM json_each({expr}) WHERE value = ?)"
        if operator == "all of":
            return " AND ".join(member for _ in values), list(values)
        joined = " OR ".join(member for _ in values)
        return (f"NOT ({joined})" if operator == "none of" else f"({joined})"), list(values)
    if operator in ("any of", "none of"):
        values = value if isinstance(value, list) else [value]
        if not values:
            raise BadRequestError(f"Filter on {column!r}: '{operator}' needs a non-empty list.")
        marks = ", ".join("?" for _ in values)
        negate = "NOT " if operator == "none of" else ""
        return f"{expr} {negate}IN ({marks})", [*prefix, *values]
    if operator in _LIKE:
        sql_op, pattern = _LIKE[operator]
        return f"{expr} {sql_op} ? ESCAPE '\\'", [*prefix, _like(str(value), pattern)]
    if operator in _COMPARE:
        if column_kind == "datetime" or kind == "datetime":
            value = dt_to_ts(parse_ts(str(value), f"filter {column}"))
        return f"{expr} {_COMPARE[operator]} ?", [*prefix, value]
    raise BadRequestError(f"Unknown filter operator {operator!r} on {column!r}.")


def apply_filter(
    raw: str | None, columns: dict[str, tuple[str, str]], where: list[str], args: list[Any]
) -> None:
    """Add the conditions of a ``filter`` parameter (a JSON array) to ``where``/``args``."""
    if not raw:
        return
    try:
        conditions = json.loads(raw)
    except ValueError as exc:
        raise BadRequestError(f"Query parameter 'filter' is not valid JSON: {exc}") from exc
    if not isinstance(conditions, list):
        raise BadRequestError("Query parameter 'filter' must be a JSON array of conditions.")
    if len(conditions) > MAX_CONDITIONS:
        raise BadRequestError(f"At most {MAX_CONDITIONS} filter conditions, got {len(conditions)}.")
    for item in conditions:
        sql, values = _condition(item, columns)
        where.append(sql)
        args.extend(values)
