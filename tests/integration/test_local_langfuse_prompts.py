"""Prompt management of local-langfuse: the unmodified SDK over HTTP, plus raw HTTP for statuses.

Every JSON body is checked against Langfuse's OpenAPI spec. Tests share one server and isolate
themselves with unique prompt names.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from langfuse import Langfuse
from langfuse.api import NotFoundError

from local_langfuse import LocalLangfuseServer
from tests.support.openapi import assert_valid_response
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, start_local_langfuse

PROMPTS = "/api/public/v2/prompts"


def checked(response: httpx.Response, status: int, spec_path: str | None = None) -> Any:
    """The JSON body, after checking the status and the body against the spec.

    ``spec_path`` names the operation when the request path itself is not one the spec has.
    """
    assert response.status_code == status, response.text
    body = response.json()
    path = spec_path or response.request.url.raw_path.decode().split("?")[0]
    # Langfuse answers a create with 201; its spec documents the same Prompt body under 200.
    documented = 200 if (response.request.method == "POST" and status == 201) else status
    assert_valid_response(response.request.method, path, documented, body)
    return body


def create(api: httpx.Client, body: dict[str, Any], status: int = 201) -> Any:
    return checked(api.post(PROMPTS, json=body), status)


def get(api: httpx.Client, name: str, status: int = 200, **params: Any) -> Any:
    return checked(api.get(f"{PROMPTS}/{quote(name, safe='')}", params=params), status)


def problem(body: Any) -> str:
    """All a 400 says: its message and, for a validation error, each issue's message."""
    issues = body["error"] if isinstance(body.get("error"), list) else []
    return " | ".join([body["message"], *(str(issue["message"]) for issue in issues)])


def labels_by_version(api: httpx.Client, name: str, versions: range) -> dict[int, list[str]]:
    return {v: get(api, name, version=v)["labels"] for v in versions}


# --- reading through the SDK ----------------------------------------------------------------


