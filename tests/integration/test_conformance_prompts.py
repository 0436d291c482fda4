"""Prompt management as Langfuse itself behaves, checked against the running local-langfuse.

Each test names the Langfuse test ("servertest": ``web/src/__tests__/server/
prompts.v2.servertest.ts``) or source file it mirrors; the rules are ported, not the code. The
unmodified SDK does what it can; raw HTTP shows the statuses and bodies the SDK hides.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from langfuse import Langfuse
from langfuse.api import Error as SdkError

from local_langfuse import LocalLangfuseServer
from tests.support.servers import PUBLIC_KEY

PROMPTS = "/api/public/v2/prompts"
PLACEHOLDER_NAME_MESSAGE = (
    "Placeholder name must start with a letter and contain only alphanumeric characters and "
    "underscores"
)


def post(api: httpx.Client, body: dict[str, Any], status: int = 201) -> Any:
    response = api.post(PROMPTS, json=body)
    assert response.status_code == status, response.text
    return response.json()


def get(api: httpx.Client, name: str, status: int = 200, **params: Any) -> Any:
    response = api.get(f"{PROMPTS}/{quote(name, safe='')}", params=params)
    assert response.status_code == status, response.text
    return response.json()


def assert_invalid_request_data(body: Any, message: str) -> None:
    """The check of servertest's ``testInvalidName``: Langfuse's zod body holding the message."""
    assert body["message"] == "Invalid request data"
    assert isinstance(body["error"], list)
    assert f'"message":"{message}"' in json.dumps(body["error"], separators=(",", ":"))


# --- label order ----------------------------------------------------------------------------


def test_labels_come_back_as_given_then_latest_through_the_sdk(
    langfuse: Langfuse, unique: str
) -> None:
    """servertest "should create and fetch a chat prompt": labels ``["production", "latest"]``."""
    name = f"order-sdk-{unique}"
    created = langfuse.create_prompt(
        name=name,
        type="chat",
        prompt=[{"role": "system", "content": "You are a bot"}],
        labels=["production", "staging"],
    )
    fetched = langfuse.get_prompt(name, type="chat", cache_ttl_seconds=0)
    assert created.labels == ["production", "staging", "latest"]
    assert fetched.labels == ["production", "staging", "latest"]


def test_overwriting_labels_keeps_each_version_s_order(api: httpx.Client, unique: str) -> None:
    """servertest "should correctly handle overwriting labels"."""
    name = f"overwrite-{unique}"
    first = post(api, {"name": name, "prompt": "p1", "labels": ["production", "staging", "dev"]})
    second = post(
        api, {"name": name, "prompt": "p2", "labels": ["production", "production", "staging"]}
    )
    third = post(api, {"name": name, "prompt": "p3", "labels": ["staging"]})

    production = get(api, name)
    assert production["id"] == second["id"]
    assert production["labels"] == ["production"]
    v1 = get(api, name, version=1)
    assert (v1["id"], v1["labels"]) == (first["id"], ["dev"])
    v3 = get(api, name, version=3)
    assert (v3["id"], v3["labels"]) == (third["id"], ["staging", "latest"])


def test_patch_puts_new_labels_before_the_ones_a_version_has(
    langfuse: Langfuse, api: httpx.Client, unique: str
) -> None:
    """servertest "should update the labels of a prompt"; updatePrompts.ts keeps
    ``new Set([...newLabels, ...prompt.labels])``."""
    name = f"patch-order-{unique}"
    post(api, {"name": name, "prompt": "x", "labels": ["production"]})

    updated = langfuse.update_prompt(name=name, version=1, new_labels=["new-label"])

    assert updated.labels == ["new-label", "production", "latest"]
    assert get(api, name, version=1)["labels"] == ["new-label", "production", "latest"]


def test_patch_takes_the_label_off_the_previous_version(api: httpx.Client, unique: str) -> None:
    """servertest "should remove label from previous version when adding to new version"."""
    name = f"patch-move-{unique}"
    post(api, {"name": name, "prompt": "1", "labels": ["production"]})
    post(api, {"name": name, "prompt": "2"})

    response = api.patch(f"{PROMPTS}/{name}/versions/2", json={"newLabels": ["production"]})

    assert response.status_code == 200, response.text
    assert response.json()["labels"] == ["production", "latest"]
    assert get(api, name, version=1)["labels"] == []


def test_deleting_the_latest_version_appends_latest_to_the_highest_left(
    api: httpx.Client, unique: str
) -> None:
    """servertest 'reattaches "latest" label to highest remaining version when deleted';
    deletePrompt.ts appends it: ``[...labels, "latest"]``."""
    name = f"reattach-{unique}"
    post(api, {"name": name, "prompt": "1", "labels": ["dev"]})
    post(api, {"name": name, "prompt": "2", "labels": ["production"]})
    post(api, {"name": name, "prompt": "3", "labels": ["dev"]})

    assert api.delete(f"{PROMPTS}/{name}", params={"version": 3}).status_code == 204

    assert get(api, name, version=2)["labels"] == ["production", "latest"]
    assert get(api, name, version=1)["labels"] == []


def test_the_prompt_list_gives_each_name_s_labels_sorted_and_distinct(
    api: httpx.Client, unique: str
) -> None:
    """servertest "should fetch a prompt meta list": the list's labels are Postgres's
    ``array_agg(DISTINCT label)`` (getPromptsMeta.ts), sorted, unlike one version's labels."""
    name = f"list-labels-{unique}"
    for text, labels in (("1", ["production"]), ("2", ["staging"]), ("3", ["dev"])):
        post(api, {"name": name, "prompt": text, "labels": labels})

    listed = api.get(PROMPTS, params={"name": name}).json()["data"]

    assert [(m["versions"], m["labels"]) for m in listed] == [
        ([1, 2, 3], ["dev", "latest", "production", "staging"])
    ]


