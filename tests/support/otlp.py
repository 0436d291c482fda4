"""Hand-built OTLP export requests, for span attributes the SDK (v5) no longer sets itself."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

OTEL_PATH = "/api/public/otel/v1/traces"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@dataclass
class RawSpan:
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    span_id: str = field(default_factory=lambda: os.urandom(8).hex())
    offset_ms: int = 0


def new_trace_id() -> str:
    return os.urandom(16).hex()


def export_request(trace_id: str, spans: list[RawSpan]) -> bytes:
    """One protobuf export of ``spans`` (string attributes), starting now plus each offset."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    now = time.time_ns()
    for raw in spans:
        span = scope.spans.add()
        span.trace_id = bytes.fromhex(trace_id)
        span.span_id = bytes.fromhex(raw.span_id)
        if raw.parent:
            span.parent_span_id = bytes.fromhex(raw.parent)
        span.name = raw.name
        span.start_time_unix_nano = now + raw.offset_ms * 1_000_000
        span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
        span.attributes.extend(
            KeyValue(key=key, value=AnyValue(string_value=value))
            for key, value in raw.attributes.items()
        )
    return request.SerializeToString()
