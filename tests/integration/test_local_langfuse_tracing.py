"""Tracing against local-langfuse: the unmodified SDK exports OTLP, we read back over HTTP."""

from __future__ import annotations

import gzip
import json
import os
from typing import Any

import httpx
import pytest
from langfuse import Langfuse, observe, propagate_attributes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from local_langfuse.ingest_pool import OFFLOAD_MIN_BYTES
from tests.support.openapi import assert_valid_response

OTEL = "/api/public/otel/v1/traces"
OBSERVATIONS = "/api/public/v2/observations"
ALL_FIELDS = "core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context"


def get_json(api: httpx.Client, path: str, params: Any = None, status: int = 200) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid_response("GET", path, status, body)
    return body


def observations_of(api: httpx.Client, trace_id: str) -> dict[str, dict[str, Any]]:
    body = get_json(api, OBSERVATIONS, {"traceId": trace_id, "fields": ALL_FIELDS, "limit": 100})
    return {obs["name"]: obs for obs in body["data"]}


def test_nested_span_and_generation_with_a_prompt_read_back_field_by_field(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    prompt_name = f"tracing-prompt-{unique}"
    created = api.post(
        "/api/public/v2/prompts",
        json={"name": prompt_name, "prompt": "Hi {{x}}", "labels": ["production"]},
    )
    assert created.status_code in (200, 201), created.text
    prompt = langfuse.get_prompt(prompt_name, max_retries=0)

    with langfuse.start_as_current_observation(
        name="pipeline", as_type="span", input={"question": "2+2"}, metadata={"step": "start"}
    ) as root:
        with langfuse.start_as_current_observation(
            name="llm",
            as_type="generation",
            model="gpt-4o-mini",
            model_parameters={"temperature": 0.2},
            input=[{"role": "user", "content": "2+2"}],
            usage_details={"input": 10, "output": 2},
            cost_details={"input": 0.001, "output": 0.002},
            prompt=prompt,
            version="v7",
        ) as generation:
            generation.update(output="4")
        root.update(output={"answer": 4})
        trace_id, root_id, gen_id = root.trace_id, root.id, generation.id
    langfuse.flush()

    page = langfuse.api.observations.get_many(trace_id=trace_id, fields=ALL_FIELDS)
    by_name = {obs.name: obs for obs in page.data}
    assert set(by_name) == {"pipeline", "llm"}
    gen = by_name["llm"]
    assert (gen.id, gen.type, gen.parent_observation_id) == (gen_id, "GENERATION", root_id)
    assert gen.model == "gpt-4o-mini"
    assert gen.model_parameters == {"temperature": 0.2}
    assert gen.usage_details == {"input": 10, "output": 2, "total": 12}
    assert gen.total_cost == pytest.approx(0.003)
    assert (gen.prompt_name, gen.prompt_version) == (prompt_name, prompt.version)
    assert gen.prompt_id is not None
    assert gen.version == "v7"
    assert gen.output == "4"
    assert json.loads(gen.input) == [{"role": "user", "content": "2+2"}]
    assert gen.is_root_observation is False
    assert gen.latency is not None
    assert gen.latency >= 0
    root_obs = by_name["pipeline"]
    assert root_obs.is_root_observation is True
    assert root_obs.parent_observation_id is None
    assert root_obs.metadata == {"step": "start"}
    assert root_obs.prompt_name is None

    raw = observations_of(api, trace_id)
    assert raw["llm"]["promptName"] == prompt_name

    trace = get_json(api, f"/api/public/traces/{trace_id}")
    assert trace["name"] == "pipeline"  # no trace_name: the root span names the trace
    assert trace["input"] == {"question": "2+2"}
    assert trace["output"] == {"answer": 4}
    assert trace["totalCost"] == pytest.approx(0.003)
    assert trace["latency"] >= 0
    assert {obs["id"] for obs in trace["observations"]} == {root_id, gen_id}
    assert trace["environment"] == "default"


def test_observe_with_propagated_attributes_sets_trace_fields(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    session = f"sess-{unique}"

    @observe(as_type="tool")
    def lookup(term: str) -> list[str]:
        return [term, term.upper()]

    @observe()
    def pipeline(term: str) -> str:
        with propagate_attributes(
            session_id=session,
            user_id=f"user-{unique}",
            tags=["alpha", "beta"],
            metadata={"tenant": "acme"},
            trace_name=f"trace-{unique}",
        ):
            return "-".join(lookup(term))

    assert pipeline("x") == "x-X"
    langfuse.flush()

    listing = get_json(api, "/api/public/traces", {"sessionId": session})
    assert listing["meta"]["totalItems"] == 1
    (summary,) = listing["data"]
    assert summary["name"] == f"trace-{unique}"
    assert summary["userId"] == f"user-{unique}"
    assert summary["tags"] == ["alpha", "beta"]
    assert summary["metadata"] == {"tenant": "acme"}
    assert summary["output"] == "x-X"
    assert len(summary["observations"]) == 2

    by_tag = get_json(
        api, "/api/public/traces", {"tags": ["alpha", "beta"], "name": summary["name"]}
    )
    assert [t["id"] for t in by_tag["data"]] == [summary["id"]]
    assert (
        get_json(api, "/api/public/traces", {"sessionId": session, "tags": "gamma"})["data"] == []
    )

    obs = observations_of(api, summary["id"])
    assert obs["lookup"]["type"] == "TOOL"
    assert obs["lookup"]["sessionId"] == session
    assert obs["lookup"]["traceName"] == f"trace-{unique}"
    assert obs["lookup"]["metadata"] == {"tenant": "acme"}
    assert json.loads(obs["lookup"]["output"]) == ["x", "X"]
    assert obs["pipeline"]["isRootObservation"] is True

    tools = get_json(
        api, OBSERVATIONS, {"traceId": summary["id"], "type": "tool", "userId": f"user-{unique}"}
    )
    assert [o["name"] for o in tools["data"]] == ["lookup"]


def test_exceptions_are_recorded_as_error_level_with_the_message(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    @observe(name=f"failing-{unique}")
    def failing() -> None:
        raise RuntimeError(f"boom {unique}")

    with pytest.raises(RuntimeError):
        failing()
    langfuse.flush()
    body = get_json(api, OBSERVATIONS, {"name": f"failing-{unique}", "level": "ERROR"})
    (obs,) = body["data"]
    assert obs["level"] == "ERROR"
    assert f"boom {unique}" in obs["statusMessage"]
    assert (
        get_json(api, OBSERVATIONS, {"name": f"failing-{unique}", "level": "DEFAULT"})["data"] == []
    )


def _attr(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_protobuf(trace_id: str, spans: list[tuple[str, str | None, str, dict[str, str]]]) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for span_id, parent, name, attrs in spans:
        span = scope.spans.add()
        span.trace_id = bytes.fromhex(trace_id)
        span.span_id = bytes.fromhex(span_id)
        if parent:
            span.parent_span_id = bytes.fromhex(parent)
        span.name = name
        span.start_time_unix_nano = 1_767_225_600_000_000_000 + int(span_id[-4:], 16)
        span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
        span.attributes.extend(_attr(k, v) for k, v in attrs.items())
    return request.SerializeToString()


def otlp_json(trace_id: str, span_id: str, name: str) -> bytes:
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225600500000000",
        "attributes": [
            {"key": "langfuse.observation.type", "value": {"stringValue": "event"}},
            {"key": "langfuse.observation.input", "value": {"stringValue": '{"a": 1}'}},
        ],
    }
    body = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}
    return json.dumps(body).encode()


def _ids() -> tuple[str, str, str]:
    return os.urandom(16).hex(), os.urandom(8).hex(), os.urandom(8).hex()


@pytest.mark.parametrize("encoding", ["gzip", "plain", "json"])
def test_raw_otlp_encodings_are_accepted(api: httpx.Client, encoding: str) -> None:
    trace_id, span_id, _ = _ids()
    name = f"raw-{encoding}"
    if encoding == "json":
        body = otlp_json(trace_id, span_id, name)
        headers = {"Content-Type": "application/json"}
    else:
        body = otlp_protobuf(trace_id, [(span_id, None, name, {})])
        headers = {"Content-Type": "application/x-protobuf"}
        if encoding == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
    response = api.post(OTEL, content=body, headers=headers)
    assert response.status_code == 200
    assert_valid_response("POST", OTEL, 200, response.json())
    (obs,) = get_json(api, OBSERVATIONS, {"traceId": trace_id, "fields": "core,basic,io"})["data"]
    assert (obs["id"], obs["name"]) == (span_id, name)
    if encoding == "json":
        assert obs["type"] == "EVENT"
        assert obs["input"] == '{"a": 1}'


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    [
        (b"\x0a\xff\xff garbage", {"Content-Type": "application/x-protobuf"}, "protobuf"),
        (
            b"not gzip",
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            "gzip",
        ),
        (b"{oops", {"Content-Type": "application/json"}, "JSON"),
    ],
    ids=["protobuf", "gzip", "json"],
)
def test_malformed_otlp_payloads_get_400_with_a_message(
    api: httpx.Client, body: bytes, headers: dict[str, str], needle: str
) -> None:
    response = api.post(OTEL, content=body, headers=headers)
    assert response.status_code == 400
    assert needle in response.json()["message"]


def test_spans_of_one_trace_in_several_requests_merge(api: httpx.Client, unique: str) -> None:
    trace_id, root_id, child_id = _ids()
    first = otlp_protobuf(
        trace_id,
        [
            (
                child_id,
                root_id,
                "child",
                {"langfuse.trace.tags": "t1", "user.id": f"u-{unique}"},
            )
        ],
    )
    second = otlp_protobuf(
        trace_id,
        [
            (
                root_id,
                None,
                "root",
                {"langfuse.observation.input": "hello", "langfuse.trace.metadata.k": '"v"'},
            )
        ],
    )
    headers = {"Content-Type": "application/x-protobuf"}
    for body in (first, second):
        assert api.post(OTEL, content=body, headers=headers).status_code == 200
    trace = get_json(api, f"/api/public/traces/{trace_id}")
    assert trace["name"] == "root"
    assert trace["userId"] == f"u-{unique}"  # from the first batch, kept
    assert trace["tags"] == ["t1"]
    assert trace["input"] == "hello"
    assert trace["metadata"] == {"k": "v"}
    assert len(trace["observations"]) == 2


def test_observation_cursor_pages_through_a_trace_without_overlap(api: httpx.Client) -> None:
    trace_id, root_id, _ = _ids()
    spans: list[tuple[str, str | None, str, dict[str, str]]] = [(root_id, None, "root", {})]
    spans += [(os.urandom(8).hex(), root_id, f"c{i}", {}) for i in range(4)]
    api.post(OTEL, content=otlp_protobuf(trace_id, spans), headers={"Content-Type": "x/protobuf"})
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"traceId": trace_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = get_json(api, OBSERVATIONS, params)
        seen += [obs["id"] for obs in body["data"]]
        cursor = body["meta"].get("cursor")
        if not cursor:
            break
    assert sorted(seen) == sorted(span[0] for span in spans)
    assert len(seen) == len(set(seen))
    children = get_json(api, OBSERVATIONS, {"traceId": trace_id, "parentObservationId": root_id})
    assert len(children["data"]) == 4
    roots = get_json(api, OBSERVATIONS, {"traceId": trace_id, "parentObservationId": ""})
    assert [obs["id"] for obs in roots["data"]] == [root_id]


def test_a_large_export_goes_through_the_worker_process_intact(api: httpx.Client) -> None:
    trace_id, root_id, _ = _ids()
    io = {"langfuse.observation.input": '{"q": "' + "x" * 40 + '"}'}
    spans: list[tuple[str, str | None, str, dict[str, str]]] = [(root_id, None, "root", io)]
    spans += [(os.urandom(8).hex(), root_id, f"c{i}", io) for i in range(59)]
    body = otlp_protobuf(trace_id, spans)
    assert len(body) >= OFFLOAD_MIN_BYTES  # the size that leaves the server process
    response = api.post(OTEL, content=body, headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200
    stored = get_json(api, OBSERVATIONS, {"traceId": trace_id, "fields": "core,io", "limit": 100})
    assert sorted(obs["id"] for obs in stored["data"]) == sorted(span[0] for span in spans)
    assert {obs["input"] for obs in stored["data"]} == {io["langfuse.observation.input"]}
    garbage = b"\x0a\xff\xff" + b"garbage" * OFFLOAD_MIN_BYTES
    bad = api.post(OTEL, content=garbage, headers={"Content-Type": "application/x-protobuf"})
    assert bad.status_code == 400
    assert "protobuf" in bad.json()["message"]


@pytest.mark.parametrize(
    "params",
    [{"fields": "core,nope"}, {"cursor": "%%%"}, {"limit": "0"}, {"type": "WIDGET"}],
    ids=["fields", "cursor", "limit", "type"],
)
def test_bad_observation_queries_get_400(api: httpx.Client, params: dict[str, str]) -> None:
    response = api.get(OBSERVATIONS, params=params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_unknown_trace_is_404_and_deleted_traces_are_gone(
    langfuse: Langfuse, api: httpx.Client
) -> None:
    assert api.get(f"/api/public/traces/{'0' * 32}").status_code == 404
    trace_ids = []
    for _ in range(3):
        trace_id, span_id, _ = _ids()
        api.post(
            OTEL,
            content=otlp_protobuf(trace_id, [(span_id, None, "doomed", {})]),
            headers={"Content-Type": "application/x-protobuf"},
        )
        trace_ids.append(trace_id)
    langfuse.api.trace.delete(trace_ids[0])
    response = api.request("DELETE", "/api/public/traces", json={"traceIds": trace_ids[1:]})
    assert response.status_code == 200
    assert_valid_response("DELETE", "/api/public/traces", 200, response.json())
    for trace_id in trace_ids:
        assert api.get(f"/api/public/traces/{trace_id}").status_code == 404
        assert get_json(api, OBSERVATIONS, {"traceId": trace_id})["data"] == []
    bad = api.request("DELETE", "/api/public/traces", json={"ids": trace_ids})
    assert bad.status_code == 400


def test_environment_version_and_time_filters_select_observations(api: httpx.Client) -> None:
    trace_id, first_id, second_id = _ids()
    body = otlp_protobuf(
        trace_id,
        [
            (
                first_id,
                None,
                "first",
                {"langfuse.environment": "staging", "langfuse.version": "v1"},
            ),
            (second_id, first_id, "second", {"langfuse.release": "r-9"}),
        ],
    )
    request = ExportTraceServiceRequest.FromString(body)
    for index, span in enumerate(request.resource_spans[0].scope_spans[0].spans):
        span.start_time_unix_nano = 1_767_225_600_000_000_000 + index * 1_000_000_000
    body = request.SerializeToString()
    api.post(OTEL, content=body, headers={"Content-Type": "application/x-protobuf"})
    base = {"traceId": trace_id, "fields": "core,basic,trace_context"}
    staging = get_json(api, OBSERVATIONS, {**base, "environment": ["staging", "prod"]})
    assert [o["id"] for o in staging["data"]] == [first_id]
    assert staging["data"][0]["release"] == "r-9"  # the trace's release, from another span
    assert [o["id"] for o in get_json(api, OBSERVATIONS, {**base, "version": "v1"})["data"]] == [
        first_id
    ]
    starts = {o["id"]: o["startTime"] for o in get_json(api, OBSERVATIONS, base)["data"]}
    assert starts == {
        first_id: "2026-01-01T00:00:00.000Z",
        second_id: "2026-01-01T00:00:01.000Z",
    }
    later = get_json(api, OBSERVATIONS, {**base, "fromStartTime": "2026-01-01T00:00:00.500Z"})
    assert [o["id"] for o in later["data"]] == [second_id]
    earlier = get_json(api, OBSERVATIONS, {**base, "toStartTime": "2026-01-01T00:00:01Z"})
    assert [o["id"] for o in earlier["data"]] == [first_id]
    trace = get_json(api, "/api/public/traces", {"environment": "staging", "release": "r-9"})
    assert trace_id in [t["id"] for t in trace["data"]]
