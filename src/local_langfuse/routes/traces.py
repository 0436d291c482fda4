"""Traces: ``GET /api/public/traces[/{id}]`` (legacy v1 read API) and trace deletion.

A trace row holds what the spans said about the trace (root name/input/output, propagated
user, session, tags and metadata); latency and cost are computed from its observations.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError, NotFoundError
from local_langfuse.filters import apply_filter
from local_langfuse.http import (
    fetch_page,
    int_param,
    json_response,
    page_meta,
    read_json,
    time_range,
)
from local_langfuse.routes.observations import (
    api_ts,
    decode_json,
    parse_groups,
    seconds_between,
)
from local_langfuse.routes.scores import score_v1

router = APIRouter()

TRACE_GROUPS = ("core", "io", "scores", "observations", "metrics")
ORDER_FIELDS = {
    "id": "id",
    "timestamp": "timestamp",
    "name": "COALESCE(name, root_name)",
    "userId": "user_id",
    "release": "release",
    "version": "version",
    "public": "public",
    "bookmarked": "timestamp",
    "sessionId": "session_id",
}

# The structured filter's columns (Langfuse's trace filter names).
FILTER_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("id", "string"),
    "name": ("COALESCE(name, root_name)", "string"),
    "timestamp": ("timestamp", "datetime"),
    "userId": ("user_id", "string"),
    "sessionId": ("session_id", "string"),
    "release": ("release", "string"),
    "version": ("version", "string"),
    "environment": ("environment", "string"),
    "tags": ("tags", "array"),
    "metadata": ("metadata", "object"),
}


def _html_path(config: ServerConfig, trace_id: str) -> str:
    return f"/project/{config.project_id}/traces/{trace_id}"


def trace_core(row: sqlite3.Row, io: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": row["id"],
        "timestamp": api_ts(row["timestamp"]),
        "name": row["name"] if row["name"] is not None else row["root_name"],
        "sessionId": row["session_id"],
        "release": row["release"],
        "version": row["version"],
        "userId": row["user_id"],
        "tags": json.loads(row["tags"]),
        "public": bool(row["public"]),
        "environment": row["environment"],
    }
    if io:
        item.update(
            input=decode_json(row["input"]),
            output=decode_json(row["output"]),
            metadata=json.loads(row["metadata"]),
        )
    return item


def observation_view(row: sqlite3.Row) -> dict[str, Any]:
    """The legacy ``ObservationsView`` shape (every key present, I/O JSON-decoded)."""
    usage = json.loads(row["usage_details"])
    cost = json.loads(row["cost_details"])
    return {
        "id": row["id"],
        "traceId": row["trace_id"],
        "type": row["type"],
        "name": row["name"] or "",
        "startTime": api_ts(row["start_time"]),
        "endTime": api_ts(row["end_time"]),
        "completionStartTime": api_ts(row["completion_start_time"]),
        "model": row["model"],
        "modelParameters": decode_json(row["model_parameters"]),
        "input": decode_json(row["input"]),
        "output": decode_json(row["output"]),
        "version": row["version"],
        "metadata": json.loads(row["metadata"]),
        "usage": {
            "input": usage.get("input", 0),
            "output": usage.get("output", 0),
            "total": usage.get("total", 0),
            "unit": "TOKENS" if usage else None,
            "inputCost": cost.get("input"),
            "outputCost": cost.get("output"),
            "totalCost": cost.get("total"),
        },
        "level": row["level"],
        "statusMessage": row["status_message"],
        "parentObservationId": row["parent_observation_id"],
        "promptId": row["prompt_id"],
        "promptName": row["prompt_name"],
        "promptVersion": row["prompt_version"],
        "usageDetails": usage,
        "costDetails": cost,
        "environment": row["environment"],
        "modelId": None,
        "inputPrice": None,
        "outputPrice": None,
        "totalPrice": None,
        "calculatedInputCost": cost.get("input"),
        "calculatedOutputCost": cost.get("output"),
        "calculatedTotalCost": cost.get("total"),
        "latency": seconds_between(row["start_time"], row["end_time"]),
        "timeToFirstToken": seconds_between(row["start_time"], row["completion_start_time"]),
    }


def _metrics(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[float | None, float]]:
    """Per trace: latency (first start → last end, seconds) and total cost."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = conn.execute(
        "SELECT trace_id, MIN(start_time) AS first, MAX(COALESCE(end_time, start_time)) AS last,"
        f" COALESCE(SUM(total_cost), 0) AS cost FROM observations WHERE trace_id IN ({marks})"
        " GROUP BY trace_id",
        ids,
    ).fetchall()
    return {
        row["trace_id"]: (seconds_between(row["first"], row["last"]), row["cost"]) for row in rows
    }


def _groups(request: Request) -> frozenset[str]:
    return parse_groups(request.query_params.get("fields"), TRACE_GROUPS, frozenset(TRACE_GROUPS))


