"""``GET /api/public/v2/observations``: field groups, filters and cursor pagination.

The SDK v5 has no trace getter; this endpoint is how traces are read back. Rows are built from
the columns the OTLP mapping stored (see ``local_langfuse.ingest``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError
from local_langfuse.filters import apply_filter
from local_langfuse.http import decode_cursor, encode_cursor, int_param, json_response, time_range
from local_langfuse.ingest import LEVELS, OBSERVATION_TYPES

router = APIRouter()

FIELD_GROUPS = (
    "core",
    "basic",
    "time",
    "io",
    "metadata",
    "model",
    "usage",
    "prompt",
    "metrics",
    "trace_context",
)
DEFAULT_GROUPS = frozenset({"core", "basic"})
# The structured ``filter``'s columns (Langfuse's observation filter names), v1 and v2 lists.
OBSERVATION_FILTER_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("o.id", "string"),
    "traceId": ("o.trace_id", "string"),
    "name": ("o.name", "string"),
    "type": ("o.type", "string"),
    "level": ("o.level", "string"),
    "model": ("o.model", "string"),
    "environment": ("o.environment", "string"),
    "version": ("o.version", "string"),
    "userId": ("COALESCE(o.user_id, t.user_id)", "string"),
    "sessionId": ("COALESCE(o.session_id, t.session_id)", "string"),
    "parentObservationId": ("o.parent_observation_id", "string"),
    "statusMessage": ("o.status_message", "string"),
    "promptName": ("o.prompt_name", "string"),
    "startTime": ("o.start_time", "datetime"),
    "endTime": ("o.end_time", "datetime"),
    "metadata": ("o.metadata", "object"),
}
METADATA_TRUNCATE = 200
MAX_LIMIT = 1000

# Observation columns plus what the groups need from the trace and the prompt tables.
SELECT = """
SELECT o.*, t.public AS trace_public, t.tags AS trace_tags, t.release AS trace_release,
       COALESCE(t.name, t.root_name) AS trace_name, p.id AS prompt_id
FROM observations o
LEFT JOIN traces t ON t.id = o.trace_id
LEFT JOIN prompts p ON p.name = o.prompt_name AND p.version = o.prompt_version
"""


def api_ts(stored: str | None) -> str | None:
    """Stored microsecond timestamp → Langfuse's millisecond ``...Z`` form."""
    return None if stored is None else stored[:23] + "Z"


def seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return delta.total_seconds()


