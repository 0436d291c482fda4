"""Small HTTP helpers shared by the routes: JSON in and out, timestamps, pagination."""

from __future__ import annotations

import base64
import binascii
import json
import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.errors import BadRequestError


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(dumps(data), status_code=status_code, media_type="application/json")


def error_response(status_code: int, message: str, error: str = "Error") -> Response:
    return json_response({"message": message, "error": error}, status_code)


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    body = await request.body()
    if not body:
        raise BadRequestError("Request body is empty; expected a JSON document.")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"Request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequestError("Request body is JSON nested too deeply to parse.") from exc


def now_iso() -> str:
    """Now, in the format Langfuse returns (millisecond precision, ``Z``)."""
    return format_ts(datetime.now(UTC))


def format_ts(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_ts(value: str, field: str) -> datetime:
    """An ISO-8601 query parameter, or a 400 naming the parameter."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestError(
            f"Query parameter '{field}' is not an ISO-8601 datetime: {value!r}"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# Page numbers, limits and versions are 32-bit integers in Langfuse; a larger number (a page
# of 10^20) would overflow SQLite's 64-bit integers.
MAX_INT = 2**31 - 1


def int_param(
    request: Request, name: str, default: int, *, minimum: int = 1, maximum: int = MAX_INT
) -> int:
    """An integer query parameter in ``[minimum, maximum]``, or a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequestError(f"Query parameter '{name}' must be an integer, got {raw!r}") from exc
    if value < minimum or value > maximum:
        raise BadRequestError(
            f"Query parameter '{name}' must be at least {minimum} and at most {maximum}"
        )
    return value


def fetch_page(
    conn: sqlite3.Connection,
    select: str,
    count: str,
    args: Sequence[Any],
    *,
    order_by: str,
    page: int,
    limit: int,
) -> tuple[list[sqlite3.Row], int]:
    """Page ``page`` (from 1) of ``select`` ordered by ``order_by``, and the total that ``count``
    counts; both statements take ``args``."""
    total = int(conn.execute(count, args).fetchone()[0])
    rows = conn.execute(
        f"{select} ORDER BY {order_by} LIMIT ? OFFSET ?", [*args, limit, (page - 1) * limit]
    ).fetchall()
    return rows, total


def page_meta(page: int, limit: int, total: int) -> dict[str, int]:
    """Langfuse's page-based ``meta`` block."""
    return {
        "page": page,
        "limit": limit,
        "totalItems": total,
        "totalPages": math.ceil(total / limit) if limit else 0,
    }


def json_type(value: Any) -> str:
    """How a JSON value reads in an error message: ``a string``, ``a list``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def dt_to_ts(value: datetime) -> str:
    """A datetime → the stored timestamp, fixed-width ISO with microseconds (sorts as text)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_range(
    request: Request,
    column: str,
    since: str,
    until: str,
    where: list[str],
    args: list[Any],
) -> None:
    """Add ``since <= column < until`` from two ISO query parameters, when given."""
    query = request.query_params
    if query.get(since):
        where.append(f"{column} >= ?")
        args.append(dt_to_ts(parse_ts(query[since], since)))
    if query.get(until):
        where.append(f"{column} < ?")
        args.append(dt_to_ts(parse_ts(query[until], until)))


def encode_cursor(sort_key: str, row_id: str) -> str:
    """An opaque keyset cursor for the next page (``meta.cursor``)."""
    raw = json.dumps([sort_key, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (sort key, id) of a cursor from :func:`encode_cursor`, or a 400 saying what to pass."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_key, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequestError(
            "Query parameter 'cursor' is not a cursor this server returned; pass meta.cursor "
            "from the previous page unchanged."
        ) from exc
    return str(sort_key), str(row_id)