@router.get("/api/public/traces/{trace_id}")
def get_trace(trace_id: str, request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    conn = request.app.state.db.conn
    groups = _groups(request)
    row = conn.execute("SELECT * FROM traces WHERE id = ?", (trace_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"Trace {trace_id!r} not found.")
    item = trace_core(row, "io" in groups)
    item["htmlPath"] = _html_path(config, trace_id)
    item["externalId"] = None  # Langfuse's legacy field, always present on the detail
    observations: list[dict[str, Any]] = []
    if "observations" in groups:
        obs_rows = conn.execute(
            "SELECT o.*, p.id AS prompt_id FROM observations o LEFT JOIN prompts p"
            " ON p.name = o.prompt_name AND p.version = o.prompt_version"
            " WHERE o.trace_id = ? ORDER BY o.start_time, o.id",
            (trace_id,),
        ).fetchall()
        observations = [observation_view(obs) for obs in obs_rows]
    scores: list[dict[str, Any]] = []
    if "scores" in groups:
        score_rows = conn.execute(
            "SELECT * FROM scores WHERE trace_id = ? ORDER BY timestamp", (trace_id,)
        ).fetchall()
        scores = [s for s in (score_v1(r) for r in score_rows) if s is not None]
    latency, cost = _metrics(conn, [trace_id]).get(trace_id, (None, 0.0))
    if "metrics" not in groups:
        latency, cost = -1, -1
    item.update(observations=observations, scores=scores, latency=latency, totalCost=cost)
    return json_response(item)


@router.get("/api/public/traces")
def list_traces(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    conn = request.app.state.db.conn
    query = request.query_params
    groups = _groups(request)
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50, maximum=1000)
    where: list[str] = []
    args: list[Any] = []
    apply_filter(query.get("filter"), FILTER_COLUMNS, where, args)
    for param, column in (
        ("userId", "user_id"),
        ("sessionId", "session_id"),
        ("version", "version"),
        ("release", "release"),
    ):
        if query.get(param):
            where.append(f"{column} = ?")
            args.append(query[param])
    if query.get("name"):
        where.append("COALESCE(name, root_name) = ?")
        args.append(query["name"])
    for tag in query.getlist("tags"):
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(traces.tags) WHERE value = ?)")
            args.append(tag)
    environments = [env for env in query.getlist("environment") if env]
    if environments:
        where.append(f"environment IN ({', '.join('?' for _ in environments)})")
        args.extend(environments)
    time_range(request, "timestamp", "fromTimestamp", "toTimestamp", where, args)
    order = "timestamp DESC"
    if query.get("orderBy"):
        field, _, direction = query["orderBy"].partition(".")
        direction = direction.lower() or "desc"
        if field not in ORDER_FIELDS or direction not in ("asc", "desc"):
            raise BadRequestError(
                f"orderBy must be <field>.<asc|desc> with field one of "
                f"{', '.join(ORDER_FIELDS)}; got {query['orderBy']!r}."
            )
        order = f"{ORDER_FIELDS[field]} {direction.upper()}"
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows, total = fetch_page(
        conn,
        f"SELECT * FROM traces{clause}",
        f"SELECT COUNT(*) FROM traces{clause}",
        args,
        order_by=f"{order}, id DESC",
        page=page,
        limit=limit,
    )
    ids = [row["id"] for row in rows]
    metrics = _metrics(conn, ids) if "metrics" in groups else {}
    obs_ids: dict[str, list[str]] = {tid: [] for tid in ids}
    score_ids: dict[str, list[str]] = {tid: [] for tid in ids}
    if ids:
        marks = ", ".join("?" for _ in ids)
        if "observations" in groups:
            for obs in conn.execute(
                f"SELECT id, trace_id FROM observations WHERE trace_id IN ({marks})"
                " ORDER BY start_time",
                ids,
            ):
                obs_ids[obs["trace_id"]].append(obs["id"])
        if "scores" in groups:
            for score in conn.execute(
                f"SELECT id, trace_id FROM scores WHERE trace_id IN ({marks}) ORDER BY timestamp",
                ids,
            ):
                score_ids[score["trace_id"]].append(score["id"])
    data = []
    for row in rows:
        item = trace_core(row, "io" in groups)
        latency, cost = metrics.get(row["id"], (None, 0.0)) if "metrics" in groups else (-1, -1)
        item.update(
            htmlPath=_html_path(config, row["id"]),
            latency=latency,
            totalCost=cost,
            observations=obs_ids[row["id"]],
            scores=score_ids[row["id"]],
        )
        data.append(item)
    return json_response({"data": data, "meta": page_meta(page, limit, total)})


def _delete(db: Database, trace_ids: list[str]) -> None:
    marks = ", ".join("?" for _ in trace_ids)
    with db.write() as conn:
        conn.execute(f"DELETE FROM observations WHERE trace_id IN ({marks})", trace_ids)
        conn.execute(f"DELETE FROM scores WHERE trace_id IN ({marks})", trace_ids)
        conn.execute(f"DELETE FROM traces WHERE id IN ({marks})", trace_ids)


@router.delete("/api/public/traces/{trace_id}")
def delete_trace(trace_id: str, request: Request) -> Response:
    _delete(request.app.state.db, [trace_id])
    return json_response({"message": "Trace deleted successfully"})


@router.delete("/api/public/traces")
def delete_traces(request: Request, payload: Annotated[Any, Depends(read_json)]) -> Response:
    ids = payload.get("traceIds") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise BadRequestError('Expected a JSON object {"traceIds": ["<trace id>", ...]}.')
    if not ids:
        raise BadRequestError("'traceIds' is empty; list at least one trace id.")
    for offset in range(0, len(ids), 500):
        _delete(request.app.state.db, ids[offset : offset + 500])
    return json_response({"message": "Traces deleted successfully"})