# --- latest on create -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["latest"], ["latest"]),
        (["production", "latest"], ["production", "latest"]),
        (["latest", "production", "latest"], ["latest", "production"]),
    ],
)
def test_create_accepts_latest_and_keeps_it_once(
    api: httpx.Client, unique: str, given: list[str], stored: list[str]
) -> None:
    """createPrompt.ts: ``labels: [...new Set([...labels, LATEST_PROMPT_LABEL])]``."""
    name = f"latest-create-{unique}"
    post(api, {"name": name, "prompt": "1"})

    created = post(api, {"name": name, "prompt": "2", "labels": given})

    assert created["labels"] == stored
    assert get(api, name, label="latest")["version"] == 2
    assert get(api, name, version=1)["labels"] == []


def test_patch_refuses_latest(api: httpx.Client, unique: str) -> None:
    """servertest "trying to set 'latest' label results in 400 error"; promptVersionHandler.ts."""
    name = f"latest-patch-{unique}"
    post(api, {"name": name, "prompt": "1"})
    post(api, {"name": name, "prompt": "2"})

    response = api.patch(f"{PROMPTS}/{name}/versions/1", json={"newLabels": ["latest"]})

    assert response.status_code == 400
    assert_invalid_request_data(
        response.json(), "Label 'latest' is always assigned to the latest prompt version"
    )
    assert get(api, name, label="latest")["version"] == 2


# --- prompt names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        # servertest "should reject invalid prompt names"
        ("/invalid-name", "Name cannot start with a slash"),
        ("invalid-name/", "Name cannot end with a slash"),
        ("invalid//name", "Name cannot contain consecutive slashes"),
        ("invalid|name", "Prompt name cannot contain '|' character"),
        ("new", "Prompt name cannot be 'new'"),
        ("", "Text cannot be empty"),
        ("Test <div>", "Text cannot contain HTML tags"),
        # RESERVED_PROMPT_NAMES and withFolderPathValidation (packages/shared/src/features/)
        ("metrics", "Prompt name cannot be 'metrics'"),
        ("prompt-detail", "Prompt name cannot be 'prompt-detail'"),
        ("   ", "Name cannot be empty"),
        (" new ", "Prompt name cannot be 'new'"),
        ("a <b> c", "Text cannot contain HTML tags"),
    ],
)
def test_invalid_prompt_names_get_langfuse_s_validation_body(
    api: httpx.Client, name: str, message: str
) -> None:
    body = post(api, {"name": name, "prompt": "test prompt", "type": "text"}, status=400)
    assert_invalid_request_data(body, message)


def test_the_sdk_sees_the_validation_message(langfuse: Langfuse) -> None:
    """The SDK's error carries Langfuse's body, issues included."""
    with pytest.raises(SdkError) as caught:
        langfuse.create_prompt(name="/leading-slash", prompt="x")
    assert caught.value.status_code == 400
    assert "Name cannot start with a slash" in json.dumps(caught.value.body)


