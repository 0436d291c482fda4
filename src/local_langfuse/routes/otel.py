"""OTLP/HTTP trace ingestion (``POST /api/public/otel/v1/traces``), where all SDK tracing lands.

Decompressing, decoding, mapping and storing a large export is CPU-bound Python: all of it runs
in the app's worker process (:class:`~local_langfuse.ingest_pool.IngestPool`), which writes to
the same SQLite file, so that it neither blocks the event loop that serves prompt reads nor
holds the GIL against it. Small bodies run in the threadpool.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.http import now_iso
from local_langfuse.ingest import OverBudgetError, decode_and_map, ingest_into, write_batch
from local_langfuse.ingest_pool import IngestPool

router = APIRouter()

# A decompressed body may be this many times the (compressed) body limit: OTLP JSON and
# protobuf compress 3-10x; anything beyond this is treated as a zip bomb.
DECOMPRESSED_FACTOR = 8


# A body handled in the server process may take this much memory to parse (a small gzip body
# can hold a large document); a bigger one goes to the worker process and its larger budget.
IN_PROCESS_JSON_BUDGET = 16 * 1024 * 1024


def _ingest_here(
    db: Database,
    body: bytes,
    content_encoding: str | None,
    content_type: str | None,
    limit: int,
    now: str,
) -> None:
    batch = decode_and_map(
        body, content_encoding, content_type, limit, now, budget=IN_PROCESS_JSON_BUDGET
    )
    if batch.observations:
        with db.write() as conn:
            write_batch(conn, batch, now)


@router.post("/api/public/otel/v1/traces")
async def export_traces(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    pool: IngestPool = request.app.state.ingest_pool
    body = await request.body()
    encoding = request.headers.get("content-encoding")
    content_type = request.headers.get("content-type")
    limit = config.max_body_bytes * DECOMPRESSED_FACTOR
    now = now_iso()
    job = partial(ingest_into, str(config.db_path), body, encoding, content_type, limit, now)
    if pool.wants(body):
        await pool.run(job)
    else:
        db: Database = request.app.state.db
        try:
            await run_in_threadpool(_ingest_here, db, body, encoding, content_type, limit, now)
        except OverBudgetError:
            await pool.run(job)
    return Response(b"{}", media_type="application/json")
