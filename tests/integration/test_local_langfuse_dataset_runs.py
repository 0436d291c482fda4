"""Dataset runs and dataset versions, as langfuse-python 4.x's ``run_experiment`` uses them.

Mirrors langfuse-python (v4.14.3) ``tests/e2e/test_experiments.py``
(test_run_experiment_on_langfuse_dataset, test_multiple_experiments_on_same_dataset) and
``tests/e2e/test_datasets.py`` (test_run_experiment_with_versioned_dataset). Our SDK (v5) has
no dataset-run client, so runs are created over raw HTTP; every body is checked against the spec.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from langfuse import Langfuse

from tests.support.openapi import assert_valid_response
from tests.support.otlp import new_trace_id

RUN_ITEMS = "/api/public/dataset-run-items"


def _check(response: httpx.Response, method: str, path: str, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert_valid_response(method, path, status, body)
    return body


def _link(api: httpx.Client, run: str, item_id: str, trace_id: str, **extra: Any) -> Any:
    payload = {"runName": run, "datasetItemId": item_id, "traceId": trace_id, **extra}
    return _check(api.post(RUN_ITEMS, json=payload), "POST", RUN_ITEMS)


def test_run_items_create_the_run_once_and_list_by_run(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"runs-{unique}"
    dataset = langfuse.create_dataset(name=name)
    items = [langfuse.create_dataset_item(dataset_name=name, input=i) for i in (1, 2)]
    traces = [new_trace_id() for _ in items]

    first = _link(api, "exp-1", items[0].id, traces[0], runDescription="first", metadata={"k": 1})
    second = _link(api, "exp-1", items[1].id, traces[1], observationId="abc")
    other = _link(api, "exp-2", items[0].id, traces[0])
    assert first["datasetRunId"] == second["datasetRunId"] != other["datasetRunId"]
    assert (first["datasetRunName"], second["observationId"]) == ("exp-1", "abc")

    listed = _check(
        api.get(RUN_ITEMS, params={"datasetId": dataset.id, "runName": "exp-1"}), "GET", RUN_ITEMS
    )
    assert {row["traceId"] for row in listed["data"]} == set(traces)
    assert listed["meta"]["totalItems"] == 2

    runs_path = f"/api/public/datasets/{name}/runs"
    runs = _check(api.get(runs_path), "GET", runs_path)
    assert {run["name"] for run in runs["data"]} == {"exp-1", "exp-2"}

    run_path = f"{runs_path}/exp-1"
    run = _check(api.get(run_path), "GET", run_path)
    assert (run["description"], run["metadata"], run["datasetId"]) == (
        "first",
        {"k": 1},
        dataset.id,
    )
    assert [item["datasetItemId"] for item in run["datasetRunItems"]] == [i.id for i in items]

    deleted = api.delete(f"{runs_path}/exp-2")
    assert deleted.status_code == 200, deleted.text
    assert _check(api.get(f"{runs_path}/exp-2"), "GET", run_path, status=404)["message"]


def test_run_item_errors_name_the_problem(api: httpx.Client) -> None:
    missing = api.post(RUN_ITEMS, json={"datasetItemId": "x", "traceId": "t"})
    assert missing.status_code == 400
    assert "runName" in missing.json()["message"]
    unknown = api.post(RUN_ITEMS, json={"runName": "r", "datasetItemId": "nope", "traceId": "t"})
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["message"]
    no_params = api.get(RUN_ITEMS)
    assert no_params.status_code == 400
    assert "datasetId" in no_params.json()["message"]
    assert api.get("/api/public/datasets/none-such/runs").status_code == 404


def test_a_versioned_read_sees_items_as_they_were_then(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"versions-{unique}"
    langfuse.create_dataset(name=name)
    item = langfuse.create_dataset_item(dataset_name=name, input={"q": "2+2"}, expected_output=4)
    time.sleep(0.05)  # item timestamps have millisecond precision
    version = api.get(f"/api/public/dataset-items/{item.id}").json()["updatedAt"]
    time.sleep(0.05)
    langfuse.create_dataset_item(
        dataset_name=name, id=item.id, input={"q": "4+4"}, expected_output=8
    )
    langfuse.create_dataset_item(dataset_name=name, input={"q": "3+3"})

    then = api.get("/api/public/dataset-items", params={"datasetName": name, "version": version})
    body = _check(then, "GET", "/api/public/dataset-items")
    assert [(row["id"], row["input"], row["expectedOutput"]) for row in body["data"]] == [
        (item.id, {"q": "2+2"}, 4)
    ]
    now = langfuse.get_dataset(name)
    assert sorted(i.input["q"] for i in now.items) == ["3+3", "4+4"]


def test_an_item_archived_after_a_version_is_still_in_that_version(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"archived-{unique}"
    langfuse.create_dataset(name=name)
    item = langfuse.create_dataset_item(dataset_name=name, input="x")
    time.sleep(0.05)
    version = api.get(f"/api/public/dataset-items/{item.id}").json()["updatedAt"]
    time.sleep(0.05)
    langfuse.create_dataset_item(dataset_name=name, id=item.id, status="ARCHIVED")

    assert langfuse.get_dataset(name).items == []
    then = api.get("/api/public/dataset-items", params={"datasetName": name, "version": version})
    assert [row["id"] for row in then.json()["data"]] == [item.id]
