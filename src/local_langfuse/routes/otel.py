"""OTLP/HTTP trace ingestion (``POST /api/public/otel/v1/traces``), where all SDK tracing lands.

Decompressing, decoding and mapping a large export is CPU-bound Python: it runs in the app's
worker process (:class:`~local_langfuse.ingest_pool.IngestPool`), so that it neither blocks the
event loop that serves prompt reads nor holds the GIL against it. Small bodies, and the SQLite
write of every batch, run in the threadpool.
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
from local_langfuse.ingest import Batch, decode_and_map, write_batch
from local_langfuse.ingest_pool import IngestPool

router = APIRouter()

# A decompressed body may be this many times the (compressed) body limit: OTLP JSON and
# protobuf compress 3-10x; anything beyond this is treated as a zip bomb.
DECOMPRESSED_FACTOR = 8


def _store(db: Database, batch: Batch, now: str) -> None:
    if batch.observations:
        with db.write() as conn:
            write_batch(conn, batch, now)


def _ingest_here(db: Database, job: partial[Batch], now: str) -> None:
    _store(db, job(), now)


@router.post("/api/public/otel/v1/traces")
async def export_traces(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    db: Database = request.app.state.db
    pool: IngestPool = request.app.state.ingest_pool
    body = await request.body()
    headers = request.headers
    now = now_iso()
    job = partial(
        decode_and_map,
        body,
        headers.get("content-encoding"),
        headers.get("content-type"),
        config.max_body_bytes * DECOMPRESSED_FACTOR,
        now,
    )
    if pool.wants(body):
        batch = await pool.run(job)
        await run_in_threadpool(_store, db, batch, now)
    else:
        await run_in_threadpool(_ingest_here, db, job, now)
    return Response(b"{}", media_type="application/json")
