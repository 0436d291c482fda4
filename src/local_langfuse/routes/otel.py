"""OTLP/HTTP trace ingestion (``POST /api/public/otel/v1/traces``), where all SDK tracing lands.

The handler is a plain ``def``: FastAPI runs it in the threadpool, so decompressing, decoding,
mapping and writing a 512-span batch never blocks the event loop that serves prompt reads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.http import now_iso
from local_langfuse.ingest import decode_request, decompress, map_spans, write_batch

router = APIRouter()

# A decompressed body may be this many times the (compressed) body limit: OTLP JSON and
# protobuf compress 3-10x; anything beyond this is treated as a zip bomb.
DECOMPRESSED_FACTOR = 8


async def _body(request: Request) -> bytes:
    return await request.body()


@router.post("/api/public/otel/v1/traces")
def export_traces(request: Request, body: Annotated[bytes, Depends(_body)]) -> Response:
    config: ServerConfig = request.app.state.config
    db: Database = request.app.state.db
    headers = request.headers
    raw = decompress(
        body, headers.get("content-encoding"), config.max_body_bytes * DECOMPRESSED_FACTOR
    )
    spans = decode_request(raw, headers.get("content-type"))
    if spans:
        now = now_iso()
        batch = map_spans(spans, now)
        with db.write() as conn:
            write_batch(conn, batch, now)
    return Response(b"{}", media_type="application/json")
