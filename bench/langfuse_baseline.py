"""The bench's baseline: the same FastAPI + uvicorn stack with no storage and no auth.

``GET /api/public/v2/prompts/{name}`` answers a fixed JSON document (the bytes the real
server returned for the bench prompt); ``POST /api/public/otel/v1/traces`` gunzips and parses
the protobuf, then drops it. Run: ``python -m bench.langfuse_baseline --port P --body FILE``.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from starlette.requests import Request
from starlette.responses import Response


def create_baseline_app(prompt_json: bytes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/public/health")
    async def health() -> Response:
        return Response(b'{"status":"OK","version":"baseline"}', media_type="application/json")

    # Same signature as the real route (the name is read from the raw path there).
    @app.get("/api/public/v2/prompts/{rest:path}")
    async def prompt(request: Request) -> Response:
        return Response(prompt_json, media_type="application/json")

    @app.post("/api/public/otel/v1/traces")
    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        parsed = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        spans = sum(len(s.spans) for r in parsed.resource_spans for s in r.scope_spans)
        return Response(f'{{"spans":{spans}}}'.encode(), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args()
    app = create_baseline_app(args.body.read_bytes())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
