"""Datasets and dataset items on local-langfuse, through the unmodified SDK and raw HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from langfuse import Langfuse
from langfuse.api.commons.errors.not_found_error import NotFoundError

from tests.support.openapi import assert_valid_response


def _ok(response: httpx.Response, method: str, path: str) -> Any:
    """The body of a 200, after checking it against Langfuse's schema for that operation."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid_response(method, path, 200, body)
    return body


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["message"]
    assert message
    return message


def test_sdk_creates_a_dataset_in_a_folder_and_reads_it_back(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"qa/set-{unique}"
    created = langfuse.create_dataset(
        name=name,
        description="demo",
        metadata={"owner": "me"},
        input_schema={"type": "object"},
    )
    assert created.name == name
    assert created.metadata == {"owner": "me"}
    assert created.input_schema == {"type": "object"}
    assert created.expected_output_schema is None

    path = f"/api/public/v2/datasets/{quote(name, safe='')}"
    body = _ok(api.get(path), "GET", path)
    assert body["id"] == created.id
    assert body["description"] == "demo"


def test_get_dataset_pages_through_more_than_fifty_items(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"paged-{unique}"
    langfuse.create_dataset(name=name)
    ids = set()
    for index in range(57):
        item = langfuse.create_dataset_item(
            dataset_name=name,
            input={"q": f"{index}+{index}"},
            expected_output={"a": str(2 * index)},
            metadata={"index": index},
        )
        assert item.status == "ACTIVE"
        ids.add(item.id)

    dataset = langfuse.get_dataset(name)

    assert {item.id for item in dataset.items} == ids
    assert len(dataset.items) == 57
    by_index = {item.metadata["index"]: item for item in dataset.items}
    assert by_index[7].input == {"q": "7+7"}
    assert by_index[7].expected_output == {"a": "14"}
    assert all(item.dataset_name == name for item in dataset.items)

    page = _ok(
        api.get("/api/public/dataset-items", params={"datasetName": name, "page": 2, "limit": 50}),
        "GET",
        "/api/public/dataset-items",
    )
    assert page["meta"] == {"page": 2, "limit": 50, "totalItems": 57, "totalPages": 2}
    assert len(page["data"]) == 7
    assert all(item["mediaReferences"] == [] for item in page["data"])


def test_dataset_items_upsert_by_id_and_keep_fields_sent_as_null(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"upsert-{unique}"
    langfuse.create_dataset(name=name)
    item_id = f"item-{unique}"
    first = langfuse.create_dataset_item(
        dataset_name=name, id=item_id, input={"q": 1}, expected_output="one"
    )
    second = langfuse.create_dataset_item(
        dataset_name=name, id=item_id, input={"q": 2}, status="ARCHIVED"
    )

    assert second.id == first.id
    assert second.input == {"q": 2}
    assert second.expected_output == "one"
    assert second.status == "ARCHIVED"
    assert second.created_at == first.created_at
    path = f"/api/public/dataset-items/{item_id}"
    assert _ok(api.get(path), "GET", path)["status"] == "ARCHIVED"
    # An archived item leaves the dataset's item list (langfuse-python's e2e
    # test_upsert_and_get_dataset_item: get_dataset no longer lists it).
    listing = api.get("/api/public/dataset-items", params={"datasetName": name}).json()
    assert listing["meta"]["totalItems"] == 0
    assert listing["data"] == []


def test_creating_a_dataset_twice_upserts_by_name(langfuse: Langfuse, unique: str) -> None:
    name = f"twice-{unique}"
    first = langfuse.create_dataset(name=name, description="v1", metadata={"k": 1})
    second = langfuse.create_dataset(name=name, description="v2")

    assert second.id == first.id
    assert second.description == "v2"
    assert second.metadata == {"k": 1}


def test_datasets_list_has_full_meta_and_matches_the_schema(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    for index in range(3):
        langfuse.create_dataset(name=f"listed-{unique}-{index}")

    listed = langfuse.api.datasets.list(page=1, limit=2)
    assert listed.meta.page == 1
    assert listed.meta.limit == 2
    assert listed.meta.total_items >= 3
    assert listed.meta.total_pages == -(-listed.meta.total_items // 2)
    assert len(listed.data) == 2

    body = _ok(
        api.get("/api/public/v2/datasets", params={"limit": 100}), "GET", "/api/public/v2/datasets"
    )
    names = {dataset["name"] for dataset in body["data"]}
    assert {f"listed-{unique}-{index}" for index in range(3)} <= names


def test_dataset_item_get_and_delete(langfuse: Langfuse, api: httpx.Client, unique: str) -> None:
    name = f"delete-{unique}"
    langfuse.create_dataset(name=name)
    item = langfuse.create_dataset_item(dataset_name=name, input="hello", source_trace_id="t-1")

    fetched = langfuse.api.dataset_items.get(item.id)
    assert fetched.input == "hello"
    assert fetched.source_trace_id == "t-1"

    path = f"/api/public/dataset-items/{item.id}"
    deleted = api.delete(path)
    _ok(deleted, "DELETE", path)
    assert "not found" in _error(api.get(path), 404)
    assert "not found" in _error(api.delete(path), 404)
    assert langfuse.get_dataset(name).items == []


def test_dataset_items_filter_by_source_trace(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"filter-{unique}"
    langfuse.create_dataset(name=name)
    langfuse.create_dataset_item(dataset_name=name, input=1, source_trace_id=f"trace-{unique}")
    langfuse.create_dataset_item(dataset_name=name, input=2)

    body = _ok(
        api.get("/api/public/dataset-items", params={"sourceTraceId": f"trace-{unique}"}),
        "GET",
        "/api/public/dataset-items",
    )
    assert [item["input"] for item in body["data"]] == [1]


def test_get_dataset_of_an_unknown_name_raises_not_found(langfuse: Langfuse, unique: str) -> None:
    with pytest.raises(NotFoundError):
        langfuse.get_dataset(f"missing-{unique}")


def test_item_for_an_unknown_dataset_is_a_404_naming_it(api: httpx.Client, unique: str) -> None:
    response = api.post(
        "/api/public/dataset-items", json={"datasetName": f"nope-{unique}", "input": 1}
    )
    assert f"nope-{unique}" in _error(response, 404)
    listing = api.get("/api/public/dataset-items", params={"datasetName": f"nope-{unique}"})
    assert f"nope-{unique}" in _error(listing, 404)


def test_an_item_id_cannot_move_to_another_dataset(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    langfuse.create_dataset(name=f"a-{unique}")
    langfuse.create_dataset(name=f"b-{unique}")
    langfuse.create_dataset_item(dataset_name=f"a-{unique}", id=f"i-{unique}", input=1)

    response = api.post(
        "/api/public/dataset-items",
        json={"datasetName": f"b-{unique}", "id": f"i-{unique}", "input": 2},
    )
    assert f"a-{unique}" in _error(response, 400)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/public/v2/datasets", {}, "'name' is required"),
        ("/api/public/v2/datasets", {"name": ""}, "'name' must not be empty"),
        ("/api/public/v2/datasets", {"name": 5}, "'name' must be a string"),
        ("/api/public/v2/datasets", {"name": "x", "description": ["a"]}, "'description'"),
        ("/api/public/v2/datasets", {"name": "x", "inputSchema": "str"}, "'inputSchema'"),
        ("/api/public/v2/datasets", ["name"], "must be a JSON object"),
        ("/api/public/dataset-items", {"input": 1}, "'datasetName' is required"),
        ("/api/public/dataset-items", {"datasetName": ["x"]}, "'datasetName' must be a string"),
        ("/api/public/dataset-items", {"datasetName": "x", "status": "DONE"}, "'status'"),
        ("/api/public/dataset-items", {"datasetName": "x", "id": 3}, "'id' must be a string"),
        ("/api/public/dataset-items", {"datasetName": "x", "id": "i" * 256}, "at most 255"),
        ("/api/public/dataset-items", "item", "must be a JSON object"),
    ],
)
def test_bad_bodies_get_a_400_saying_what_is_wrong(
    api: httpx.Client, path: str, body: Any, expected: str
) -> None:
    assert expected in _error(api.post(path, json=body), 400)


@pytest.mark.parametrize(
    "params",
    [{"page": "one"}, {"page": "0"}, {"limit": "-1"}, {"version": "yesterday"}],
)
def test_bad_query_parameters_get_a_400(api: httpx.Client, params: dict[str, str]) -> None:
    message = _error(api.get("/api/public/dataset-items", params=params), 400)
    assert next(iter(params)) in message
