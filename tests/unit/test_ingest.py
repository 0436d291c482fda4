"""The OTLP → trace/observation mapping of local-langfuse, on protobufs built here."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError, PayloadTooLargeError
from local_langfuse.ingest import (
    OBSERVATION_COLUMNS,
    Span,
    UnsupportedMediaTypeError,
    decode_json,
    decode_protobuf,
    decode_request,
    decompress,
    map_spans,
    normalize_usage,
    write_batch,
)

TRACE = "2ec7893dc0009401a730a539a53a751d"
ROOT, CHILD, GEN = "b2a3d210713dbd09", "9313bac41da992b2", "853c167fe6b95e0a"
NOW = "2026-01-01T00:00:00.000Z"
T0 = 1_795_713_014_553_270_883


def _any(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any(v) for v in value)
        return out
    return AnyValue(string_value=value)


def _kv(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any(v)) for k, v in attrs.items()]


def build_request(
    spans: list[dict[str, Any]], resource: dict[str, Any] | None = None
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(_kv(resource or {}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "langfuse-sdk"
    for spec in spans:
        span = scope_spans.spans.add()
        span.trace_id = bytes.fromhex(spec.get("trace", TRACE))
        span.span_id = bytes.fromhex(spec["id"])
        if spec.get("parent"):
            span.parent_span_id = bytes.fromhex(spec["parent"])
        span.name = spec["name"]
        span.start_time_unix_nano = spec.get("start", T0)
        span.end_time_unix_nano = spec.get("end", T0 + 1_000_000)
        span.status.code = spec.get("status", 0)
        span.status.message = spec.get("status_message", "")
        span.attributes.extend(_kv(spec.get("attrs", {})))
    return request


PROPAGATED = {
    "user.id": "user-42",
    "session.id": "sess-123",
    "langfuse.trace.metadata.tenant": '"acme"',
    "langfuse.trace.metadata.ab": "7",
    "langfuse.version": "pipeline-v3",
    "langfuse.trace.tags": ["rag", "prod"],
    "langfuse.trace.name": "rag-trace",
}
EXAMPLE = [
    {
        "id": GEN,
        "parent": ROOT,
        "name": "llm-call",
        "attrs": {
            **PROPAGATED,
            "langfuse.observation.type": "generation",
            "langfuse.observation.input": '{"args": ["what is up?"], "kwargs": {}}',
            "langfuse.observation.output": "the answer",
            "langfuse.observation.model.name": "gpt-4o",
            "langfuse.observation.model.parameters": '{"temperature": 0.2, "max_tokens": 256}',
            "langfuse.observation.usage_details": '{"input": 10, "output": 5, "cache": 2.0}',
            "langfuse.observation.cost_details": '{"input": 0.0001, "output": 0.0002}',
            "langfuse.observation.completion_start_time": '"2026-01-01T12:00:00Z"',
            "langfuse.observation.prompt.name": "qa-prompt",
            "langfuse.observation.prompt.version": 1,
            "langfuse.observation.metadata.provider": '"openai"',
            "langfuse.observation.metadata.n": "1",
        },
    },
    {
        "id": CHILD,
        "parent": ROOT,
        "name": "retrieve",
        "attrs": {
            **PROPAGATED,
            "langfuse.observation.type": "span",
            # A propagated prompt link lands on plain spans too; only generations keep it.
            "langfuse.observation.prompt.name": "qa-prompt",
            "langfuse.observation.prompt.version": 1,
            "langfuse.environment": "span-env",
        },
    },
    {
        "id": ROOT,
        "name": "rag-pipeline",
        "start": T0 - 1000,
        "attrs": {
            **PROPAGATED,
            "langfuse.observation.type": "span",
            "langfuse.internal.is_app_root": True,
            "langfuse.observation.input": "what is up?",
            "langfuse.observation.output": "the answer",
            "langfuse.observation.metadata.step": '"done"',
        },
    },
]
RESOURCE = {"langfuse.environment": "staging", "langfuse.release": "app-release-1.2.3"}


def _rows(batch_rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    return {row[0]: dict(zip(OBSERVATION_COLUMNS, row, strict=True)) for row in batch_rows}


def test_example_span_set_maps_to_one_trace_and_typed_observations() -> None:
    spans = decode_protobuf(build_request(EXAMPLE, RESOURCE).SerializeToString())
    batch = map_spans(spans, NOW)
    rows = _rows(batch.observations)

    gen = rows[GEN]
    assert gen["type"] == "GENERATION"
    assert gen["parent_observation_id"] == ROOT
    assert gen["model"] == "gpt-4o"
    assert json.loads(gen["model_parameters"]) == {"temperature": 0.2, "max_tokens": 256}
    assert json.loads(gen["usage_details"]) == {"input": 10, "output": 5, "cache": 2, "total": 17}
    cost = json.loads(gen["cost_details"])
    assert cost["total"] == pytest.approx(0.0003)
    assert gen["total_cost"] == pytest.approx(0.0003)
    assert gen["completion_start_time"] == "2026-01-01T12:00:00.000000Z"
    assert (gen["prompt_name"], gen["prompt_version"]) == ("qa-prompt", 1)
    assert json.loads(gen["metadata"]) == {"tenant": "acme", "ab": 7, "provider": "openai", "n": 1}
    assert gen["environment"] == "staging"  # from the resource
    assert gen["input"] == '{"args": ["what is up?"], "kwargs": {}}'  # raw, as sent
    assert (gen["user_id"], gen["session_id"], gen["version"]) == (
        "user-42",
        "sess-123",
        "pipeline-v3",
    )

    child = rows[CHILD]
    assert child["type"] == "SPAN"
    assert child["prompt_name"] is None
    assert child["prompt_version"] is None
    assert child["environment"] == "span-env"  # the span attribute beats the resource
    assert child["is_root"] == 0

    assert rows[ROOT]["is_root"] == 1
    assert rows[ROOT]["parent_observation_id"] is None

    trace = batch.traces[TRACE]
    assert trace.name == "rag-trace"
    assert trace.root_name == "rag-pipeline"
    assert (trace.input, trace.output) == ("what is up?", "the answer")
    assert trace.tags == ["rag", "prod"]
    # The root span's own metadata joins the trace's (Langfuse's createTraceEvent for a root).
    assert trace.metadata == {"tenant": "acme", "ab": 7, "step": "done"}
    assert trace.release == "app-release-1.2.3"
    assert trace.timestamp == rows[ROOT]["start_time"]


def test_as_root_span_defines_the_trace_and_drops_its_invented_parent() -> None:
    spans = decode_protobuf(
        build_request(
            [
                {
                    "id": ROOT,
                    "parent": "00000000000000aa",
                    "name": "remote-root",
                    "attrs": {"langfuse.internal.as_root": True, "langfuse.observation.input": "q"},
                },
                {"id": CHILD, "parent": ROOT, "name": "child", "attrs": {}},
            ]
        ).SerializeToString()
    )
    batch = map_spans(spans, NOW)
    rows = _rows(batch.observations)
    assert rows[ROOT]["parent_observation_id"] is None
    assert rows[ROOT]["is_root"] == 1
    assert rows[CHILD]["type"] == "SPAN"
    assert rows[CHILD]["environment"] == "default"
    trace = batch.traces[TRACE]
    assert (trace.name, trace.root_name, trace.input) == (None, "remote-root", "q")


def test_otel_error_status_means_level_error_with_the_status_message() -> None:
    spans = decode_protobuf(
        build_request(
            [
                {"id": ROOT, "name": "boom", "status": 2, "status_message": "bad thing"},
                {
                    "id": CHILD,
                    "parent": ROOT,
                    "name": "warn",
                    "attrs": {
                        "langfuse.observation.level": "WARNING",
                        "langfuse.observation.status_message": "careful",
                    },
                },
            ]
        ).SerializeToString()
    )
    rows = _rows(map_spans(spans, NOW).observations)
    assert (rows[ROOT]["level"], rows[ROOT]["status_message"]) == ("ERROR", "bad thing")
    assert (rows[CHILD]["level"], rows[CHILD]["status_message"]) == ("WARNING", "careful")


def test_non_dict_metadata_is_kept_under_a_metadata_key() -> None:
    spans = decode_protobuf(
        build_request(
            [{"id": ROOT, "name": "m", "attrs": {"langfuse.observation.metadata": '"plain"'}}]
        ).SerializeToString()
    )
    assert json.loads(_rows(map_spans(spans, NOW).observations)[ROOT]["metadata"]) == {
        "metadata": "plain"
    }


def test_openai_usage_is_flattened_to_langfuse_names_and_ints() -> None:
    usage = normalize_usage(
        {
            "prompt_tokens": 12,
            "completion_tokens": 3.0,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": None},
            "service": "x",
        }
    )
    assert usage == {"input": 12, "output": 3, "total": 15, "input_cached_tokens": 4}
    assert all(isinstance(v, int) for v in usage.values())


def test_otlp_json_with_hex_ids_decodes_like_protobuf() -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "langfuse.environment", "value": {"stringValue": "e"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": ROOT,
                                "parentSpanId": "",
                                "name": "json-root",
                                "startTimeUnixNano": str(T0),
                                "endTimeUnixNano": str(T0 + 5),
                                "status": {"code": "STATUS_CODE_ERROR", "message": "x"},
                                "attributes": [
                                    {"key": "n", "value": {"intValue": "7"}},
                                    {
                                        "key": "langfuse.trace.tags",
                                        "value": {"arrayValue": {"values": [{"stringValue": "t"}]}},
                                    },
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    (span,) = decode_json(json.dumps(body).encode())
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, ROOT, None)
    assert span.attributes == {"n": 7, "langfuse.trace.tags": ["t"]}
    assert span.status_code == 2
    assert span.start_ns == T0
    assert span.resource == {"langfuse.environment": "e"}


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"\xff\xff\xff not protobuf", "application/x-protobuf"),
        (b"{not json", "application/json"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}',
            "application/json",
        ),
        (b"[1, 2]", "application/json"),
    ],
    ids=["protobuf", "json-syntax", "json-bad-id", "json-not-object"],
)
def test_malformed_bodies_raise_bad_request(body: bytes, ctype: str) -> None:
    with pytest.raises(BadRequestError):
        decode_request(body, ctype)


def test_unknown_content_type_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="text/plain"):
        decode_request(b"x", "text/plain")


def test_decompress_handles_gzip_and_refuses_bad_or_oversized_data() -> None:
    payload = b"a" * 1000
    assert decompress(gzip.compress(payload), "gzip", 10_000) == payload
    assert decompress(payload, None, 10_000) == payload
    with pytest.raises(BadRequestError, match="gzip"):
        decompress(b"not gzip at all", "gzip", 10_000)
    with pytest.raises(PayloadTooLargeError):
        decompress(gzip.compress(payload), "gzip", 100)


def _span(span_id: str, parent: str | None, name: str, attrs: dict[str, Any]) -> Span:
    return Span(TRACE, span_id, parent, name, T0, T0 + 10, 0, "", attrs, {})


def test_batches_of_one_trace_merge_without_wiping_fields(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    first = [
        _span(CHILD, ROOT, "child", {"langfuse.trace.tags": ["a"], "user.id": "u1"}),
    ]
    second = [
        _span(
            ROOT,
            None,
            "root",
            {
                "langfuse.trace.tags": ["b", "a"],
                "langfuse.trace.metadata.k": '"v"',
                "langfuse.observation.input": "in",
            },
        ),
    ]
    third = [_span(GEN, ROOT, "late", {"langfuse.trace.name": "named", "session.id": "s"})]
    for spans in (first, second, third):
        batch = map_spans(spans, NOW)
        with db.write() as conn:
            write_batch(conn, batch, NOW)
    trace = db.conn.execute("SELECT * FROM traces WHERE id = ?", (TRACE,)).fetchone()
    assert json.loads(trace["tags"]) == ["a", "b"]
    assert trace["user_id"] == "u1"
    assert trace["session_id"] == "s"
    assert (trace["name"], trace["root_name"], trace["input"]) == ("named", "root", "in")
    assert json.loads(trace["metadata"]) == {"k": "v"}
    count = db.conn.execute("SELECT COUNT(*) FROM observations WHERE trace_id = ?", (TRACE,))
    assert count.fetchone()[0] == 3
    db.close()
