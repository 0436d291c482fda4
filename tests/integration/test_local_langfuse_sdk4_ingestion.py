"""What langfuse-python 4.x writes, read back as Langfuse returns it.

Each test names the e2e test of langfuse-python (v4.14.3, ``tests/e2e/test_core_sdk.py``) or the
Langfuse source (``packages/shared/src/server/otel/OtelIngestionProcessor.ts``) it mirrors.
SDK 4.x sends scores and trace updates to ``POST /api/public/ingestion``; our SDK (v5) does
not, so those requests are made over raw HTTP.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from langfuse import Langfuse

from tests.support.openapi import assert_valid_response
from tests.support.otlp import OTEL_PATH, PROTOBUF, RawSpan, export_request, new_trace_id

INGESTION = "/api/public/ingestion"


def get_json(api: httpx.Client, path: str, params: Any = None) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid_response("GET", path, 200, body)
    return body


def ingest(api: httpx.Client, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post(INGESTION, json={"batch": events, "metadata": {"sdk_name": "python"}})
    assert response.status_code == 207, response.text
    body: dict[str, Any] = response.json()
    assert_valid_response("POST", INGESTION, 207, body)
    return body


def export(api: httpx.Client, trace_id: str, spans: list[RawSpan]) -> None:
    response = api.post(OTEL_PATH, content=export_request(trace_id, spans), headers=PROTOBUF)
    assert response.status_code == 200, response.text


def test_score_create_events_land_on_the_trace_detail_with_their_timestamp(
    api: httpx.Client, unique: str
) -> None:
    # test_create_numeric_score, test_create_score_with_custom_timestamp, test_score_trace
    trace_id = new_trace_id()
    export(api, trace_id, [RawSpan(f"scored-{unique}")])
    when = datetime.now(UTC) - timedelta(hours=1)
    numeric, categorical = str(uuid.uuid4()), str(uuid.uuid4())
    body = ingest(
        api,
        [
            {
                "id": "event-1",
                "type": "score-create",
                "timestamp": when.isoformat(),
                "body": {"id": numeric, "traceId": trace_id, "name": "accuracy", "value": 0.85},
            },
            {
                "id": "event-2",
                "type": "score-create",
                "timestamp": when.isoformat(),
                "body": {
                    "id": categorical,
                    "traceId": trace_id,
                    "name": "tone",
                    "value": "polite",
                    "dataType": "CATEGORICAL",
                    "comment": "checked",
                },
            },
        ],
    )
    assert body == {
        "successes": [{"id": "event-1", "status": 201}, {"id": "event-2", "status": 201}],
        "errors": [],
    }

    trace = get_json(api, f"/api/public/traces/{trace_id}")
    scores = {score["name"]: score for score in trace["scores"]}
    assert scores["accuracy"]["id"] == numeric
    assert scores["accuracy"]["value"] == 0.85
    assert scores["accuracy"]["stringValue"] is None  # present, and null for NUMERIC
    assert scores["accuracy"]["observationId"] is None
    stamp = datetime.fromisoformat(scores["accuracy"]["timestamp"].replace("Z", "+00:00"))
    assert abs((stamp - when).total_seconds()) < 1
    assert scores["tone"]["stringValue"] == "polite"
    assert scores["tone"]["comment"] == "checked"
    assert trace["externalId"] is None


def test_a_bad_event_is_reported_alone_and_the_rest_are_stored(
    api: httpx.Client, unique: str
) -> None:
    trace_id = new_trace_id()
    good = str(uuid.uuid4())
    body = ingest(
        api,
        [
            {"id": "no-target", "type": "score-create", "body": {"name": "x", "value": 1}},
            {"id": "span", "type": "span-create", "body": {"id": "s1", "traceId": trace_id}},
            {
                "id": "ok",
                "type": "score-create",
                "body": {"id": good, "traceId": trace_id, "name": f"ok-{unique}", "value": 1},
            },
        ],
    )
    assert body["successes"] == [{"id": "ok", "status": 201}]
    errors = {error["id"]: error for error in body["errors"]}
    assert set(errors) == {"no-target", "span"}
    assert all(error["status"] == 400 for error in errors.values())
    assert "traceId" in errors["no-target"]["message"]
    assert "/api/public/otel/v1/traces" in errors["span"]["message"]
    assert get_json(api, f"/api/public/v2/scores/{good}")["name"] == f"ok-{unique}"


def test_a_body_without_a_batch_is_a_400(api: httpx.Client) -> None:
    response = api.post(INGESTION, json=[{"type": "score-create"}])
    assert response.status_code == 400
    assert "batch" in response.json()["message"]


def test_trace_create_events_add_tags_without_losing_span_fields(
    api: httpx.Client, unique: str
) -> None:
    # Langfuse.update_current_trace(tags=...) in 4.x goes through a trace-create event.
    trace_id = new_trace_id()
    export(
        api,
        trace_id,
        [RawSpan("root", {"langfuse.trace.name": f"t-{unique}", "user.id": "u1"})],
    )
    ingest(
        api,
        [{"id": "e", "type": "trace-create", "body": {"id": trace_id, "tags": ["a", "b"]}}],
    )
    trace = get_json(api, f"/api/public/traces/{trace_id}")
    assert trace["tags"] == ["a", "b"]
    assert (trace["name"], trace["userId"]) == (f"t-{unique}", "u1")


def test_trace_level_input_and_output_win_over_the_root_span(api: httpx.Client) -> None:
    # test_create_update_current_trace, test_create_trace_and_generation, test_mask_function
    trace_id = new_trace_id()
    root = RawSpan(
        "root",
        {
            "langfuse.observation.input": '"span input"',
            "langfuse.observation.output": '"span output"',
            "langfuse.trace.input": '{"key": "value"}',
            "langfuse.trace.output": '"trace output"',
        },
    )
    child = RawSpan("child", {"langfuse.observation.input": '"child"'}, parent=root.span_id)
    export(api, trace_id, [root, child])
    trace = get_json(api, f"/api/public/traces/{trace_id}")
    assert trace["input"] == {"key": "value"}
    assert trace["output"] == "trace output"
    root_obs = next(obs for obs in trace["observations"] if obs["name"] == "root")
    assert root_obs["input"] == "span input"  # the span keeps its own


def test_without_trace_level_io_the_root_span_io_is_the_traces(api: httpx.Client) -> None:
    trace_id = new_trace_id()
    export(api, trace_id, [RawSpan("root", {"langfuse.observation.input": '"q"'})])
    assert get_json(api, f"/api/public/traces/{trace_id}")["input"] == "q"


def test_generation_fields_read_back_in_langfuse_form(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    # test_create_generation (model parameters), test_that_generation_like_properties_are_
    # actually_created (usage keys kept), createTraceEvent (a root's metadata joins the trace's)
    with langfuse.start_as_current_observation(
        name=f"root-{unique}", metadata={"experiment_name": "capitals"}
    ) as root:
        with root.start_as_current_observation(
            name="gen",
            as_type="generation",
            model="m",
            model_parameters={
                "max_tokens": "1000",
                "temperature": 0.9,
                "stop": ["user-1", "user-2"],
                "stream": True,
            },
            usage_details={"prompt_tokens": 10, "completion_tokens": 20},
        ):
            pass
        trace_id = root.trace_id
    langfuse.flush()

    trace = get_json(api, f"/api/public/traces/{trace_id}")
    assert trace["metadata"] == {"experiment_name": "capitals"}
    gen = next(obs for obs in trace["observations"] if obs["name"] == "gen")
    assert gen["modelParameters"] == {
        "max_tokens": "1000",
        "temperature": 0.9,
        "stop": '["user-1","user-2"]',
        "stream": "true",
    }
    assert gen["usageDetails"] == {"prompt_tokens": 10, "completion_tokens": 20, "total": 30}
    # The same row through the v2 read API.
    page = get_json(
        api, "/api/public/v2/observations", {"traceId": trace_id, "fields": "core,model"}
    )
    v2 = next(obs for obs in page["data"] if obs["id"] == gen["id"])
    assert v2["modelParameters"]["stop"] == '["user-1","user-2"]'


def test_a_complete_openai_usage_object_is_still_renamed(api: httpx.Client) -> None:
    trace_id = new_trace_id()
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    span = RawSpan(
        "gen",
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.usage_details": json.dumps(usage),
        },
    )
    export(api, trace_id, [span])
    (obs,) = get_json(api, f"/api/public/traces/{trace_id}")["observations"]
    assert obs["usageDetails"] == {"input": 3, "output": 4, "total": 7}
