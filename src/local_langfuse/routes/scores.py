"""Scores: ``POST /api/public/scores`` (a JSON array from the SDK), ``GET /api/public/v3/scores``
and ``DELETE /api/public/scores/{id}``.

Each score of a batch is validated on its own: good ones are stored, bad ones are reported
in a 207 with a message per score, as Langfuse does.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError, NotFoundError
from local_langfuse.http import (
    decode_cursor,
    dt_to_ts,
    encode_cursor,
    int_param,
    json_response,
    now_iso,
    parse_ts,
    read_json,
    time_range,
)
from local_langfuse.routes.observations import api_ts

router = APIRouter()

DATA_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT", "CORRECTION")
SOURCES = ("API", "ANNOTATION", "EVAL")
FIELD_GROUPS = ("details", "subject", "annotation")
ENVIRONMENT_RE = re.compile(r"^(?!langfuse)[a-z0-9_-]{1,40}$")
TEXT_MAX = 500
MAX_LIMIT = 100

COLUMNS = (
    "id",
    "trace_id",
    "observation_id",
    "session_id",
    "dataset_run_id",
    "name",
    "value",
    "string_value",
    "data_type",
    "comment",
    "metadata",
    "config_id",
    "queue_id",
    "author_user_id",
    "environment",
    "source",
    "timestamp",
    "created_at",
    "updated_at",
)
_UPSERT = (
    f"INSERT INTO scores ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{col} = excluded.{col}" for col in COLUMNS if col not in ("id", "created_at"))
)


# A batch (our extension: Langfuse's route takes one score) has at most this many scores, and
# its 207 answer lists at most this many errors of at most this many characters each.
MAX_BATCH_SCORES = 1000
MAX_ERRORS_SHOWN = 20
MAX_ERROR_CHARS = 300


class ScoreError(ValueError):
    """Why one score of a batch was rejected."""


@dataclass(frozen=True)
class _Optional:
    key: str

    def read(self, item: dict[str, Any], where: str) -> str | None:
        value = item.get(self.key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ScoreError(f"{where}: '{self.key}' must be a non-empty string")
        return value


_TRACE, _OBSERVATION, _SESSION, _RUN = (
    _Optional("traceId"),
    _Optional("observationId"),
    _Optional("sessionId"),
    _Optional("datasetRunId"),
)


def _value(data_type: str, value: Any, where: str) -> tuple[float | None, str | None]:
    """``(value, string_value)`` columns for a score value of ``data_type``."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if data_type == "NUMERIC":
        if isinstance(value, bool):
            return float(value), None
        if not is_number or not math.isfinite(value):
            raise ScoreError(f"{where}: a NUMERIC score needs a finite number, got {value!r}")
        return float(value), None
    if data_type == "BOOLEAN":
        if isinstance(value, bool) or (is_number and value in (0, 1)):
            number = float(value)
            return number, "True" if number == 1 else "False"
        raise ScoreError(f"{where}: a BOOLEAN score needs 1 or 0 (true or false), got {value!r}")
    if not isinstance(value, str):
        raise ScoreError(f"{where}: a {data_type} score needs a string value, got {value!r}")
    if data_type == "TEXT" and not 1 <= len(value) <= TEXT_MAX:
        raise ScoreError(f"{where}: a TEXT score needs 1 to {TEXT_MAX} characters")
    if data_type == "CATEGORICAL" and not value:
        raise ScoreError(f"{where}: a CATEGORICAL score needs a non-empty string")
    return (0.0 if data_type == "CATEGORICAL" else None), value


