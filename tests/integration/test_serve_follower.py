"""LabelFollower over the real SDK and local-langfuse: which version it serves, and when it
calls the cached one stale (a controllable clock stands in for waiting; the SDK is untouched)."""

from __future__ import annotations

import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.errors import PromptNotFoundError, SchemaError
from prompt_playground.prompts import LangfusePromptStore
from prompt_playground.serve import STALE_GRACE_S, LabelFollower

SCHEMA = {
    "type": "object",
    "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative"]}},
    "required": ["sentiment"],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def follower(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, name: str, clock: Clock, label: str
) -> LabelFollower:
    return LabelFollower(
        langfuse,
        name=name,
        label=label,
        cache_ttl_s=60,
        allowed_modules=[],
        small_model_bounds=False,
        base_url=lf_server.base_url,
        clock=clock,
    )


@pytest.fixture
def name(langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str) -> str:
    store = LangfusePromptStore(langfuse, base_url=lf_server.base_url)
    name = f"follower-{unique}"
    store.create_version(
        name,
        type="text",
        prompt="Sentiment of: {{text}}",
        config={"response_schema": SCHEMA},
        labels=["production"],
    )
    store.create_version(name, type="text", prompt="No schema: {{text}}", labels=["noschema"])
    return name


def test_a_version_not_refreshed_past_ttl_and_grace_is_stale_until_fetched_again(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, name: str
) -> None:
    clock = Clock()
    follow = follower(langfuse, lf_server, name, clock, "production")

    first = follow.current()
    clock.now += 60 + STALE_GRACE_S - 1
    still_fresh = follow.current()
    clock.now += 2
    stale = follow.current()
    langfuse.clear_prompt_cache()  # the next call fetches: a new SDK object, fetched "now"
    refreshed = follow.current()

    assert (first.prompt.version, first.stale) == (1, False)
    assert still_fresh.stale is False
    assert stale.stale is True
    assert stale.model is first.model  # the response model is built once per version
    assert refreshed.stale is False
    assert follow.last is refreshed


def test_a_label_no_version_holds_names_the_label(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, name: str
) -> None:
    with pytest.raises(PromptNotFoundError, match="no version labelled 'staging'"):
        follower(langfuse, lf_server, name, Clock(), "staging").current()


def test_a_version_without_a_response_schema_cannot_be_served(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, name: str
) -> None:
    with pytest.raises(SchemaError, match=r"v2 \(label 'noschema'\) cannot be served.*no response"):
        follower(langfuse, lf_server, name, Clock(), "noschema").current()