@pytest.mark.parametrize(
    "name",
    [
        # servertest "should accept valid prompt names"
        "simple-name",
        "name_with_underscores",
        "name.with.dots",
        "UPPERCASE",
        "folder/subfolder/name",
        "_starting_with_underscore",
        "multiple...dots",
        "name with spaces",
        "angled[brac]es]",
        # a reserved name is fine as a folder or a leaf (constants.ts)
        "metrics/x",
        "x/new",
        "prompt-detail/new/metrics",
    ],
)
def test_valid_prompt_names_are_accepted(api: httpx.Client, unique: str, name: str) -> None:
    full = f"{unique}-{name}"
    assert post(api, {"name": full, "prompt": "test prompt", "type": "text"})["name"] == full
    assert get(api, full, label="latest")["name"] == full


def test_surrounding_whitespace_is_trimmed_before_storing(api: httpx.Client, unique: str) -> None:
    """withFolderPathValidation: ``.transform((s) => s.trim())``."""
    created = post(api, {"name": f"  padded-{unique}\t", "prompt": "x", "labels": ["production"]})
    assert created["name"] == f"padded-{unique}"
    assert get(api, f"padded-{unique}")["version"] == 1
    get(api, f"  padded-{unique}\t", status=404)


# --- chat placeholders ----------------------------------------------------------------------


def test_a_chat_prompt_with_a_placeholder_round_trips_through_the_sdk(
    langfuse: Langfuse, unique: str
) -> None:
    """servertest "should create and fetch a chat prompt with message placeholders"."""
    name = f"placeholder-{unique}"
    messages = [
        {"role": "system", "content": "You are a helpful assistant with conversation context."},
        {"type": "placeholder", "name": "conversation_history"},
        {"role": "user", "content": "{{user_question}}"},
    ]
    langfuse.create_prompt(name=name, type="chat", prompt=messages, labels=["production"])  # type: ignore[arg-type]

    fetched = langfuse.get_prompt(name, type="chat", cache_ttl_seconds=0)
    compiled = fetched.compile(
        user_question="And now?",
        conversation_history=[{"role": "user", "content": "Hi"}],
    )
    assert fetched.labels == ["production", "latest"]
    assert [m["content"] for m in compiled] == [messages[0]["content"], "Hi", "And now?"]


@pytest.mark.parametrize("placeholder", ["1history", "chat-history", "has space", ""])
def test_a_placeholder_name_must_be_a_variable_name(
    api: httpx.Client, unique: str, placeholder: str
) -> None:
    """PlaceholderMessageSchema (packages/shared/src/server/llm/types.ts)."""
    body = post(
        api,
        {
            "name": f"bad-placeholder-{unique}",
            "type": "chat",
            "prompt": [{"type": "placeholder", "name": placeholder}],
        },
        status=400,
    )
    assert_invalid_request_data(body, PLACEHOLDER_NAME_MESSAGE)
    get(api, f"bad-placeholder-{unique}", status=404, label="latest")


def test_a_name_cannot_be_both_a_variable_and_a_placeholder(api: httpx.Client, unique: str) -> None:
    """servertest "should prevent creating a prompt with both a variable and placeholder with
    the same name"."""
    body = post(
        api,
        {
            "name": f"conflict-{unique}",
            "type": "chat",
            "prompt": [
                {"role": "system", "content": "Hello {{userName}}"},
                {"type": "placeholder", "name": "userName"},
                {"role": "user", "content": "How are you?"},
            ],
        },
        status=400,
    )
    assert body["error"] == "InvalidRequestError"
    assert "variables and placeholders must be unique" in body["message"]
    assert "userName" in body["message"]


def test_a_new_version_may_reuse_a_variable_name_of_an_older_one_as_a_placeholder(
    api: httpx.Client, unique: str
) -> None:
    """servertest "should allow creating a new version of a prompt with placeholder names that
    conflict a variable name in a previous version"."""
    name = f"reuse-{unique}"
    post(
        api,
        {
            "name": name,
            "type": "chat",
            "prompt": [{"role": "system", "content": "You are a helpful {{conversationHistory}}"}],
            "labels": ["production"],
        },
    )
    second = post(
        api,
        {
            "name": name,
            "type": "chat",
            "prompt": [
                {"role": "system", "content": "Context: {{newHistory}}"},
                {"type": "placeholder", "name": "conversationHistory"},
            ],
        },
    )
    assert second["version"] == 2


# --- reading --------------------------------------------------------------------------------