def parse_score(item: Any, index: int, now: str) -> tuple[Any, ...]:
    """One score of a request as a row in :data:`COLUMNS` order, or :class:`ScoreError`."""
    where = f"score {index}"
    if not isinstance(item, dict):
        raise ScoreError(f"{where}: expected a JSON object, got {type(item).__name__}")
    name = item.get("name")
    if isinstance(name, str) and name:
        where = f"score {index} ({name!r})"
    else:
        raise ScoreError(f"{where}: 'name' is required and must be a non-empty string")
    if "value" not in item or item["value"] is None:
        raise ScoreError(f"{where}: 'value' is required")
    value = item["value"]
    data_type = item.get("dataType")
    if data_type is None:
        data_type = "CATEGORICAL" if isinstance(value, str) else "NUMERIC"
    if not isinstance(data_type, str) or data_type.upper() not in DATA_TYPES:
        raise ScoreError(f"{where}: 'dataType' must be one of {', '.join(DATA_TYPES)}")
    data_type = data_type.upper()
    number, string_value = _value(data_type, value, where)

    trace_id, observation_id = _TRACE.read(item, where), _OBSERVATION.read(item, where)
    session_id, run_id = _SESSION.read(item, where), _RUN.read(item, where)
    if observation_id is not None and trace_id is None:
        raise ScoreError(f"{where}: 'observationId' needs the 'traceId' of its trace")
    if trace_id is None and session_id is None and run_id is None:
        raise ScoreError(f"{where}: give a target: traceId, sessionId or datasetRunId")

    environment = item.get("environment") or "default"
    if not isinstance(environment, str) or not ENVIRONMENT_RE.match(environment):
        raise ScoreError(
            f"{where}: 'environment' must be lowercase letters, digits, '-' or '_' (at most 40) "
            "and must not start with 'langfuse'"
        )
    source = item.get("source") or "API"
    if source not in ("API", "ANNOTATION"):
        raise ScoreError(f"{where}: 'source' must be API or ANNOTATION, got {source!r}")
    config_id = item.get("configId")
    if source == "ANNOTATION" and config_id is None and data_type != "CORRECTION":
        raise ScoreError(f"{where}: an ANNOTATION score needs a 'configId'")
    comment = item.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ScoreError(f"{where}: 'comment' must be a string")
    score_id = item.get("id") or uuid.uuid4().hex
    if not isinstance(score_id, str):
        raise ScoreError(f"{where}: 'id' must be a string")
    timestamp = item.get("timestamp")
    if timestamp is None:
        stored_ts = dt_to_ts(parse_ts(now, "timestamp"))
    else:
        try:
            stored_ts = dt_to_ts(parse_ts(str(timestamp), "timestamp"))
        except BadRequestError as exc:
            raise ScoreError(f"{where}: 'timestamp' is not an ISO-8601 datetime") from exc
    metadata = item.get("metadata")
    return (
        score_id,
        trace_id,
        observation_id,
        session_id,
        run_id,
        name,
        number,
        string_value,
        data_type,
        comment,
        None if metadata is None else json.dumps(metadata, ensure_ascii=False),
        config_id if isinstance(config_id, str) else None,
        item.get("queueId") if isinstance(item.get("queueId"), str) else None,
        None,
        environment,
        source,
        stored_ts,
        now,
        now,
    )


@router.post("/api/public/scores")
def create_scores(request: Request, payload: Annotated[Any, Depends(read_json)]) -> Response:
    db: Database = request.app.state.db
    now = now_iso()
    if isinstance(payload, dict):
        # The single-object form of the OpenAPI spec: 200 {"id"} or 400.
        try:
            row = parse_score(payload, 0, now)
        except ScoreError as exc:
            raise BadRequestError(str(exc)) from exc
        except RecursionError as exc:
            raise BadRequestError("The score's metadata is nested too deeply.") from exc
        with db.write() as conn:
            conn.execute(_UPSERT, row)
        return json_response({"id": row[0]})
    if not isinstance(payload, list):
        raise BadRequestError("Expected a JSON array of scores (or one score object).")
    if not payload:
        raise BadRequestError("The array of scores is empty; send at least one score.")
    if len(payload) > MAX_BATCH_SCORES:
        raise BadRequestError(
            f"The array holds {len(payload)} scores; send at most {MAX_BATCH_SCORES} per request."
        )
    rows: list[tuple[Any, ...]] = []
    errors: list[dict[str, str]] = []
    for index, item in enumerate(payload):
        try:
            rows.append(parse_score(item, index, now))
        except ScoreError as exc:
            errors.append({"message": str(exc)})
        except RecursionError:
            errors.append({"message": f"score {index}: metadata is nested too deeply"})
    if rows:
        with db.write() as conn:
            conn.executemany(_UPSERT, rows)
    if errors:
        # The answer stays small whatever the batch: a few messages, each cut short.
        shown = [{"message": e["message"][:MAX_ERROR_CHARS]} for e in errors[:MAX_ERRORS_SHOWN]]
        if len(errors) > MAX_ERRORS_SHOWN:
            shown.append({"message": f"... and {len(errors) - MAX_ERRORS_SHOWN} more rejected"})
        return json_response({"accepted": len(rows), "rejected": len(errors), "errors": shown}, 207)
    return json_response({"message": "Accepted"}, 202)


