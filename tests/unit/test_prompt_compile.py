"""PromptVersion.compile: variables filled, multi-turn samples placed, missing variables refused."""

from __future__ import annotations

from typing import Any

import pytest

from prompt_playground.errors import PlaygroundError, SamplesError
from prompt_playground.prompts import PromptVersion, template_variables


def chat(*messages: dict[str, Any]) -> PromptVersion:
    return PromptVersion(
        name="p",
        version=3,
        type="chat",
        prompt=list(messages),
        config={},
        labels=["production"],
        tags=[],
        commit_message=None,
    )


def text(body: str) -> PromptVersion:
    return PromptVersion(
        name="t",
        version=1,
        type="text",
        prompt=body,
        config={},
        labels=[],
        tags=[],
        commit_message=None,
    )


SYSTEM = {"role": "system", "content": "Extract from {{ language }} chats for {{customer}}."}
TURNS = [
    {"role": "user", "content": "My parcel is late"},
    {"role": "assistant", "content": "Sorry, checking."},
]


def test_variables_are_listed_once_in_order_of_first_use() -> None:
    prompt = chat(SYSTEM, {"role": "user", "content": "{{customer}} says {{chat_json}}"})
    assert prompt.variables == ["language", "customer", "chat_json"]
    assert template_variables("{{a}} {{ b.c }} {{a}} {{ not a var }}") == ["a", "b.c"]


def test_missing_variables_raise_naming_them_and_what_was_provided() -> None:
    prompt = chat(SYSTEM, {"role": "user", "content": "{{chat_json}}"})
    with pytest.raises(SamplesError) as caught:
        prompt.compile({"customer": "ACME"})
    message = caught.value.message
    assert "'language'" in message
    assert "'chat_json'" in message
    assert "Provided: customer" in message
    assert "v3" in message
    assert isinstance(caught.value, PlaygroundError)


def test_chat_prompt_fills_variables_in_every_message() -> None:
    prompt = chat(SYSTEM, {"role": "user", "content": "Chat:\n{{chat_json}}"})
    messages = prompt.compile({"language": "German", "customer": "ACME", "chat_json": "[1, 2]"})
    assert messages == [
        {"role": "system", "content": "Extract from German chats for ACME."},
        {"role": "user", "content": "Chat:\n[1, 2]"},
    ]


def test_non_text_values_are_sent_as_json() -> None:
    prompt = chat({"role": "user", "content": "{{data}} / {{n}}"})
    messages = prompt.compile({"data": {"ä": [1, None]}, "n": 7})
    assert messages == [{"role": "user", "content": '{"ä": [1, null]} / 7'}]


def test_unknown_braces_and_extra_variables_are_left_alone() -> None:
    prompt = chat({"role": "user", "content": "{{x}} and {literal} and {{ 1bad }}"})
    messages = prompt.compile({"x": "X", "unused": "ignored"})
    assert messages == [{"role": "user", "content": "X and {literal} and {{ 1bad }}"}]


def test_a_sample_chat_fills_the_placeholder_where_it_stands() -> None:
    prompt = chat(
        {"role": "system", "content": "Be brief."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "Summarise the chat above."},
    )
    assert prompt.placeholders == ["history"]
    messages = prompt.compile({}, TURNS)
    assert messages == [
        {"role": "system", "content": "Be brief."},
        *TURNS,
        {"role": "user", "content": "Summarise the chat above."},
    ]


def test_a_placeholder_without_a_sample_chat_is_dropped() -> None:
    prompt = chat({"type": "placeholder", "name": "history"}, {"role": "user", "content": "Hi"})
    assert prompt.compile({}) == [{"role": "user", "content": "Hi"}]


def test_only_the_first_placeholder_takes_the_chat() -> None:
    prompt = chat(
        {"type": "placeholder", "name": "a"},
        {"role": "system", "content": "middle"},
        {"type": "placeholder", "name": "b"},
    )
    assert prompt.compile({}, TURNS) == [*TURNS, {"role": "system", "content": "middle"}]


def test_a_sample_chat_follows_a_prompt_without_placeholder() -> None:
    prompt = chat({"role": "system", "content": "Classify for {{team}}."})
    messages = prompt.compile({"team": "billing"}, TURNS)
    assert messages == [{"role": "system", "content": "Classify for billing."}, *TURNS]


def test_sample_turns_are_copied_not_shared() -> None:
    turns = [dict(t) for t in TURNS]
    messages = chat({"role": "system", "content": "s"}).compile({}, turns)
    messages[1]["content"] = "changed"
    assert turns[0]["content"] == "My parcel is late"


def test_text_prompt_becomes_one_user_message() -> None:
    prompt = text("Summarise: {{body}}")
    assert prompt.placeholders == []
    assert prompt.compile({"body": "hello"}) == [{"role": "user", "content": "Summarise: hello"}]


def test_text_prompt_with_a_sample_chat_appends_the_turns() -> None:
    assert text("Go.").compile({}, TURNS) == [{"role": "user", "content": "Go."}, *TURNS]


def test_text_prompt_missing_variable_raises() -> None:
    with pytest.raises(SamplesError, match="'body'"):
        text("Summarise: {{body}}").compile({})
