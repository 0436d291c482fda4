"""Scores against local-langfuse: ``create_score`` through the SDK, read back through v3."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from langfuse import Langfuse
from langfuse.api.scores.types.create_score_batch_response import CreateScoreBatchResponse
from langfuse.api.scores.types.create_score_batch_results import CreateScoreBatchResults

from tests.support.openapi import assert_valid_response

SCORES = "/api/public/scores"
SCORES_V3 = "/api/public/v3/scores"


def get_scores(api: httpx.Client, params: dict[str, Any], status: int = 200) -> Any:
    response = api.get(SCORES_V3, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid_response("GET", SCORES_V3, status, body)
    return body


def test_sdk_scores_of_every_kind_read_back_typed(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    trace_id = os.urandom(16).hex()
    observation_id = os.urandom(8).hex()
    langfuse.create_score(
        name="accuracy", value=0.92, trace_id=trace_id, comment="c", metadata={"judge": "gpt"}
    )
    langfuse.create_score(
        name="correct",
        value=1,
        data_type="BOOLEAN",
        trace_id=trace_id,
        observation_id=observation_id,
    )
    langfuse.create_score(name="sentiment", value="positive", trace_id=trace_id)
    langfuse.create_score(name="sess", value=3, session_id=f"s-{unique}")
    langfuse.create_score(name="run", value=0.5, dataset_run_id=f"run-{unique}")
    langfuse.flush()

    scores = langfuse.api.scores.get_many(trace_id=trace_id, fields="details,subject,annotation")
    by_name = {score.name: score for score in scores.data}
    assert set(by_name) == {"accuracy", "correct", "sentiment"}
    assert by_name["accuracy"].data_type == "NUMERIC"
    assert by_name["accuracy"].value == pytest.approx(0.92)
    assert by_name["accuracy"].comment == "c"
    assert by_name["accuracy"].metadata == {"judge": "gpt"}
    assert by_name["correct"].data_type == "BOOLEAN"
    assert by_name["correct"].value is True
    assert by_name["sentiment"].data_type == "CATEGORICAL"
    assert by_name["sentiment"].value == "positive"
    assert all(score.environment == "default" for score in scores.data)

    raw = get_scores(api, {"traceId": trace_id, "fields": "subject"})
    subjects = {score["name"]: score["subject"] for score in raw["data"]}
    assert subjects["correct"] == {
        "kind": "observation",
        "id": observation_id,
        "traceId": trace_id,
    }
    assert subjects["accuracy"] == {"kind": "trace", "id": trace_id}
    assert "comment" not in raw["data"][0]  # "details" not requested

    scoped = get_scores(api, {"traceId": trace_id, "observationId": observation_id})
    assert [s["name"] for s in scoped["data"]] == ["correct"]
    session = get_scores(api, {"sessionId": f"s-{unique}", "fields": "subject"})
    assert session["data"][0]["subject"] == {"kind": "session", "id": f"s-{unique}"}
    run = get_scores(api, {"experimentId": f"run-{unique}"})
    assert [s["value"] for s in run["data"]] == [0.5]
    numeric = get_scores(api, {"traceId": trace_id, "dataType": "numeric", "valueMin": 0.9})
    assert [s["name"] for s in numeric["data"]] == ["accuracy"]

    trace = api.get(f"/api/public/traces/{trace_id}")
    assert trace.status_code == 404  # scores alone do not make a trace


def test_scores_appear_on_their_trace(langfuse: Langfuse, api: httpx.Client) -> None:
    with langfuse.start_as_current_observation(name="scored", as_type="span") as span:
        span.score_trace(name="quality", value=0.7)
        span.score(name="span-ok", value="yes", data_type="CATEGORICAL")
        trace_id = span.trace_id
    langfuse.flush()
    response = api.get(f"/api/public/traces/{trace_id}")
    assert response.status_code == 200
    body = response.json()
    assert_valid_response("GET", "/api/public/traces/{traceId}", 200, body)
    assert {(s["name"], s["dataType"]) for s in body["scores"]} == {
        ("quality", "NUMERIC"),
        ("span-ok", "CATEGORICAL"),
    }


def test_a_batch_with_bad_scores_is_partially_accepted_with_207(
    api: httpx.Client, unique: str
) -> None:
    trace_id = os.urandom(16).hex()
    batch = [
        {"id": f"good-{unique}", "traceId": trace_id, "name": "ok", "value": 1.0},
        {"traceId": trace_id, "name": "flag", "value": 2, "dataType": "BOOLEAN"},
        {"name": "orphan", "value": 1.0},
        {"traceId": trace_id, "value": 1.0},
        {"observationId": "o1", "name": "obs-only", "value": 1.0},
        {"traceId": trace_id, "name": "txt", "value": "", "dataType": "TEXT"},
    ]
    response = api.post(SCORES, json=batch)
    assert response.status_code == 207
    results = CreateScoreBatchResults.model_validate(response.json())
    assert (results.accepted, results.rejected) == (1, 5)
    messages = " | ".join(error.message for error in results.errors)
    for needle in ("BOOLEAN", "target", "name", "traceId", "TEXT"):
        assert needle in messages
    stored = get_scores(api, {"traceId": trace_id})
    assert [s["id"] for s in stored["data"]] == [f"good-{unique}"]


def test_all_good_batches_get_202_and_a_single_object_gets_its_id(api: httpx.Client) -> None:
    trace_id = os.urandom(16).hex()
    response = api.post(SCORES, json=[{"traceId": trace_id, "name": "a", "value": 1}])
    assert response.status_code == 202
    assert CreateScoreBatchResponse.model_validate(response.json()).message == "Accepted"
    single = api.post(SCORES, json={"traceId": trace_id, "name": "b", "value": "x"})
    assert single.status_code == 200
    assert_valid_response("POST", SCORES, 200, single.json())
    assert len(get_scores(api, {"traceId": trace_id})["data"]) == 2
    bad_single = api.post(SCORES, json={"traceId": trace_id, "name": "c"})
    assert bad_single.status_code == 400
    assert "value" in bad_single.json()["message"]
    assert (
        api.post(SCORES, content=b"[oops", headers={"Content-Type": "application/json"}).status_code
        == 400
    )


def test_score_cursor_pages_without_overlap(api: httpx.Client) -> None:
    trace_id = os.urandom(16).hex()
    batch = [
        {
            "traceId": trace_id,
            "name": f"n{i}",
            "value": i,
            "timestamp": f"2026-01-0{i + 1}T00:00:00Z",
        }
        for i in range(5)
    ]
    assert api.post(SCORES, json=batch).status_code == 202
    seen: list[str] = []
    params: dict[str, Any] = {"traceId": trace_id, "limit": 2}
    for _ in range(5):
        body = get_scores(api, params)
        assert body["meta"]["limit"] == 2
        seen += [score["name"] for score in body["data"]]
        if not body["meta"].get("cursor"):
            break
        params["cursor"] = body["meta"]["cursor"]
    assert seen == ["n4", "n3", "n2", "n1", "n0"]
    window = get_scores(
        api,
        {
            "traceId": trace_id,
            "fromTimestamp": "2026-01-02T00:00:00Z",
            "toTimestamp": "2026-01-04T00:00:00Z",
        },
    )
    assert [s["name"] for s in window["data"]] == ["n2", "n1"]


@pytest.mark.parametrize(
    "params",
    [
        {"observationId": "o"},
        {"traceId": "t", "sessionId": "s"},
        {"limit": "101"},
        {"fields": "details,everything"},
        {"value": "1"},
        {"dataType": "NUMERIC,BOOLEAN", "valueMin": "1"},
        {"cursor": "!!"},
    ],
    ids=["obs-without-trace", "trace-and-session", "limit", "fields", "value", "min", "cursor"],
)
def test_bad_score_queries_get_400(api: httpx.Client, params: dict[str, str]) -> None:
    response = api.get(SCORES_V3, params=params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_deleting_a_score_removes_it_and_a_second_delete_is_404(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    trace_id = os.urandom(16).hex()
    score_id = f"del-{unique}"
    created = api.post(
        SCORES, json=[{"id": score_id, "traceId": trace_id, "name": "d", "value": 1}]
    )
    assert created.status_code == 202
    assert len(get_scores(api, {"id": score_id})["data"]) == 1
    langfuse.api.scores.delete(score_id)
    assert get_scores(api, {"id": score_id})["data"] == []
    assert api.delete(f"{SCORES}/{score_id}").status_code == 404