def typed_value(row: sqlite3.Row) -> Any:
    data_type = row["data_type"]
    if data_type == "NUMERIC":
        return row["value"]
    if data_type == "BOOLEAN":
        return row["value"] == 1
    return row["string_value"] or ""


def _metadata(row: sqlite3.Row) -> Any:
    return None if row["metadata"] is None else json.loads(row["metadata"])


def subject(row: sqlite3.Row) -> dict[str, Any]:
    if row["observation_id"] is not None:
        return {"kind": "observation", "id": row["observation_id"], "traceId": row["trace_id"]}
    if row["trace_id"] is not None:
        return {"kind": "trace", "id": row["trace_id"]}
    if row["session_id"] is not None:
        return {"kind": "session", "id": row["session_id"]}
    return {"kind": "experiment", "id": row["dataset_run_id"]}


def score_v3(row: sqlite3.Row, groups: frozenset[str], project_id: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": row["id"],
        "projectId": project_id,
        "name": row["name"],
        "value": typed_value(row),
        "dataType": row["data_type"],
        "source": row["source"],
        "timestamp": api_ts(row["timestamp"]),
        "environment": row["environment"],
        "createdAt": api_ts(row["created_at"]),
        "updatedAt": api_ts(row["updated_at"]),
    }
    if "details" in groups:
        item.update(comment=row["comment"], configId=row["config_id"], metadata=_metadata(row))
    if "subject" in groups:
        item["subject"] = subject(row)
    if "annotation" in groups:
        item.update(authorUserId=row["author_user_id"], queueId=row["queue_id"])
    return item


def _score_fields(row: sqlite3.Row) -> dict[str, Any]:
    """The fields the legacy ``ScoreV1`` and the ``Score`` of v2 share."""
    data_type = row["data_type"]
    item: dict[str, Any] = {
        "id": row["id"],
        "traceId": row["trace_id"],
        "name": row["name"],
        "source": row["source"],
        "observationId": row["observation_id"],
        "timestamp": api_ts(row["timestamp"]),
        "createdAt": api_ts(row["created_at"]),
        "updatedAt": api_ts(row["updated_at"]),
        "authorUserId": row["author_user_id"],
        "comment": row["comment"],
        "metadata": _metadata(row),
        "configId": row["config_id"],
        "queueId": row["queue_id"],
        "environment": row["environment"],
        "dataType": data_type,
    }
    if data_type in ("NUMERIC", "BOOLEAN", "CATEGORICAL"):
        item["value"] = row["value"] if row["value"] is not None else 0.0
    # Langfuse sends stringValue on every score, null for numeric ones.
    item["stringValue"] = None if data_type == "NUMERIC" else (row["string_value"] or "")
    return item


def score_v1(row: sqlite3.Row) -> dict[str, Any] | None:
    """A trace score in the legacy ``ScoreV1`` shape (``None`` for types v1 cannot express)."""
    if row["data_type"] == "CORRECTION":
        return None
    return _score_fields(row)


def score_v2(row: sqlite3.Row) -> dict[str, Any]:
    """A score in the ``Score`` shape of ``GET /api/public/v2/scores/{id}`` (any target)."""
    item = _score_fields(row)
    item.update(sessionId=row["session_id"], datasetRunId=row["dataset_run_id"])
    return item


