"""``GET /api/public/sessions[/{id}]``: sessions as Langfuse derives them, from traces' session ids.

A session exists once a trace names it; it was created with its first trace and keeps that
trace's environment.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import NotFoundError
from local_langfuse.http import fetch_page, int_param, json_response, page_meta, time_range
from local_langfuse.routes.observations import api_ts
from local_langfuse.routes.traces import trace_core

router = APIRouter()

MAX_LIMIT = 100
# One row per session: when its first trace started, and that trace's environment.
_SESSIONS = """
SELECT session_id AS id, MIN(timestamp) AS created_at,
       (SELECT environment FROM traces AS f WHERE f.session_id = t.session_id
        ORDER BY f.timestamp LIMIT 1) AS environment
FROM traces AS t WHERE session_id IS NOT NULL GROUP BY session_id
"""


def _session(row: Any, project_id: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "createdAt": api_ts(row["created_at"]),
        "projectId": project_id,
        "environment": row["environment"],
    }


def _list(
    db: Database, where: list[str], args: list[Any], page: int, limit: int
) -> tuple[list[Any], int]:
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    sql = f"SELECT * FROM ({_SESSIONS}){clause}"
    return fetch_page(
        db.conn,
        sql,
        f"SELECT COUNT(*) FROM ({sql})",
        args,
        order_by="created_at DESC, id DESC",
        page=page,
        limit=limit,
    )


@router.get("/api/public/sessions")
async def list_sessions(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50, maximum=MAX_LIMIT)
    where: list[str] = []
    args: list[Any] = []
    time_range(request, "created_at", "fromTimestamp", "toTimestamp", where, args)
    environments = [env for env in request.query_params.getlist("environment") if env]
    if environments:
        where.append(f"environment IN ({', '.join('?' for _ in environments)})")
        args.extend(environments)
    rows, total = await run_in_threadpool(_list, request.app.state.db, where, args, page, limit)
    return json_response(
        {
            "data": [_session(row, config.project_id) for row in rows],
            "meta": page_meta(page, limit, total),
        }
    )


def _one(db: Database, session_id: str, project_id: str) -> dict[str, Any]:
    conn = db.conn
    traces = conn.execute(
        "SELECT * FROM traces WHERE session_id = ? ORDER BY timestamp", (session_id,)
    ).fetchall()
    if not traces:
        raise NotFoundError(f"Session {session_id!r} not found.")
    return {
        "id": session_id,
        "createdAt": api_ts(traces[0]["timestamp"]),
        "projectId": project_id,
        "environment": traces[0]["environment"],
        "traces": [trace_core(row, True) for row in traces],
    }


@router.get("/api/public/sessions/{session_id}")
async def get_session(session_id: str, request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    body = await run_in_threadpool(_one, request.app.state.db, session_id, config.project_id)
    return json_response(body)
