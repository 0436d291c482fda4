"""Datasets and dataset items, as ``create_dataset``, ``create_dataset_item``, ``get_dataset`` use.

Datasets are upserted by name and items by id, as Langfuse does. Database work runs in the
thread pool so that a long write elsewhere (an OTLP batch) never stalls the event loop.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError, NotFoundError
from local_langfuse.http import (
    fetch_page,
    format_ts,
    int_param,
    json_response,
    json_type,
    now_iso,
    page_meta,
    parse_ts,
    read_json,
)
from local_langfuse.routes.media import media_references

router = APIRouter()

DATASETS_PREFIX = "/api/public/v2/datasets/"
STATUSES = ("ACTIVE", "ARCHIVED")
MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 1000

_ITEM_SELECT = """
    SELECT i.*, d.name AS dataset_name
    FROM dataset_items AS i JOIN datasets AS d ON d.id = i.dataset_id
"""

# An item as of a version timestamp (the first parameter): its latest stored state by then.
# Its columns shadow the item's own, so ``i.status`` in a WHERE clause is the state of then.
_VERSIONED_FROM = """
    FROM (
        SELECT d_i.id, d_i.dataset_id, d_i.created_at, d_i.rowid AS rowid,
               v.status, v.input, v.expected_output, v.metadata, v.source_trace_id,
               v.source_observation_id, v.valid_from AS updated_at
        FROM dataset_items AS d_i JOIN dataset_item_versions AS v ON v.rowid = (
            SELECT rowid FROM dataset_item_versions
            WHERE item_id = d_i.id AND valid_from <= ?
            ORDER BY valid_from DESC, rowid DESC LIMIT 1
        )
    ) AS i JOIN datasets AS d ON d.id = i.dataset_id