@router.get("/api/public/v2/scores/{score_id}")
def get_score_v2(score_id: str, request: Request) -> Response:
    row = request.app.state.db.conn.execute(
        "SELECT * FROM scores WHERE id = ?", (score_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"Score {score_id!r} not found.")
    return json_response(score_v2(row))


def _csv(request: Request, name: str, *, upper: bool = False) -> list[str]:
    raw = request.query_params.get(name)
    if not raw:
        return []
    values = [part.strip() for part in raw.split(",") if part.strip()]
    return [value.upper() for value in values] if upper else values


def _in(column: str, values: list[Any], where: list[str], args: list[Any]) -> None:
    if values:
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        args.extend(values)


def _float_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise BadRequestError(f"Query parameter '{name}' must be a number, got {raw!r}") from exc
    if not math.isfinite(value):
        raise BadRequestError(f"Query parameter '{name}' must be a finite number")
    return value


def _value_filter(
    request: Request, data_types: list[str], where: list[str], args: list[Any]
) -> None:
    values = _csv(request, "value")
    value_min, value_max = _float_param(request, "valueMin"), _float_param(request, "valueMax")
    single = data_types[0] if len(data_types) == 1 else None
    if values:
        if single not in ("NUMERIC", "BOOLEAN", "CATEGORICAL"):
            raise BadRequestError(
                "Filtering by 'value' needs exactly one dataType: NUMERIC, BOOLEAN or CATEGORICAL."
            )
        if single == "CATEGORICAL":
            _in("string_value", values, where, args)
        elif single == "BOOLEAN":
            mapping = {"true": 1.0, "false": 0.0}
            if any(v.lower() not in mapping for v in values):
                raise BadRequestError("BOOLEAN score values are 'true' or 'false'.")
            _in("value", [mapping[v.lower()] for v in values], where, args)
        else:
            try:
                numbers = [float(v) for v in values]
            except ValueError as exc:
                raise BadRequestError("NUMERIC score values must be numbers.") from exc
            _in("value", numbers, where, args)
    if value_min is not None or value_max is not None:
        if single != "NUMERIC":
            raise BadRequestError("valueMin and valueMax need dataType=NUMERIC (one data type).")
        if value_min is not None:
            where.append("value >= ?")
            args.append(value_min)
        if value_max is not None:
            where.append("value <= ?")
            args.append(value_max)


@router.get("/api/public/v3/scores")
def list_scores(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    db: Database = request.app.state.db
    limit = int_param(request, "limit", 50, maximum=MAX_LIMIT)
    groups = frozenset(_csv(request, "fields"))
    unknown = sorted(groups - set(FIELD_GROUPS))
    if unknown:
        raise BadRequestError(
            f"Unknown field group(s) {', '.join(unknown)}; allowed: {', '.join(FIELD_GROUPS)}."
        )
    where: list[str] = []
    args: list[Any] = []
    data_types = _csv(request, "dataType", upper=True)
    bad = [dt for dt in data_types if dt not in DATA_TYPES]
    if bad:
        raise BadRequestError(f"Unknown dataType {bad[0]!r}; one of {', '.join(DATA_TYPES)}.")
    sources = _csv(request, "source", upper=True)
    bad = [s for s in sources if s not in SOURCES]
    if bad:
        raise BadRequestError(f"Unknown source {bad[0]!r}; one of {', '.join(SOURCES)}.")
    traces, sessions = _csv(request, "traceId"), _csv(request, "sessionId")
    observations, runs = _csv(request, "observationId"), _csv(request, "experimentId")
    if observations and not traces:
        raise BadRequestError("observationId needs traceId: observation ids are scoped to a trace.")
    if sum(bool(x) for x in (traces, sessions, runs)) > 1 or (observations and sessions):
        raise BadRequestError(
            "traceId (with observationId), sessionId and experimentId are mutually exclusive."
        )
    for param, column in (
        ("id", "id"),
        ("name", "name"),
        ("environment", "environment"),
        ("configId", "config_id"),
        ("queueId", "queue_id"),
        ("authorUserId", "author_user_id"),
    ):
        _in(column, _csv(request, param), where, args)
    _in("data_type", data_types, where, args)
    _in("source", sources, where, args)
    _in("trace_id", traces, where, args)
    _in("observation_id", observations, where, args)
    _in("session_id", sessions, where, args)
    _in("dataset_run_id", runs, where, args)
    _value_filter(request, data_types, where, args)
    query = request.query_params
    time_range(request, "timestamp", "fromTimestamp", "toTimestamp", where, args)
    if query.get("cursor"):
        timestamp, score_id = decode_cursor(query["cursor"])
        where.append("(timestamp < ? OR (timestamp = ? AND id < ?))")
        args.extend([timestamp, timestamp, score_id])
    sql = "SELECT * FROM scores"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY timestamp DESC, id DESC LIMIT ?"
    args.append(limit + 1)
    rows = db.conn.execute(sql, args).fetchall()
    meta: dict[str, Any] = {"limit": limit}
    if len(rows) > limit:
        rows = rows[:limit]
        meta["cursor"] = encode_cursor(rows[-1]["timestamp"], rows[-1]["id"])
    data = [score_v3(row, groups, config.project_id) for row in rows]
    return json_response({"data": data, "meta": meta})


@router.delete("/api/public/scores/{score_id}")
def delete_score(score_id: str, request: Request) -> Response:
    db: Database = request.app.state.db
    with db.write() as conn:
        deleted = conn.execute("DELETE FROM scores WHERE id = ?", (score_id,)).rowcount
    if not deleted:
        raise NotFoundError(f"Score {score_id!r} not found.")
    return Response(status_code=204)