def decode_json(text: str | None) -> Any:
    """A stored JSON column, or a raw input/output string decoded when it is JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _truncate(metadata: dict[str, Any], expand: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key not in expand:
            text = value if isinstance(value, str) else None
            if text is None and isinstance(value, dict | list):
                text = json.dumps(value, ensure_ascii=False)
            if text is not None and len(text) > METADATA_TRUNCATE:
                value = text[:METADATA_TRUNCATE]
        out[key] = value
    return out


def observation_v2(
    row: sqlite3.Row, groups: frozenset[str], project_id: str, expand: frozenset[str]
) -> dict[str, Any]:
    """One ``ObservationV2`` with the requested field groups (``core`` always)."""
    item: dict[str, Any] = {
        "id": row["id"],
        "traceId": row["trace_id"],
        "startTime": api_ts(row["start_time"]),
        "endTime": api_ts(row["end_time"]),
        "projectId": project_id,
        "parentObservationId": row["parent_observation_id"],
        "type": row["type"],
        # Required by the schema; local-langfuse has no model price table.
        "modelId": None,
        "inputPrice": None,
        "outputPrice": None,
        "totalPrice": None,
    }
    if "basic" in groups:
        item.update(
            name=row["name"],
            level=row["level"],
            statusMessage=row["status_message"],
            version=row["version"],
            environment=row["environment"],
            bookmarked=False,
            public=bool(row["trace_public"]),
            userId=row["user_id"],
            sessionId=row["session_id"],
            isRootObservation=bool(row["is_root"]),
        )
    if "time" in groups:
        item.update(
            completionStartTime=api_ts(row["completion_start_time"]),
            createdAt=api_ts(row["created_at"]),
            updatedAt=api_ts(row["updated_at"]),
        )
    if "io" in groups:
        item.update(input=row["input"], output=row["output"])
    if "metadata" in groups:
        item["metadata"] = _truncate(json.loads(row["metadata"]), expand)
    if "model" in groups:
        item.update(
            model=row["model"],
            providedModelName=row["model"],
            internalModelId=None,
            modelParameters=decode_json(row["model_parameters"]),
        )
    if "usage" in groups:
        item.update(
            usageDetails=json.loads(row["usage_details"]),
            costDetails=json.loads(row["cost_details"]),
            totalCost=row["total_cost"],
            usagePricingTierName=None,
        )
    if "prompt" in groups:
        item.update(
            promptId=row["prompt_id"],
            promptName=row["prompt_name"],
            promptVersion=row["prompt_version"],
        )
    if "metrics" in groups:
        item.update(
            latency=seconds_between(row["start_time"], row["end_time"]),
            timeToFirstToken=seconds_between(row["start_time"], row["completion_start_time"]),
        )
    if "trace_context" in groups:
        tags = row["trace_tags"]
        item.update(
            tags=json.loads(tags) if tags is not None else [],
            release=row["trace_release"],
            traceName=row["trace_name"],
        )
    return item


def parse_groups(
    raw: str | None,
    available: tuple[str, ...] = FIELD_GROUPS,
    default: frozenset[str] = DEFAULT_GROUPS,
) -> frozenset[str]:
    """The ``fields`` query parameter: comma-separated groups of ``available``, ``core`` always
    among them; ``default`` when it is absent or blank; a 400 naming the unknown ones."""
    if raw is None or not raw.strip():
        return default
    groups = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(groups - set(available))
    if unknown:
        raise BadRequestError(
            f"Unknown field group(s) {', '.join(unknown)}; available: {', '.join(available)}."
        )
    return frozenset(groups | {"core"})


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequestError(f"Query parameter '{name}' must be true or false, got {raw!r}")


def observation_filters(
    request: Request, equal: Sequence[tuple[str, str]]
) -> tuple[list[str], list[Any]]:
    """The filters the v1 and v2 observation lists share, as SQL conditions and their arguments:
    ``equal`` (query parameter, column) pairs, ``type``, ``level``, ``environment``, the start
    time range and the structured ``filter``. Unknown types and levels are a 400."""
    query = request.query_params
    where: list[str] = []
    args: list[Any] = []
    for param, column in equal:
        if query.get(param):
            where.append(f"{column} = ?")
            args.append(query[param])
    obs_type = query.get("type")
    if obs_type:
        if obs_type.lower() not in OBSERVATION_TYPES:
            raise BadRequestError(
                f"Unknown observation type {obs_type!r}; one of "
                f"{', '.join(sorted(t.upper() for t in OBSERVATION_TYPES))}."
            )
        where.append("o.type = ?")
        args.append(obs_type.upper())
    level = query.get("level")
    if level:
        if level.upper() not in LEVELS:
            raise BadRequestError(f"Unknown level {level!r}; one of {', '.join(sorted(LEVELS))}.")
        where.append("o.level = ?")
        args.append(level.upper())
    environments = [env for env in query.getlist("environment") if env]
    if environments:
        where.append(f"o.environment IN ({', '.join('?' for _ in environments)})")
        args.extend(environments)
    time_range(request, "o.start_time", "fromStartTime", "toStartTime", where, args)
    apply_filter(query.get("filter"), OBSERVATION_FILTER_COLUMNS, where, args)
    return where, args


@router.get("/api/public/v2/observations")
def list_observations(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    db: Database = request.app.state.db
    query = request.query_params
    groups = parse_groups(query.get("fields"))
    expand = frozenset(
        key.strip() for key in (query.get("expandMetadata") or "").split(",") if key.strip()
    )
    limit = int_param(request, "limit", 50, maximum=MAX_LIMIT)
    if _bool_param(request, "parseIoAsJson"):
        raise BadRequestError(
            "parseIoAsJson is deprecated: input and output are always raw strings. "
            "Remove the parameter and decode them yourself."
        )
    where, args = observation_filters(
        request,
        (
            ("traceId", "o.trace_id"),
            ("name", "o.name"),
            ("userId", "o.user_id"),
            ("sessionId", "o.session_id"),
            ("version", "o.version"),
        ),
    )
    if "parentObservationId" in query:
        parent = query["parentObservationId"]
        if parent:
            where.append("o.parent_observation_id = ?")
            args.append(parent)
        else:
            where.append("o.parent_observation_id IS NULL")
    is_root = _bool_param(request, "isRootObservation")
    if is_root is not None:
        where.append("o.is_root = ?")
        args.append(1 if is_root else 0)
    if query.get("cursor"):
        start, obs_id = decode_cursor(query["cursor"])
        where.append("(o.start_time < ? OR (o.start_time = ? AND o.id < ?))")
        args.extend([start, start, obs_id])

    sql = SELECT
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY o.start_time DESC, o.id DESC LIMIT ?"
    args.append(limit + 1)
    rows = db.conn.execute(sql, args).fetchall()
    meta: dict[str, Any] = {}
    if len(rows) > limit:
        rows = rows[:limit]
        meta["cursor"] = encode_cursor(rows[-1]["start_time"], rows[-1]["id"])
    data = [observation_v2(row, groups, config.project_id, expand) for row in rows]
    return json_response({"data": data, "meta": meta})
