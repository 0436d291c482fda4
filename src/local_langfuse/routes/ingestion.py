"""``POST /api/public/ingestion``: the legacy batch endpoint, for the events SDKs still send there.

The v4 Python SDK sends scores (``score-create``) and trace tag updates (``trace-create``) here
rather than over OTLP. Each event succeeds or fails on its own, answered in one 207 as Langfuse
does; observation events are refused with a pointer to the OTLP endpoint.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError
from local_langfuse.http import dt_to_ts, json_response, now_iso, parse_ts, read_json
from local_langfuse.ingest import Batch, TraceRow, write_batch
from local_langfuse.routes.scores import _UPSERT, ScoreError, parse_score

router = APIRouter()

MAX_EVENTS = 1000
ERROR_MESSAGE_MAX = 300


class EventError(ValueError):
    """Why one event of a batch was rejected."""


def _event_time(event: dict[str, Any], body: dict[str, Any], now: str) -> str:
    raw = body.get("timestamp") or event.get("timestamp") or now
    try:
        return dt_to_ts(parse_ts(str(raw), "timestamp"))
    except BadRequestError as exc:
        raise EventError(f"timestamp {raw!r} is not an ISO-8601 datetime") from exc


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"'{key}' must be a string")
    return value


def _trace_row(event: dict[str, Any], body: dict[str, Any], now: str) -> TraceRow:
    trace_id = body.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        raise EventError("a trace-create body needs its trace 'id'")
    metadata = body.get("metadata")
    tags = body.get("tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise EventError("'tags' must be a list of strings")

    def io(key: str) -> str | None:
        value = body.get(key)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return TraceRow(
        id=trace_id,
        timestamp=_event_time(event, body, now),
        name=_optional_text(body, "name"),
        user_id=_optional_text(body, "userId"),
        session_id=_optional_text(body, "sessionId"),
        release=_optional_text(body, "release"),
        version=_optional_text(body, "version"),
        input=io("input"),
        output=io("output"),
        metadata=metadata if isinstance(metadata, dict) else {},
        tags=list(tags or []),
        environment=_optional_text(body, "environment"),
        public=body.get("public") is True,
    )


def _parse(event: Any, index: int, now: str, scores: list[Any], traces: list[TraceRow]) -> str:
    """Check one event and queue what it stores; its id. Raises EventError or ScoreError."""
    if not isinstance(event, dict):
        raise EventError(f"event {index}: expected a JSON object")
    body = event.get("body")
    if not isinstance(body, dict):
        raise EventError(f"event {index}: 'body' must be a JSON object")
    kind = event.get("type")
    if kind == "score-create":
        item = {**body, "timestamp": body.get("timestamp") or event.get("timestamp")}
        scores.append(parse_score(item, index, now))
    elif kind == "trace-create":
        traces.append(_trace_row(event, body, now))
    else:
        raise EventError(
            f"event {index}: type {kind!r} is not supported by local-langfuse's batch endpoint; "
            "send traces and observations over OTLP (/api/public/otel/v1/traces)."
        )
    event_id = event.get("id")
    return event_id if isinstance(event_id, str) else str(index)


def _write(db: Database, scores: list[Any], traces: list[TraceRow], now: str) -> None:
    """Store a batch's accepted events in one transaction (trace updates in event order)."""
    if not scores and not traces:
        return
    with db.write() as conn:
        if scores:
            conn.executemany(_UPSERT, scores)
        for trace in traces:
            write_batch(conn, Batch(traces={trace.id: trace}, observations=[]), now)


@router.post("/api/public/ingestion")
def ingest_batch(request: Request, payload: Annotated[Any, Depends(read_json)]) -> Response:
    db: Database = request.app.state.db
    batch = payload.get("batch") if isinstance(payload, dict) else None
    if not isinstance(batch, list):
        raise BadRequestError('Expected a JSON object {"batch": [<event>, ...]}.')
    if len(batch) > MAX_EVENTS:
        raise BadRequestError(
            f"A batch holds at most {MAX_EVENTS} events, got {len(batch)}; split it."
        )
    now = now_iso()
    successes: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    scores: list[Any] = []
    traces: list[TraceRow] = []
    for index, event in enumerate(batch):
        try:
            successes.append({"id": _parse(event, index, now, scores, traces), "status": 201})
        except (EventError, ScoreError) as exc:
            event_id = event.get("id") if isinstance(event, dict) else None
            errors.append(
                {
                    "id": event_id if isinstance(event_id, str) else str(index),
                    "status": 400,
                    "message": str(exc)[:ERROR_MESSAGE_MAX],
                    "error": "InvalidRequestError",
                }
            )
        except RecursionError:
            errors.append(
                {"id": str(index), "status": 400, "message": "event is nested too deeply"}
            )
    _write(db, scores, traces, now)
    return json_response({"successes": successes, "errors": errors}, 207)