def test_get_with_both_version_and_label_is_a_400(api: httpx.Client, unique: str) -> None:
    """getPromptByName.ts: "Cannot specify both version and label"."""
    name = f"both-{unique}"
    post(api, {"name": name, "prompt": "x", "labels": ["production"]})
    body = get(api, name, status=400, version=1, label="production")
    assert "both version and label" in body["message"]
    assert body["error"] == "InvalidRequestError"


def test_the_list_defaults_to_ten_and_mirrors_meta_in_pagination(
    api: httpx.Client, unique: str
) -> None:
    """servertest "should fetch a prompt meta list" (limit 10, ``pagination`` == ``meta``) and
    "should fetch a prompt meta list with pagination"; GetPromptsMetaSchema."""
    tag = f"eleven-{unique}"
    for index in range(11):
        post(api, {"name": f"{tag}-{index:02d}", "prompt": "x", "tags": [tag]})

    first = api.get(PROMPTS, params={"tag": tag}).json()
    by_one = api.get(PROMPTS, params={"tag": tag, "page": 2, "limit": 1}).json()

    assert len(first["data"]) == 10
    assert first["meta"] == {"page": 1, "limit": 10, "totalItems": 11, "totalPages": 2}
    assert first["pagination"] == first["meta"]
    assert [m["name"] for m in by_one["data"]] == [f"{tag}-01"]
    assert by_one["meta"]["totalPages"] == 11


@pytest.mark.parametrize(("limit", "status"), [(100, 200), (101, 400), (0, 400)])
def test_the_list_limit_is_one_to_a_hundred(api: httpx.Client, limit: int, status: int) -> None:
    """GetPromptsMetaSchema: ``limit: z.coerce.number().int().min(1).max(100)``."""
    response = api.get(PROMPTS, params={"limit": limit})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["message"] == "Invalid request data"
        assert response.json()["error"][0]["path"] == ["limit"]


def test_the_version_filter_restricts_rows_and_last_config(api: httpx.Client, unique: str) -> None:
    """servertest "should fetch lastConfig correctly for a prompt with multiple versions"."""
    name = f"versions-{unique}"
    for version in (1, 2, 3):
        post(api, {"name": name, "prompt": "x", "config": {"version": version}})

    everything = api.get(PROMPTS, params={"name": name}).json()["data"]
    first = api.get(PROMPTS, params={"name": name, "version": 1}).json()["data"]
    missing = api.get(PROMPTS, params={"name": name, "version": 9}).json()["data"]

    assert [(m["versions"], m["lastConfig"]) for m in everything] == [([1, 2, 3], {"version": 3})]
    assert [(m["versions"], m["lastConfig"]) for m in first] == [([1], {"version": 1})]
    assert missing == []


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", PROMPTS), ("POST", PROMPTS), ("GET", f"{PROMPTS}/any"), ("DELETE", f"{PROMPTS}/a")],
)
def test_the_public_key_as_bearer_token_is_refused_on_prompts(
    lf_server: LocalLangfuseServer, method: str, path: str
) -> None:
    """authorizePromptRequest.ts: a Bearer public key has the "scores" access level: 403."""
    response = httpx.request(
        method,
        lf_server.base_url + path,
        headers={"Authorization": f"Bearer {PUBLIC_KEY}"},
        json={"name": "x", "prompt": "y"} if method == "POST" else None,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "ForbiddenError"
    assert "basic auth with secret key" in response.json()["message"]


def test_an_unknown_bearer_token_is_a_401(lf_server: LocalLangfuseServer) -> None:
    """servertest "should return a 401 if key is invalid"."""
    response = httpx.get(
        lf_server.base_url + PROMPTS, headers={"Authorization": "Bearer 7a88fb47-b4e2-43b8"}
    )
    assert response.status_code == 401
    assert "Unauthorized" in response.json()["error"]


def test_the_public_key_as_bearer_token_may_post_a_score(
    lf_server: LocalLangfuseServer, api: httpx.Client, unique: str
) -> None:
    """apiAuth.ts gives a Bearer public key the "scores" scope; scores/index.ts accepts it."""
    response = httpx.post(
        lf_server.base_url + "/api/public/scores",
        headers={"Authorization": f"Bearer {PUBLIC_KEY}"},
        json={"traceId": f"t-{unique}", "name": "feedback", "value": 1},
    )
    assert response.status_code == 200, response.text
    stored = api.get("/api/public/v3/scores", params={"traceId": f"t-{unique}"}).json()["data"]
    assert [score["name"] for score in stored] == ["feedback"]
