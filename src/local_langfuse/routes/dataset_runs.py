"""Dataset runs: ``/api/public/dataset-run-items`` and ``/api/public/datasets/{name}/runs``.

``run_experiment`` on a Langfuse dataset links each item's trace to a run with
``POST /api/public/dataset-run-items``; the run is created by its first item (name unique per
dataset), as Langfuse does.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError, NotFoundError, NotImplementedApiError
from local_langfuse.http import (
    fetch_page,
    int_param,
    json_response,
    json_type,
    now_iso,
    page_meta,
    read_json,
)
from local_langfuse.routes.datasets import _from_text, _to_text

router = APIRouter()

MAX_LIMIT = 100
_RUN_SELECT = """
    SELECT r.*, d.name AS dataset_name FROM dataset_runs AS r
    JOIN datasets AS d ON d.id = r.dataset_id
"""
_ITEM_SELECT = """
    SELECT ri.*, r.name AS run_name FROM dataset_run_items AS ri
    JOIN dataset_runs AS r ON r.id = ri.run_id
"""


def _run_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "metadata": _from_text(row["metadata"]),
        "datasetId": row["dataset_id"],
        "datasetName": row["dataset_name"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def _run_item_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "datasetRunId": row["run_id"],
        "datasetRunName": row["run_name"],
        "datasetItemId": row["dataset_item_id"],
        "traceId": row["trace_id"],
        "observationId": row["observation_id"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def _text_field(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequestError(f"Field '{key}' is required.")
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"Field '{key}' must be a non-empty string, got {json_type(value)}.")
    return value


def _create_run_item(db: Database, body: dict[str, Any]) -> sqlite3.Row:
    run_name = _text_field(body, "runName", required=True)
    item_id = _text_field(body, "datasetItemId", required=True)
    description = _text_field(body, "runDescription")
    trace_id = _text_field(body, "traceId")
    observation_id = _text_field(body, "observationId")
    if trace_id is None and observation_id is None:
        raise BadRequestError("Give the 'traceId' (and optionally 'observationId') to link.")
    now = now_iso()
    with db.write() as conn:
        item = conn.execute(
            "SELECT dataset_id FROM dataset_items WHERE id = ?", (item_id,)
        ).fetchone()
        if item is None:
            raise NotFoundError(f"Dataset item '{item_id}' not found.")
        conn.execute(
            "INSERT INTO dataset_runs (id, dataset_id, name, description, metadata, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dataset_id, name) DO UPDATE"
            " SET description = COALESCE(excluded.description, description),"
            " metadata = COALESCE(excluded.metadata, metadata), updated_at = excluded.updated_at",
            (
                str(uuid.uuid4()),
                item["dataset_id"],
                run_name,
                description,
                _to_text(body.get("metadata")),
                now,
                now,
            ),
        )
        run = conn.execute(
            "SELECT id FROM dataset_runs WHERE dataset_id = ? AND name = ?",
            (item["dataset_id"], run_name),
        ).fetchone()
        run_item_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO dataset_run_items (id, run_id, dataset_item_id, trace_id,"
            " observation_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_item_id, run["id"], item_id, trace_id, observation_id, now, now),
        )
        row: sqlite3.Row = conn.execute(
            _ITEM_SELECT + " WHERE ri.id = ?", (run_item_id,)
        ).fetchone()
    return row


@router.post("/api/public/dataset-run-items")
async def create_dataset_run_item(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestError(
            "Request body must be a JSON object with 'runName', 'datasetItemId' and 'traceId'."
        )
    row = await run_in_threadpool(_create_run_item, request.app.state.db, body)
    return json_response(_run_item_json(row))


def _list_run_items(
    db: Database, dataset_id: str, run_name: str, page: int, limit: int
) -> tuple[list[sqlite3.Row], int]:
    where = " WHERE r.dataset_id = ? AND r.name = ?"
    return fetch_page(
        db.conn,
        _ITEM_SELECT + where,
        "SELECT COUNT(*) FROM dataset_run_items AS ri JOIN dataset_runs AS r"
        " ON r.id = ri.run_id" + where,
        [dataset_id, run_name],
        order_by="ri.created_at DESC, ri.rowid DESC",
        page=page,
        limit=limit,
    )


@router.get("/api/public/dataset-run-items")
async def list_dataset_run_items(request: Request) -> Response:
    query = request.query_params
    dataset_id, run_name = query.get("datasetId"), query.get("runName")
    if not dataset_id or not run_name:
        raise BadRequestError("Query parameters 'datasetId' and 'runName' are both required.")
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50, maximum=MAX_LIMIT)
    rows, total = await run_in_threadpool(
        _list_run_items, request.app.state.db, dataset_id, run_name, page, limit
    )
    return json_response(
        {"data": [_run_item_json(row) for row in rows], "meta": page_meta(page, limit, total)}
    )


def _dataset_id(conn: sqlite3.Connection, name: str) -> str:
    row = conn.execute("SELECT id FROM datasets WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"Dataset '{name}' not found.")
    return str(row["id"])


def _list_runs(db: Database, name: str, page: int, limit: int) -> tuple[list[sqlite3.Row], int]:
    conn = db.conn
    dataset_id = _dataset_id(conn, name)
    return fetch_page(
        conn,
        _RUN_SELECT + " WHERE r.dataset_id = ?",
        "SELECT COUNT(*) FROM dataset_runs WHERE dataset_id = ?",
        (dataset_id,),
        order_by="r.created_at DESC, r.rowid DESC",
        page=page,
        limit=limit,
    )


_DATASETS = "/api/public/datasets/"


def _run_path(request: Request) -> tuple[str, str | None]:
    """``(dataset name, run name or None)`` from ``/api/public/datasets/{name}/runs[/{run}]``,
    read from the raw path: names may hold ``/`` (folders), sent as ``%2F``."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    text = raw.decode("latin-1").split("?", 1)[0]
    segments = text[text.find(_DATASETS) + len(_DATASETS) :].split("/")
    try:
        decoded = [unquote(segment, encoding="utf-8", errors="strict") for segment in segments]
    except UnicodeDecodeError as exc:
        raise BadRequestError("The path is not valid UTF-8.") from exc
    if len(decoded) in (2, 3) and decoded[0] and decoded[1] == "runs":
        run = decoded[2] if len(decoded) == 3 else None
        if run == "":
            raise BadRequestError("The run name is missing from the path.")
        return decoded[0], run
    raise _not_implemented(request)


