"""``GET /api/public/observations[/{id}]``: the legacy v1 observation reads (page-based).

SDK v4's ``api.legacy.observations_v1`` reads these. Rows have the ``ObservationsView`` shape
(input and output JSON-decoded), built by :func:`local_langfuse.routes.traces.observation_view`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.db import Database
from local_langfuse.errors import NotFoundError
from local_langfuse.http import fetch_page, int_param, json_response, page_meta
from local_langfuse.routes.observations import observation_filters
from local_langfuse.routes.traces import observation_view

router = APIRouter()

MAX_LIMIT = 1000
_FROM = (
    " FROM observations o LEFT JOIN traces t ON t.id = o.trace_id"
    " LEFT JOIN prompts p ON p.name = o.prompt_name AND p.version = o.prompt_version"
)
_SELECT = "SELECT o.*, p.id AS prompt_id" + _FROM


# v1 matches the user on the observation or, failing that, its trace.
_EQUAL = (
    ("name", "o.name"),
    ("traceId", "o.trace_id"),
    ("version", "o.version"),
    ("parentObservationId", "o.parent_observation_id"),
    ("userId", "COALESCE(o.user_id, t.user_id)"),
)


def _page(
    db: Database, where: list[str], args: list[Any], page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows, total = fetch_page(
        db.conn,
        _SELECT + clause,
        "SELECT COUNT(*)" + _FROM + clause,
        args,
        order_by="o.start_time DESC, o.id DESC",
        page=page,
        limit=limit,
    )
    return [observation_view(row) for row in rows], total


@router.get("/api/public/observations")
async def list_observations_v1(request: Request) -> Response:
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50, maximum=MAX_LIMIT)
    where, args = observation_filters(request, _EQUAL)
    db: Database = request.app.state.db
    data, total = await run_in_threadpool(_page, db, where, args, page, limit)
    return json_response({"data": data, "meta": page_meta(page, limit, total)})


def _one(db: Database, observation_id: str) -> dict[str, Any]:
    row = db.conn.execute(_SELECT + " WHERE o.id = ?", (observation_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"Observation {observation_id!r} not found.")
    return observation_view(row)


@router.get("/api/public/observations/{observation_id}")
async def get_observation_v1(observation_id: str, request: Request) -> Response:
    db: Database = request.app.state.db
    return json_response(await run_in_threadpool(_one, db, observation_id))