def test_get_prompt_by_label_by_version_and_production_by_default(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"movie-critic-{unique}"
    create(api, {"name": name, "prompt": "v1 {{movie}}", "labels": ["production"]})
    create(api, {"name": name, "prompt": "v2 {{movie}}", "labels": ["staging"]})

    default = langfuse.get_prompt(name, cache_ttl_seconds=0)
    by_label = langfuse.get_prompt(name, label="staging", cache_ttl_seconds=0)
    by_version = langfuse.get_prompt(name, version=1, cache_ttl_seconds=0)

    assert (default.version, default.prompt) == (1, "v1 {{movie}}")
    assert (by_label.version, by_label.labels) == (2, ["staging", "latest"])
    assert by_version.labels == ["production"]
    assert get(api, name)["version"] == 1
    assert get(api, name, label="latest")["version"] == 2


def test_cache_ttl_zero_sees_a_label_moved_by_update_prompt(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"ttl-zero-{unique}"
    create(api, {"name": name, "prompt": "first", "labels": ["production"]})
    create(api, {"name": name, "prompt": "second"})
    assert langfuse.get_prompt(name, cache_ttl_seconds=0).prompt == "first"

    updated = langfuse.update_prompt(name=name, version=2, new_labels=["production"])

    assert updated.labels == ["production", "latest"]
    assert langfuse.get_prompt(name, cache_ttl_seconds=0).prompt == "second"
    # The label left version 1: nothing points there any more.
    assert get(api, name, version=1)["labels"] == []


def test_a_label_moved_through_a_second_server_on_the_same_file_is_read_at_once(
    lf_server: LocalLangfuseServer, api: httpx.Client, unique: str
) -> None:
    # Like the app and the CLI, each with its embedded server on the one data directory; the
    # first server has just answered the GET (and keeps the answer until the file changes).
    name = f"two-servers-{unique}"
    create(api, {"name": name, "prompt": "first", "labels": ["production"]})
    create(api, {"name": name, "prompt": "second"})
    assert get(api, name)["version"] == 1
    other = start_local_langfuse(lf_server.config.db_path)
    try:
        with httpx.Client(base_url=other.base_url, auth=(PUBLIC_KEY, SECRET_KEY)) as other_api:
            other_api.patch(
                f"{PROMPTS}/{quote(name, safe='')}/versions/2", json={"newLabels": ["production"]}
            ).raise_for_status()
    finally:
        other.stop()

    assert get(api, name)["version"] == 2
    assert get(api, name, version=1)["labels"] == []


def test_missing_prompt_raises_the_sdk_not_found_error_with_a_useful_body(
    langfuse: Langfuse, unique: str
) -> None:
    with pytest.raises(NotFoundError) as caught:
        langfuse.get_prompt(f"nowhere-{unique}", max_retries=0, cache_ttl_seconds=0)
    assert caught.value.status_code == 404
    assert f"nowhere-{unique}" in str(caught.value.body)


def test_missing_label_or_version_404_names_them_and_lists_the_labels(
    api: httpx.Client, unique: str
) -> None:
    name = f"labelled-{unique}"
    create(api, {"name": name, "prompt": "x", "labels": ["staging"]})

    no_production = get(api, name, status=404)["message"]
    no_label = get(api, name, status=404, label="canary")["message"]
    no_version = get(api, name, status=404, version=9)["message"]

    assert name in no_production
    assert "'production'" in no_production
    assert "latest, staging" in no_production
    assert "'canary'" in no_label
    assert "version 9" in no_version
    assert "latest, staging" in no_version


# --- creating -------------------------------------------------------------------------------


def test_create_text_prompt_through_the_sdk_compiles_and_keeps_its_fields(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"text-{unique}"
    created = langfuse.create_prompt(
        name=name,
        prompt="As a {{level}} critic, do you like {{movie}}?",
        labels=["production"],
        tags=["demo"],
        config={"model": "gpt-4o", "temperature": 0.7},
        commit_message="initial",
    )

    fetched = langfuse.get_prompt(name, cache_ttl_seconds=0)
    assert created.version == fetched.version == 1
    assert fetched.compile(level="expert", movie="Dune") == "As a expert critic, do you like Dune?"
    assert fetched.config == {"model": "gpt-4o", "temperature": 0.7}
    assert fetched.commit_message == "initial"
    assert fetched.tags == ["demo"]
    raw = get(api, name)
    assert raw["type"] == "text"
    assert raw["labels"] == ["production", "latest"]


def test_create_chat_prompt_with_a_placeholder_compiles_the_history_in(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"support/chat-{unique}"
    langfuse.create_prompt(
        name=name,
        type="chat",
        prompt=[
            {"role": "system", "content": "You are a {{tone}} assistant for {{product}}."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"},
        ],
        labels=["production"],
    )

    prompt = langfuse.get_prompt(name, type="chat", cache_ttl_seconds=0)
    messages = prompt.compile(
        tone="calm",
        product="Acme",
        question="Why?",
        history=[{"role": "user", "content": "hi {{product}}"}],
    )

    assert messages == [
        {"role": "system", "content": "You are a calm assistant for Acme."},
        {"role": "user", "content": "hi Acme"},
        {"role": "user", "content": "Why?"},
    ]
    raw = get(api, name)
    assert raw["type"] == "chat"
    assert raw["prompt"][1] == {"type": "placeholder", "name": "history"}
    assert raw["config"] == {}


def test_a_missing_type_means_text_and_config_defaults_to_an_empty_object(
    api: httpx.Client, unique: str
) -> None:
    body = create(api, {"name": f"defaults-{unique}", "prompt": "p", "config": None, "tags": None})
    assert (body["type"], body["config"], body["tags"], body["commitMessage"]) == (
        "text",
        {},
        [],
        None,
    )
    for key in ("type", "name", "version", "prompt", "config", "labels", "tags", "commitMessage"):
        assert key in body


def test_tags_are_shared_by_all_versions_null_keeps_them_and_a_list_replaces_them(
    api: httpx.Client, unique: str
) -> None:
    name = f"tagged-{unique}"
    create(api, {"name": name, "prompt": "1", "tags": ["a", "b"]})
    kept = create(api, {"name": name, "prompt": "2", "tags": None})
    create(api, {"name": name, "prompt": "3", "tags": ["c"]})

    assert kept["tags"] == ["a", "b"]
    assert [get(api, name, version=v)["tags"] for v in (1, 2, 3)] == [["c"]] * 3


def test_the_type_of_a_prompt_cannot_change_between_versions(
    api: httpx.Client, unique: str
) -> None:
    name = f"typed-{unique}"
    create(api, {"name": name, "prompt": "text"})

    refused = create(
        api,
        {"name": name, "type": "chat", "prompt": [{"role": "user", "content": "x"}]},
        status=400,
    )

    assert "text prompt" in refused["message"]
    get(api, name, status=404, version=2)


# --- labels ---------------------------------------------------------------------------------


def test_latest_follows_the_newest_version_and_cannot_be_patched_onto_another(
    api: httpx.Client, unique: str
) -> None:
    name = f"latest-{unique}"
    for text in ("1", "2", "3"):
        create(api, {"name": name, "prompt": text})
    assert labels_by_version(api, name, range(1, 4)) == {1: [], 2: [], 3: ["latest"]}

    by_patch = checked(
        api.patch(f"{PROMPTS}/{name}/versions/1", json={"newLabels": ["latest"]}), 400
    )
    assert "latest" in problem(by_patch)
    assert get(api, name, label="latest")["version"] == 3

    # Deleting the newest version hands `latest` to the one before.
    assert api.delete(f"{PROMPTS}/{name}", params={"version": 3}).status_code == 204
    assert get(api, name, label="latest")["version"] == 2


def test_update_prompt_moves_a_label_off_the_version_that_had_it(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"promote-{unique}"
    create(api, {"name": name, "prompt": "1", "labels": ["production", "staging"]})
    create(api, {"name": name, "prompt": "2"})

    langfuse.update_prompt(name=name, version=2, new_labels=["staging", "staging"])

    assert labels_by_version(api, name, range(1, 3)) == {
        1: ["production"],
        2: ["staging", "latest"],
    }


def test_labels_in_a_create_move_to_the_new_version(api: httpx.Client, unique: str) -> None:
    name = f"move-{unique}"
    create(api, {"name": name, "prompt": "1", "labels": ["production"]})
    create(api, {"name": name, "prompt": "2", "labels": ["production"]})
    assert labels_by_version(api, name, range(1, 3)) == {1: [], 2: ["production", "latest"]}


def test_ten_concurrent_creates_get_consecutive_versions_and_one_latest(
    lf_server: LocalLangfuseServer, api: httpx.Client, unique: str
) -> None:
    name = f"race-{unique}"
    start = threading.Barrier(10)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with httpx.Client(base_url=lf_server.base_url, auth=(PUBLIC_KEY, SECRET_KEY)) as c:
                start.wait(timeout=30)
                response = c.post(PROMPTS, json={"name": name, "prompt": f"#{index}"})
                results.append(checked(response, 201)["version"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert sorted(results) == list(range(1, 11))
    labels = labels_by_version(api, name, range(1, 11))
    assert [v for v, found in labels.items() if "latest" in found] == [10]


# --- folders --------------------------------------------------------------------------------


def test_folder_names_with_slashes_and_odd_characters_work_end_to_end(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    name = f"folder-{unique}/sub dir/na?me#1%+&é"
    langfuse.create_prompt(name=name, prompt="one", labels=["production"])
    langfuse.create_prompt(name=name, prompt="two")

    langfuse.update_prompt(name=name, version=2, new_labels=["production"])

    fetched = langfuse.get_prompt(name, cache_ttl_seconds=0)
    assert (fetched.name, fetched.prompt) == (name, "two")
    listed = checked(api.get(PROMPTS, params={"name": name}), 200)
    assert [item["versions"] for item in listed["data"]] == [[1, 2]]
    langfuse.api.prompts.delete(quote(name, safe=""), version=1)
    get(api, name, status=404, version=1)


def test_an_unencoded_folder_name_gets_a_404_that_explains_the_encoding(
    api: httpx.Client, unique: str
) -> None:
    name = f"folder-{unique}/prompt"
    create(api, {"name": name, "prompt": "x", "labels": ["production"]})

    response = checked(
        api.get(f"{PROMPTS}/folder-{unique}/prompt"), 404, spec_path=f"{PROMPTS}/{{promptName}}"
    )

    assert f"folder-{unique}%2Fprompt" in response["message"]


# --- listing --------------------------------------------------------------------------------


def test_list_filters_by_name_label_and_tag_and_pages(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    tag = f"tag-{unique}"
    for index in range(3):
        name = f"list-{unique}-{index}"
        create(api, {"name": name, "prompt": "a", "tags": [tag], "config": {"v": 1}})
        create(
            api,
            {
                "name": name,
                "prompt": "b",
                "labels": ["production"] if index else [],
                "config": {"v": 2},
            },
        )
    create(api, {"name": f"list-{unique}-untagged", "prompt": "x"})

    first = langfuse.api.prompts.list(tag=tag, page=1, limit=2)
    second = langfuse.api.prompts.list(tag=tag, page=2, limit=2)
    labelled = langfuse.api.prompts.list(tag=tag, label="production")
    by_name = langfuse.api.prompts.list(name=f"list-{unique}-0")

    assert [p.name for p in first.data + second.data] == [f"list-{unique}-{i}" for i in range(3)]
    assert (first.meta.total_items, first.meta.total_pages, second.meta.page) == (3, 2, 2)
    assert [p.name for p in labelled.data] == [f"list-{unique}-1", f"list-{unique}-2"]
    assert labelled.data[0].versions == [2]
    only = by_name.data[0]
    assert (only.versions, only.labels, only.tags, only.last_config) == (
        [1, 2],
        ["latest"],
        [tag],
        {"v": 2},
    )
    raw = checked(api.get(PROMPTS, params={"tag": tag, "limit": 2, "page": 2}), 200)
    assert raw["meta"] == {"page": 2, "limit": 2, "totalItems": 3, "totalPages": 2}


def test_list_filters_by_updated_at(api: httpx.Client, unique: str) -> None:
    name = f"updated-{unique}"
    create(api, {"name": name, "prompt": "x"})
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    after = checked(api.get(PROMPTS, params={"name": name, "fromUpdatedAt": future}), 200)
    within = checked(
        api.get(PROMPTS, params={"name": name, "fromUpdatedAt": past, "toUpdatedAt": future}),
        200,
    )

    assert after["data"] == []
    assert [item["name"] for item in within["data"]] == [name]


# --- deleting -------------------------------------------------------------------------------


def test_delete_by_label_then_everything(api: httpx.Client, unique: str) -> None:
    name = f"doomed-{unique}"
    create(api, {"name": name, "prompt": "1", "labels": ["staging"]})
    create(api, {"name": name, "prompt": "2"})

    assert api.delete(f"{PROMPTS}/{name}", params={"label": "staging"}).status_code == 204
    get(api, name, status=404, version=1)
    assert get(api, name, version=2)["labels"] == ["latest"]

    assert api.delete(f"{PROMPTS}/{name}").status_code == 204
    assert name in get(api, name, status=404, label="latest")["message"]
    listed = checked(api.get(PROMPTS, params={"name": name}), 200)
    assert listed["data"] == []


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([{"name": "x"}], "JSON object"),
        ({"prompt": "x"}, "'name'"),
        ({"name": "", "prompt": "x"}, "cannot be empty"),
        ({"name": 7, "prompt": "x"}, "'name'"),
        ({"name": "/lead", "prompt": "x"}, "start with a slash"),
        ({"name": "trail/", "prompt": "x"}, "end with a slash"),
        ({"name": "a//b", "prompt": "x"}, "consecutive slashes"),
        ({"name": "a|b", "prompt": "x"}, "'|'"),
        ({"name": "x" * 256, "prompt": "x"}, "255"),
        ({"name": "ok"}, "'prompt'"),
        ({"name": "ok", "prompt": ["x"]}, "'prompt'"),
        ({"name": "ok", "type": "chat", "prompt": "x"}, "'prompt'"),
        ({"name": "ok", "type": "image", "prompt": "x"}, "'type'"),
        ({"name": "ok", "type": "chat", "prompt": [{"role": "user"}]}, "'prompt[0].content'"),
        ({"name": "ok", "type": "chat", "prompt": [{"content": "x"}]}, "'prompt[0].role'"),
        (
            {
                "name": "ok",
                "type": "chat",
                "prompt": [{"type": "message", "role": "u", "content": "x"}],
            },
            "'prompt[0].type'",
        ),
        ({"name": "ok", "type": "chat", "prompt": [{"type": "placeholder"}]}, "'prompt[0].name'"),
        ({"name": "ok", "prompt": "x", "labels": "production"}, "'labels'"),
        ({"name": "ok", "prompt": "x", "labels": ["Production"]}, "lowercase"),
        ({"name": "ok", "prompt": "x", "labels": [""]}, ">=1"),
        ({"name": "ok", "prompt": "x", "labels": ["x" * 37]}, "36"),
        ({"name": "ok", "prompt": "x", "tags": "demo"}, "'tags'"),
        ({"name": "ok", "prompt": "x", "tags": [1]}, "'tags[0]'"),
        ({"name": "ok", "prompt": "x", "commitMessage": 5}, "'commitMessage'"),
        ({"name": "ok", "prompt": "x", "commitMessage": "m" * 501}, "500"),
    ],
)
def test_create_rejects_bad_bodies_with_a_message_naming_the_field(
    api: httpx.Client, body: Any, fragment: str
) -> None:
    assert fragment in problem(checked(api.post(PROMPTS, json=body), 400))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'{"name":"n","prompt":"x\\ud800"}', "surrogate"),
        (b'{"name":"n","prompt":"x","config":{"a":1e400}}', "'config'"),
        (b'{"name":"n","prompt":"x","config":{"t":NaN}}', "'config'"),
    ],
)
def test_create_rejects_bodies_that_are_not_json(
    api: httpx.Client, content: bytes, fragment: str
) -> None:
    response = api.post(PROMPTS, content=content, headers={"content-type": "application/json"})
    assert fragment in problem(checked(response, 400))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"version": 1, "label": "production"}, "both version and label"),
        ({"version": "abc"}, "'version'"),
        ({"version": 0}, "'version'"),
        ({"label": ""}, "'label'"),
        ({"version": 2**63}, "<=2147483647"),
    ],
)
def test_get_rejects_bad_queries(
    api: httpx.Client, unique: str, params: dict[str, Any], fragment: str
) -> None:
    name = f"query-{unique}"
    create(api, {"name": name, "prompt": "x", "labels": ["production"]})
    assert fragment in problem(get(api, name, status=400, **params))


@pytest.mark.parametrize(
    ("suffix", "body", "status", "fragment"),
    [
        ("/versions/9", {"newLabels": ["staging"]}, 404, "version 9"),
        ("/versions/abc", {"newLabels": ["staging"]}, 400, "positive integer"),
        ("/versions/0", {"newLabels": ["staging"]}, 400, "positive integer"),
        ("/versions/99999999999999999999", {"newLabels": ["a"]}, 400, "positive integer"),
        ("/versions/1", {}, 400, "'newLabels'"),
        ("/versions/1", {"newLabels": "staging"}, 400, "'newLabels'"),
        ("/versions/1", {"newLabels": None}, 400, "'newLabels'"),
        ("/versions/1", {"newLabels": ["BAD LABEL"]}, 400, "lowercase"),
        ("/versions/1", ["staging"], 400, "JSON object"),
        ("/labels/1", {"newLabels": ["staging"]}, 404, "URL-encoded"),
    ],
)
def test_patch_rejects_bad_requests(
    api: httpx.Client, unique: str, suffix: str, body: Any, status: int, fragment: str
) -> None:
    name = f"patch-{unique}"
    create(api, {"name": name, "prompt": "x"})
    response = api.patch(f"{PROMPTS}/{name}{suffix}", json=body)
    spec_path = f"{PROMPTS}/{{name}}/versions/{{version}}"
    assert fragment in problem(checked(response, status, spec_path=spec_path))


def test_patch_of_an_unknown_prompt_is_a_404(api: httpx.Client, unique: str) -> None:
    response = api.patch(f"{PROMPTS}/ghost-{unique}/versions/1", json={"newLabels": ["a"]})
    assert f"ghost-{unique}" in checked(response, 404)["message"]


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"version": 1, "label": "production"}, 400, "both version and label"),
        ({"version": "x"}, 400, "'version'"),
        ({"label": "NOPE"}, 400, "lowercase"),
        ({"version": 5}, 404, "version 5"),
        ({"label": "staging"}, 404, "'staging'"),
    ],
)
def test_delete_rejects_bad_queries_and_unknown_versions(
    api: httpx.Client, unique: str, params: dict[str, Any], status: int, fragment: str
) -> None:
    name = f"delete-{unique}"
    create(api, {"name": name, "prompt": "x"})
    response = api.delete(f"{PROMPTS}/{name}", params=params)
    assert fragment in problem(checked(response, status))
    assert get(api, name, label="latest")["version"] == 1


def test_delete_of_an_unknown_prompt_is_a_404(api: httpx.Client, unique: str) -> None:
    response = api.delete(f"{PROMPTS}/ghost-{unique}")
    assert f"ghost-{unique}" in checked(response, 404)["message"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"page": 0}, "'page'"),
        ({"limit": 2**64}, "'limit'"),
        ({"limit": "many"}, "'limit'"),
        ({"fromUpdatedAt": "soon"}, "'fromUpdatedAt'"),
    ],
)
def test_list_rejects_bad_queries(api: httpx.Client, params: dict[str, Any], fragment: str) -> None:
    assert fragment in problem(checked(api.get(PROMPTS, params=params), 400))


def test_list_answers_501_for_the_filter_parameter_instead_of_ignoring_it(
    api: httpx.Client,
) -> None:
    response = api.get(PROMPTS, params={"filter": '[{"column":"name"}]'})
    assert response.status_code == 501
    assert "'filter'" in response.json()["message"]
