"""OTLP export bodies shaped like the ones langfuse 5.0.4 sends (protobuf, gzip).

One resource and one ``langfuse-sdk`` scope per request; spans grouped in traces of four
(a root span, a retrieval span, a generation linked to a prompt, an event), with the
attribute keys and value encodings of the SDK (see the contract, §4.3-4.4).
"""

from __future__ import annotations

import gzip
import json
import os
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PUBLIC_KEY = "pk-lf-bench"
SPANS_PER_TRACE = 4

_INPUT = json.dumps(
    [
        {"role": "system", "content": "You extract a user's name and age as JSON. " * 4},
        {"role": "user", "content": "Hi, I'm Ada Lovelace and I am 36 years old. " * 3},
    ]
)
_OUTPUT = json.dumps({"role": "assistant", "content": '{"name": "Ada Lovelace", "age": 36}'})


def _value(value: Any) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[_value(v) for v in value])
        )
    return common_pb2.AnyValue(string_value=str(value))


def _attributes(values: dict[str, Any]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=key, value=_value(value)) for key, value in values.items()]


def _span(
    trace_id: bytes,
    span_id: bytes,
    parent: bytes,
    name: str,
    start: int,
    attributes: dict[str, Any],
) -> trace_pb2.Span:
    return trace_pb2.Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 850_000_000,
        attributes=_attributes(attributes),
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_UNSET),
    )


def _trace_spans(count: int, now: int) -> list[trace_pb2.Span]:
    """``count`` (1-4) spans of one new trace: root first, like a finished ``@observe`` tree."""
    trace_id = os.urandom(16)
    root_id = os.urandom(8)
    shared = {
        "session.id": "bench-session",
        "user.id": "bench-user",
        "langfuse.trace.name": "extract-user",
        "langfuse.trace.tags": ["bench", "extract"],
        "langfuse.trace.metadata.run": '"bench-run"',
        "langfuse.environment": "bench",
    }
    root = {
        **shared,
        "langfuse.observation.type": "span",
        "langfuse.internal.is_app_root": True,
        "langfuse.observation.input": _INPUT,
        "langfuse.observation.output": _OUTPUT,
        "langfuse.observation.metadata.sample_id": '"s-1"',
    }
    retrieve = {
        **shared,
        "langfuse.observation.type": "retriever",
        "langfuse.observation.input": '{"args": ["Ada"], "kwargs": {}}',
        "langfuse.observation.output": '["doc-1", "doc-2"]',
    }
    generation = {
        **shared,
        "langfuse.observation.type": "generation",
        "langfuse.observation.input": _INPUT,
        "langfuse.observation.output": _OUTPUT,
        "langfuse.observation.model.name": "gpt-4o-mini",
        "langfuse.observation.model.parameters": '{"temperature": 0, "max_tokens": "Infinity"}',
        "langfuse.observation.usage_details": (
            '{"prompt_tokens": 61, "completion_tokens": 12, "total_tokens": 73}'
        ),
        "langfuse.observation.completion_start_time": '"2026-01-01T12:00:00.250000Z"',
        "langfuse.observation.prompt.name": "bench/extract",
        "langfuse.observation.prompt.version": 1,
    }
    event = {**shared, "langfuse.observation.type": "event", "langfuse.observation.output": "ok"}
    spans = [
        _span(trace_id, os.urandom(8), root_id, "retrieve", now, retrieve),
        _span(trace_id, os.urandom(8), root_id, "OpenAI-generation", now, generation),
        _span(trace_id, os.urandom(8), root_id, "parsed", now, event),
    ][: count - 1]
    spans.append(_span(trace_id, root_id, b"", "extract-user", now, root))
    return spans


def export_body(span_count: int) -> bytes:
    """A gzip-compressed ``ExportTraceServiceRequest`` with ``span_count`` new spans."""
    now = time.time_ns()
    spans: list[trace_pb2.Span] = []
    while len(spans) < span_count:
        spans.extend(_trace_spans(min(SPANS_PER_TRACE, span_count - len(spans)), now))
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(
                    attributes=_attributes(
                        {
                            "telemetry.sdk.language": "python",
                            "telemetry.sdk.name": "opentelemetry",
                            "telemetry.sdk.version": "1.45.2",
                            "service.name": "unknown_service:python",
                            "langfuse.environment": "bench",
                        }
                    )
                ),
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        scope=common_pb2.InstrumentationScope(
                            name="langfuse-sdk",
                            version="5.0.4",
                            attributes=_attributes({"public_key": PUBLIC_KEY}),
                        ),
                        spans=spans,
                    )
                ],
            )
        ]
    )
    return gzip.compress(request.SerializeToString(), compresslevel=6)