"""
_VERSIONED_SELECT = "SELECT i.*, d.name AS dataset_name" + _VERSIONED_FROM


# --- request parsing -----------------------------------------------------------------------


def _object_body(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestError(
            f"Request body must be a JSON object ({what}), got {json_type(body)}."
        )
    return body


def _required_str(body: dict[str, Any], key: str, max_length: int = MAX_NAME_LENGTH) -> str:
    value = body.get(key)
    if value is None:
        raise BadRequestError(f"Field '{key}' is required.")
    return _checked_str(value, key, max_length)


def _optional_str(body: dict[str, Any], key: str, max_length: int = MAX_NAME_LENGTH) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    return _checked_str(value, key, max_length)


def _checked_str(value: Any, key: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise BadRequestError(f"Field '{key}' must be a string, got {json_type(value)}.")
    if not value.strip():
        raise BadRequestError(f"Field '{key}' must not be empty.")
    if len(value) > max_length:
        raise BadRequestError(f"Field '{key}' must be at most {max_length} characters.")
    return value


def _optional_status(body: dict[str, Any]) -> str | None:
    value = body.get("status")
    if value is None:
        return None
    if value not in STATUSES:
        raise BadRequestError(
            f"Field 'status' must be one of {', '.join(STATUSES)}, got {json.dumps(value)}."
        )
    return str(value)


def _to_text(value: Any) -> str | None:
    """A JSON value as stored in a TEXT column (``None`` stays SQL NULL)."""
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _from_text(value: str | None) -> Any:
    return None if value is None else json.loads(value)


# --- row → response ------------------------------------------------------------------------


def _dataset_json(row: sqlite3.Row, project_id: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "metadata": _from_text(row["metadata"]),
        "inputSchema": _from_text(row["input_schema"]),
        "expectedOutputSchema": _from_text(row["expected_output_schema"]),
        "projectId": project_id,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def _item_json(row: sqlite3.Row, request: Request | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "input": _from_text(row["input"]),
        "expectedOutput": _from_text(row["expected_output"]),
        "metadata": _from_text(row["metadata"]),
        "sourceTraceId": row["source_trace_id"],
        "sourceObservationId": row["source_observation_id"],
        "datasetId": row["dataset_id"],
        "datasetName": row["dataset_name"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "mediaReferences": [] if request is None else media_references(request, row),
    }


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _project_id(request: Request) -> str:
    config: ServerConfig = request.app.state.config
    return config.project_id


# --- datasets ------------------------------------------------------------------------------


def _upsert_dataset(db: Database, body: dict[str, Any]) -> sqlite3.Row:
    name = _required_str(body, "name")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise BadRequestError(
            f"Field 'description' must be a string or null, got {json_type(description)}."
        )
    for key in ("inputSchema", "expectedOutputSchema"):
        schema = body.get(key)
        if schema is not None and not isinstance(schema, dict | bool):
            raise BadRequestError(
                f"Field '{key}' must be a JSON Schema (an object) or null, got {json_type(schema)}."
            )
    now = now_iso()
    with db.write() as conn:
        # Langfuse upserts on the name; fields sent as null keep their stored value.
        conn.execute(
            """
            INSERT INTO datasets (id, name, description, metadata, input_schema,
                                  expected_output_schema, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET
                description = COALESCE(excluded.description, description),
                metadata = COALESCE(excluded.metadata, metadata),
                input_schema = COALESCE(excluded.input_schema, input_schema),
                expected_output_schema =
                    COALESCE(excluded.expected_output_schema, expected_output_schema),
                updated_at = excluded.updated_at
            """,
            (
                str(uuid.uuid4()),
                name,
                description,
                _to_text(body.get("metadata")),
                _to_text(body.get("inputSchema")),
                _to_text(body.get("expectedOutputSchema")),
                now,
                now,
            ),
        )
        row: sqlite3.Row = conn.execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
    return row


@router.post("/api/public/v2/datasets")
async def create_dataset(request: Request) -> Response:
    body = _object_body(await read_json(request), "a dataset with at least a 'name'")
    row = await run_in_threadpool(_upsert_dataset, _db(request), body)
    return json_response(_dataset_json(row, _project_id(request)))


def _list_datasets(db: Database, page: int, limit: int) -> tuple[list[sqlite3.Row], int]:
    return fetch_page(
        db.conn,
        "SELECT * FROM datasets",
        "SELECT COUNT(*) FROM datasets",
        (),
        order_by="created_at DESC, rowid DESC",
        page=page,
        limit=limit,
    )


@router.get("/api/public/v2/datasets")
async def list_datasets(request: Request) -> Response:
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50)
    rows, total = await run_in_threadpool(_list_datasets, _db(request), page, limit)
    project_id = _project_id(request)
    return json_response(
        {
            "data": [_dataset_json(row, project_id) for row in rows],
            "meta": page_meta(page, limit, total),
        }
    )


def _dataset_by_name(db: Database, name: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.conn.execute(
        "SELECT * FROM datasets WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"Dataset '{name}' not found.")
    return row


def _raw_name(request: Request, prefix: str) -> str:
    """The percent-decoded path remainder after ``prefix``, taken from the raw path.

    Names may contain ``/`` (folders); clients send it as ``%2F``, which the decoded path
    would turn into a separator.
    """
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    text = raw.decode("latin-1").split("?", 1)[0]
    index = text.find(prefix)
    remainder = text[index + len(prefix) :] if index >= 0 else ""
    return unquote(remainder, encoding="utf-8", errors="strict")


@router.get("/api/public/v2/datasets/{name:path}")
async def get_dataset(request: Request) -> Response:
    try:
        name = _raw_name(request, DATASETS_PREFIX)
    except UnicodeDecodeError as exc:
        raise BadRequestError("Dataset name in the path is not valid UTF-8.") from exc
    if not name:
        raise BadRequestError("Dataset name is missing from the path.")
    row = await run_in_threadpool(_dataset_by_name, _db(request), name)
    return json_response(_dataset_json(row, _project_id(request)))


# --- dataset items -------------------------------------------------------------------------


def _upsert_item(db: Database, body: dict[str, Any]) -> sqlite3.Row:
    dataset_name = _required_str(body, "datasetName")
    item_id = _optional_str(body, "id", MAX_ID_LENGTH) or str(uuid.uuid4())
    status = _optional_status(body)
    trace_id = _optional_str(body, "sourceTraceId", MAX_ID_LENGTH)
    observation_id = _optional_str(body, "sourceObservationId", MAX_ID_LENGTH)
    now = now_iso()
    with db.write() as conn:
        dataset = conn.execute("SELECT id FROM datasets WHERE name = ?", (dataset_name,)).fetchone()
        if dataset is None:
            raise NotFoundError(
                f"Dataset '{dataset_name}' not found; create it first (create_dataset)."
            )
        existing = conn.execute(
            "SELECT i.dataset_id, d.name FROM dataset_items AS i "
            "JOIN datasets AS d ON d.id = i.dataset_id WHERE i.id = ?",
            (item_id,),
        ).fetchone()
        if existing is not None and existing[0] != dataset[0]:
            raise BadRequestError(
                f"Dataset item '{item_id}' already belongs to dataset '{existing[1]}'; "
                "item ids are unique per project and cannot move between datasets."
            )
        # Upsert on the id; fields sent as null keep their stored value (as in Langfuse).
        conn.execute(
            """
            INSERT INTO dataset_items (id, dataset_id, status, input, expected_output, metadata,
                                       source_trace_id, source_observation_id,
                                       created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                status = COALESCE(?, status),
                input = COALESCE(excluded.input, input),
                expected_output = COALESCE(excluded.expected_output, expected_output),
                metadata = COALESCE(excluded.metadata, metadata),
                source_trace_id = COALESCE(excluded.source_trace_id, source_trace_id),
                source_observation_id =
                    COALESCE(excluded.source_observation_id, source_observation_id),
                updated_at = excluded.updated_at
            """,
            (
                item_id,
                dataset[0],
                status or "ACTIVE",
                _to_text(body.get("input")),
                _to_text(body.get("expectedOutput")),
                _to_text(body.get("metadata")),
                trace_id,
                observation_id,
                now,
                now,
                status,
            ),
        )
        row: sqlite3.Row = conn.execute(_ITEM_SELECT + " WHERE i.id = ?", (item_id,)).fetchone()
        # The state as of now, for reads of the dataset "as of" a later version timestamp.
        conn.execute(
            "INSERT INTO dataset_item_versions (item_id, valid_from, status, input,"
            " expected_output, metadata, source_trace_id, source_observation_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                now,
                row["status"],
                row["input"],
                row["expected_output"],
                row["metadata"],
                row["source_trace_id"],
                row["source_observation_id"],
            ),
        )
    return row


@router.post("/api/public/dataset-items")
async def create_dataset_item(request: Request) -> Response:
    body = _object_body(await read_json(request), "a dataset item with at least 'datasetName'")
    row = await run_in_threadpool(_upsert_item, _db(request), body)
    return json_response(_item_json(row, request))


def _list_items(
    db: Database, filters: dict[str, str | None], page: int, limit: int
) -> tuple[list[sqlite3.Row], int]:
    conn = db.conn
    where: list[str] = []
    args: list[Any] = []
    dataset_name = filters["datasetName"]
    if dataset_name is not None:
        dataset = _dataset_by_name(db, dataset_name)
        where.append("i.dataset_id = ?")
        args.append(dataset["id"])
    if filters["sourceTraceId"] is not None:
        where.append("i.source_trace_id = ?")
        args.append(filters["sourceTraceId"])
    if filters["sourceObservationId"] is not None:
        where.append("i.source_observation_id = ?")
        args.append(filters["sourceObservationId"])
    version = filters["version"]
    if version is None:
        # Archived items are left out of a dataset's items, as in Langfuse.
        select, count = _ITEM_SELECT, "SELECT COUNT(*) FROM dataset_items AS i"
        where.append("i.status = 'ACTIVE'")
    else:
        # Items as they were at that time: created by then, in their state of then.
        select, count = _VERSIONED_SELECT, "SELECT COUNT(*)" + _VERSIONED_FROM
        where.append("i.created_at <= ? AND i.status = 'ACTIVE'")
        args = [version, *args, version]
    clause = " WHERE " + " AND ".join(where)
    return fetch_page(
        conn,
        select + clause,
        count + clause,
        args,
        order_by="i.created_at DESC, i.rowid DESC",
        page=page,
        limit=limit,
    )


@router.get("/api/public/dataset-items")
async def list_dataset_items(request: Request) -> Response:
    page = int_param(request, "page", 1)
    limit = int_param(request, "limit", 50)
    params = request.query_params
    version = params.get("version")
    filters: dict[str, str | None] = {
        "datasetName": params.get("datasetName") or None,
        "sourceTraceId": params.get("sourceTraceId") or None,
        "sourceObservationId": params.get("sourceObservationId") or None,
        # Items as they existed then: those created by that time (updates are not versioned).
        "version": None if not version else format_ts(parse_ts(version, "version")),
    }
    rows, total = await run_in_threadpool(_list_items, _db(request), filters, page, limit)
    return json_response(
        {
            "data": [_item_json(row, request) for row in rows],
            "meta": page_meta(page, limit, total),
        }
    )


def _get_item(db: Database, item_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.conn.execute(
        _ITEM_SELECT + " WHERE i.id = ?", (item_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"Dataset item '{item_id}' not found.")
    return row


def _delete_item(db: Database, item_id: str) -> None:
    with db.write() as conn:
        deleted = conn.execute("DELETE FROM dataset_items WHERE id = ?", (item_id,)).rowcount
    if not deleted:
        raise NotFoundError(f"Dataset item '{item_id}' not found.")


@router.get("/api/public/dataset-items/{item_id:path}")
async def get_dataset_item(request: Request, item_id: str) -> Response:
    row = await run_in_threadpool(_get_item, _db(request), item_id)
    return json_response(_item_json(row, request))


@router.delete("/api/public/dataset-items/{item_id:path}")
async def delete_dataset_item(request: Request, item_id: str) -> Response:
    await run_in_threadpool(_delete_item, _db(request), item_id)
    return json_response({"message": "Dataset item successfully deleted"})
