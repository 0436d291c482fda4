"""The read routes langfuse-python 4.x uses: v1 observations, sessions, a v2 score, ``filter``.

Each test names the langfuse-python (v4.14.3) e2e test it mirrors; every body is checked
against Langfuse's OpenAPI spec. Data is written with our SDK (v5) over OTLP.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langfuse import Langfuse, propagate_attributes

from tests.support.openapi import assert_valid_response
from tests.support.otlp import OTEL_PATH, PROTOBUF, RawSpan, export_request, new_trace_id


def get_json(api: httpx.Client, path: str, params: Any = None, status: int = 200) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert_valid_response("GET", path, status, body)
    return body


def test_v1_observations_filter_by_name_type_and_user_and_page(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    # test_get_generations, test_get_generations_by_user, test_get_observations
    name, user = f"gen-{unique}", f"user-{unique}"
    with (
        langfuse.start_as_current_observation(name=f"parent-{unique}"),
        propagate_attributes(user_id=user),
    ):
        for index in range(2):
            with langfuse.start_as_current_observation(
                name=name, as_type="generation", input=f"in-{index}", output="out"
            ):
                pass
    with langfuse.start_as_current_observation(name=name, as_type="span"):
        pass
    langfuse.flush()

    everything = get_json(api, "/api/public/observations", {"name": name})
    assert everything["meta"]["totalItems"] == 3
    generations = get_json(api, "/api/public/observations", {"userId": user, "type": "GENERATION"})
    assert [obs["name"] for obs in generations["data"]] == [name, name]
    assert {obs["input"] for obs in generations["data"]} == {"in-0", "in-1"}
    assert generations["data"][0]["output"] == "out"

    pages = [
        get_json(api, "/api/public/observations", {"name": name, "limit": 1, "page": page})
        for page in (1, 2, 3)
    ]
    assert [page["meta"]["totalPages"] for page in pages] == [3, 3, 3]
    assert len({page["data"][0]["id"] for page in pages}) == 3

    one = everything["data"][0]["id"]
    single = get_json(api, f"/api/public/observations/{one}")
    assert single["id"] == one
    assert single["name"] == name


def test_v1_observation_unknown_is_404_and_empty_list_has_meta(api: httpx.Client) -> None:
    # test_get_observation_not_found, test_get_observations_empty
    missing = get_json(api, "/api/public/observations/nope", status=404)
    assert missing["error"] == "LangfuseNotFoundError"
    empty = get_json(api, "/api/public/observations", {"name": "no-such-observation"})
    assert empty["data"] == []
    assert empty["meta"]["totalItems"] == 0


def test_v1_observation_bad_type_is_a_400(api: httpx.Client) -> None:
    body = get_json(api, "/api/public/observations", {"type": "LLM"}, status=400)
    assert "GENERATION" in body["message"]


def test_sessions_are_listed_paged_and_read_with_their_traces(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    # test_get_sessions, test_create_session_score
    sessions = [f"s{index}-{unique}" for index in range(3)]
    for session in sessions:
        with (
            langfuse.start_as_current_observation(name=f"t-{unique}"),
            propagate_attributes(session_id=session, trace_name=f"t-{unique}"),
        ):
            pass
    langfuse.flush()

    listing = get_json(api, "/api/public/sessions", {"limit": 100})
    listed = {row["id"]: row for row in listing["data"]}
    assert set(sessions) <= set(listed)
    assert listed[sessions[0]]["environment"] == "default"
    assert get_json(api, "/api/public/sessions", {"limit": 1, "page": 2})["data"]

    detail = get_json(api, f"/api/public/sessions/{sessions[1]}")
    assert detail["id"] == sessions[1]
    assert [trace["name"] for trace in detail["traces"]] == [f"t-{unique}"]
    assert get_json(api, "/api/public/sessions/none-such", status=404)["message"]


def test_a_score_is_read_by_id_with_its_session(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    # test_create_session_score: scores.get_by_id → GET /api/public/v2/scores/{id}
    score_id = f"score-{unique}"
    langfuse.create_score(name="helpful", value=1, session_id=f"sess-{unique}", score_id=score_id)
    langfuse.flush()
    score = get_json(api, f"/api/public/v2/scores/{score_id}")
    assert (score["value"], score["dataType"]) == (1, "NUMERIC")
    assert score["sessionId"] == f"sess-{unique}"
    assert score["traceId"] is None
    assert get_json(api, "/api/public/v2/scores/none-such", status=404)["message"]


def _export(api: httpx.Client, trace_id: str, attributes: dict[str, str]) -> None:
    request = export_request(trace_id, [RawSpan("root", attributes)])
    assert api.post(OTEL_PATH, content=request, headers=PROTOBUF).status_code == 200


def test_structured_filter_selects_traces_by_tags_name_and_metadata(
    api: httpx.Client, unique: str
) -> None:
    # test_batch_evaluation.py filters traces with [{"type": "arrayOptions", "column": "tags"...}]
    tagged, other = new_trace_id(), new_trace_id()
    _export(
        api,
        tagged,
        {
            "langfuse.trace.name": f"f-{unique}",
            "langfuse.trace.tags": f"tag-{unique}",
            "langfuse.trace.metadata.team": '"red"',
        },
    )
    _export(api, other, {"langfuse.trace.name": f"f-{unique}"})

    def ids(conditions: list[dict[str, Any]]) -> set[str]:
        body = get_json(api, "/api/public/traces", {"filter": json.dumps(conditions)})
        return {trace["id"] for trace in body["data"]}

    by_tag = [
        {"type": "arrayOptions", "column": "tags", "operator": "any of", "value": [f"tag-{unique}"]}
    ]
    assert ids(by_tag) == {tagged}
    by_name = [{"type": "string", "column": "name", "operator": "=", "value": f"f-{unique}"}]
    assert ids(by_name) == {tagged, other}
    by_meta = [
        *by_name,
        {
            "type": "stringObject",
            "column": "metadata",
            "key": "team",
            "operator": "=",
            "value": "red",
        },
    ]
    assert ids(by_meta) == {tagged}
    starts = [{"type": "string", "column": "name", "operator": "starts with", "value": "f-"}]
    assert {tagged, other} <= ids(starts)


def test_structured_filter_on_v1_and_v2_observations(api: httpx.Client, unique: str) -> None:
    trace_id = new_trace_id()
    _export(api, trace_id, {"langfuse.observation.level": "WARNING"})
    conditions = [
        {"type": "string", "column": "traceId", "operator": "=", "value": trace_id},
        {"type": "stringOptions", "column": "level", "operator": "any of", "value": ["WARNING"]},
    ]
    body = get_json(api, "/api/public/observations", {"filter": json.dumps(conditions)})
    assert [obs["traceId"] for obs in body["data"]] == [trace_id]
    v2 = get_json(api, "/api/public/v2/observations", {"filter": json.dumps(conditions)})
    assert [obs["traceId"] for obs in v2["data"]] == [trace_id]
    conditions[1]["value"] = ["ERROR"]
    assert (
        get_json(api, "/api/public/observations", {"filter": json.dumps(conditions)})["data"] == []
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("not json", "not valid JSON"),
        ('{"column": "name"}', "JSON array"),
        ('[{"type": "string", "column": "secret", "operator": "=", "value": 1}]', "secret"),
        ('[{"type": "string", "column": "name", "operator": "~", "value": 1}]', "operator"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_is_wrong(
    api: httpx.Client, raw: str, expected: str
) -> None:
    body = get_json(api, "/api/public/traces", {"filter": raw}, status=400)
    assert expected in body["message"]