def _not_implemented(request: Request) -> NotImplementedApiError:
    return NotImplementedApiError(
        f"{request.method} {request.url.path} is not implemented by local-langfuse. "
        "Point LANGFUSE_BASE_URL at a real Langfuse server for this feature."
    )


@router.get("/api/public/datasets/{rest:path}")
async def read_dataset_runs(request: Request) -> Response:
    """``GET …/{name}/runs`` lists a dataset's runs; ``GET …/{name}/runs/{run}`` reads one."""
    dataset_name, run_name = _run_path(request)
    if run_name is not None:
        body = await run_in_threadpool(_get_run, request.app.state.db, dataset_name, run_name)
        return json_response(body)
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50, maximum=MAX_LIMIT)
    rows, total = await run_in_threadpool(
        _list_runs, request.app.state.db, dataset_name, page, limit
    )
    return json_response(
        {"data": [_run_json(row) for row in rows], "meta": page_meta(page, limit, total)}
    )


def _get_run(db: Database, name: str, run_name: str) -> dict[str, Any]:
    conn = db.conn
    dataset_id = _dataset_id(conn, name)
    run = conn.execute(
        _RUN_SELECT + " WHERE r.dataset_id = ? AND r.name = ?", (dataset_id, run_name)
    ).fetchone()
    if run is None:
        raise NotFoundError(f"Dataset run '{run_name}' not found in dataset '{name}'.")
    items = conn.execute(
        _ITEM_SELECT + " WHERE ri.run_id = ? ORDER BY ri.created_at, ri.rowid", (run["id"],)
    ).fetchall()
    return {**_run_json(run), "datasetRunItems": [_run_item_json(item) for item in items]}


def _delete_run(db: Database, name: str, run_name: str) -> None:
    with db.write() as conn:
        dataset_id = _dataset_id(conn, name)
        deleted = conn.execute(
            "DELETE FROM dataset_runs WHERE dataset_id = ? AND name = ?", (dataset_id, run_name)
        ).rowcount
    if not deleted:
        raise NotFoundError(f"Dataset run '{run_name}' not found in dataset '{name}'.")


@router.delete("/api/public/datasets/{rest:path}")
async def delete_dataset_run(request: Request) -> Response:
    dataset_name, run_name = _run_path(request)
    if run_name is None:
        raise _not_implemented(request)
    await run_in_threadpool(_delete_run, request.app.state.db, dataset_name, run_name)
    return json_response({"message": "Dataset run successfully deleted"})
