"""The LLM adapter: instructor over the unmodified openai SDK, against the fake server over HTTP.

Every per-call failure comes back as an ``Extraction`` with a message a person can act on, never
an exception and never a secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langfuse import Langfuse
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, Field, SecretStr

from prompt_playground.llm import (
    Endpoint,
    Extraction,
    InstructorLLM,
    call_parameters,
    default_mode,
    describe_failure,
    raw_text,
)
from prompt_playground.prompts import PromptVersion
from tests.support.fake_openai import FakeModelState, FakeOpenAIServer, Fault

API_KEY = "sk-test-do-not-print"


class Ticket(BaseModel):
    title: str = Field(min_length=1, max_length=60)
    priority: int = Field(ge=1, le=5)
    labels: list[str] = Field(max_length=3)


@pytest.fixture(scope="module")
def fake(langfuse: Langfuse) -> Iterator[FakeOpenAIServer]:
    # ``langfuse``: the session client must exist before langfuse.openai looks for one.
    with FakeOpenAIServer(FakeModelState(api_key=API_KEY)) as server:
        yield server


@pytest.fixture
def state(fake: FakeOpenAIServer) -> Iterator[FakeModelState]:
    fake.state.clear()
    yield fake.state
    fake.state.fail_when_content_contains.clear()
    fake.state.clear()


def endpoint(base_url: str | None, *, mode: str = "tools", key: str = API_KEY) -> Endpoint:
    return Endpoint(
        base_url=base_url,
        api_key=SecretStr(key),
        model="gpt-4o-mini",
        mode=mode,
        local=False,
        description="fake",
    )


def prompt(config: dict[str, Any] | None = None) -> PromptVersion:
    return PromptVersion(
        name="tickets",
        version=1,
        type="chat",
        prompt=[{"role": "user", "content": "{{text}}"}],
        config=config or {},
        labels=["production"],
        tags=[],
        commit_message=None,
    )


def extract(
    ep: Endpoint,
    config: dict[str, Any] | None = None,
    *,
    timeout_s: float = 10.0,
    http_retries: int = 0,
    validation_retries: int = 1,
) -> Extraction:
    async def go() -> Extraction:
        llm = InstructorLLM(
            ep,
            timeout_s=timeout_s,
            http_retries=http_retries,
            validation_retries=validation_retries,
        )
        try:
            return await llm.extract(
                [{"role": "user", "content": "The export page crashes"}],
                Ticket,
                prompt=prompt(config),
                trace_id=None,
                name="unit",
            )
        finally:
            await llm.aclose()

    return asyncio.run(go())


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("base_url", "mode"),
    [
        (None, "tools"),
        ("https://api.openai.com/v1", "tools"),
        ("http://127.0.0.1:8080/v1", "json_schema"),
        ("http://localhost:11434/v1", "json_schema"),
    ],
)
def test_default_mode_uses_tools_only_on_openai(base_url: str | None, mode: str) -> None:
    assert default_mode(base_url) == mode


def test_call_parameters_keep_only_model_parameters_and_default_the_model() -> None:
    config = {
        "temperature": 0,
        "max_tokens": 400,
        "response_schema": {"type": "object"},
        "instructor_mode": "tools",
        "seed": 7,
    }
    assert call_parameters(config, "gpt-4o-mini") == {
        "temperature": 0,
        "max_tokens": 400,
        "seed": 7,
        "model": "gpt-4o-mini",
    }
    assert call_parameters({"model": "gpt-4.1"}, "gpt-4o-mini") == {"model": "gpt-4.1"}


def test_endpoint_display_names_the_model_and_where() -> None:
    assert endpoint("http://h:1/v1").display == "gpt-4o-mini (http://h:1/v1)"
    assert endpoint(None).display == "gpt-4o-mini (https://api.openai.com/v1)"
    local = Endpoint(None, None, "smol", "json_schema", local=True, description="")
    assert local.display == "smol (local)"


def completion(message: dict[str, Any]) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        }
    )


def test_raw_text_reads_content_or_tool_arguments() -> None:
    assert raw_text(completion({"role": "assistant", "content": '{"a": 1}'})) == '{"a": 1}'
    call = {"id": "t", "type": "function", "function": {"name": "T", "arguments": '{"b"'}}
    with_tools = completion({"role": "assistant", "content": None, "tool_calls": [call]})
    assert raw_text(with_tools) == '{"b"'
    assert raw_text(completion({"role": "assistant", "content": None})) is None
    assert raw_text(object()) is None


def status_error(cls: type[openai.APIStatusError], status: int, body: Any) -> BaseException:
    request = httpx.Request("POST", "http://h/v1/chat/completions")
    response = httpx.Response(status, request=request, json=body)
    return cls("failed", response=response, body=body)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            openai.APITimeoutError(request=httpx.Request("POST", "http://h/v1")),
            "did not answer within 7 s",
        ),
        (
            openai.APIConnectionError(request=httpx.Request("POST", "http://h/v1")),
            "Cannot reach the LLM endpoint at http://h/v1",
        ),
        (
            status_error(openai.AuthenticationError, 401, {"message": "bad key"}),
            "Check OPENAI_API_KEY",
        ),
        (status_error(openai.RateLimitError, 429, {"message": "slow"}), "Lower the concurrency"),
        (
            status_error(openai.NotFoundError, 404, {"message": "no model gpt-9"}),
            "no model gpt-9 Check the model name",
        ),
        (
            status_error(openai.InternalServerError, 503, {"error": {"message": "overloaded"}}),
            "answered HTTP 503: overloaded",
        ),
    ],
)
def test_describe_failure_says_what_to_do(exc: BaseException, expected: str) -> None:
    assert expected in describe_failure(exc, endpoint("http://h/v1"), 7.0)


def test_describe_failure_finds_the_http_error_behind_a_wrapper() -> None:
    cause = status_error(openai.RateLimitError, 429, {"message": "slow"})
    wrapper = RuntimeError("retry failed")
    wrapper.__cause__ = cause
    assert "HTTP 429" in describe_failure(wrapper, endpoint("http://h/v1"), 1.0)


# --------------------------------------------------------------------------- over HTTP


@pytest.mark.parametrize("mode", ["tools", "json_schema", "json", "md_json"])
def test_each_mode_returns_a_valid_typed_output(
    fake: FakeOpenAIServer, state: FakeModelState, mode: str
) -> None:
    outcome = extract(endpoint(fake.base_url, mode=mode))
    assert outcome.error is None, outcome.error
    assert outcome.output is not None
    Ticket.model_validate(outcome.output)
    assert outcome.attempts == 1
    assert (outcome.input_tokens or 0) > 0
    assert (outcome.output_tokens or 0) > 0
    assert outcome.raw_output is None
    assert len(state.history) == 1


def test_the_prompt_config_chooses_the_mode_and_parameters(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    config = {"instructor_mode": "json_schema", "temperature": 0.3, "model": "fake-model"}
    outcome = extract(endpoint(fake.base_url, mode="tools"), config)
    assert outcome.error is None
    (body,) = state.history
    assert body["model"] == "fake-model"
    assert body["temperature"] == 0.3
    assert "tools" not in body
    assert body["response_format"]["type"] == "json_schema"


def test_endpoint_extra_body_is_sent_and_a_config_extra_body_overrides_it_by_key(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    ep = dataclasses.replace(
        endpoint(fake.base_url, mode="json_schema"),
        extra_body={"dry_multiplier": 0.8, "repeat_penalty": 1.1},
    )
    outcome = extract(ep, {"extra_body": {"repeat_penalty": 1.3, "top_k": 5}})
    assert outcome.error is None, outcome.error
    (body,) = state.history
    assert body["dry_multiplier"] == 0.8
    assert body["repeat_penalty"] == 1.3
    assert body["top_k"] == 5
    assert "extra_body" not in body


def test_concurrency_is_capped_only_where_the_endpoint_says_so() -> None:
    ep = endpoint(None)
    assert ep.concurrency_for(8) == 8
    local = dataclasses.replace(ep, max_concurrency=2)
    assert local.concurrency_for(8) == 2
    assert local.concurrency_for(1) == 1
    assert local.concurrency_for(0) == 1


def test_invalid_json_is_re_asked_and_counted(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(invalid_json=True))
    outcome = extract(endpoint(fake.base_url), validation_retries=1)
    assert outcome.error is None
    assert outcome.attempts == 2
    assert len(state.history) == 2


def test_out_of_retries_reports_schema_attempts_and_the_last_output(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(invalid_json=True), Fault(invalid_json=True))
    outcome = extract(endpoint(fake.base_url), validation_retries=1)
    assert outcome.output is None
    assert outcome.error is not None
    assert "did not match the response schema after 2 attempt(s)" in outcome.error
    assert outcome.attempts == 2
    assert outcome.raw_output
    with pytest.raises(json.JSONDecodeError):
        json.loads(outcome.raw_output)


def test_a_refused_key_is_reported_without_the_key(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    outcome = extract(endpoint(fake.base_url, key="sk-wrong-and-secret"))
    assert outcome.output is None
    assert outcome.error is not None
    assert "OPENAI_API_KEY" in outcome.error
    assert "sk-wrong-and-secret" not in outcome.error


def test_an_unreachable_endpoint_is_an_error_not_an_exception(langfuse: Langfuse) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = extract(endpoint(f"http://127.0.0.1:{port}/v1"))
    assert outcome.error is not None
    assert "Cannot reach the LLM endpoint" in outcome.error
    assert "OPENAI_BASE_URL" in outcome.error


def test_an_unknown_mode_is_recorded_on_the_call(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    outcome = extract(endpoint(fake.base_url), {"instructor_mode": "telepathy"})
    assert outcome.error is not None
    assert "telepathy" in outcome.error
    assert state.history == []


def test_zero_validation_retries_means_exactly_one_request(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(invalid_json=True), Fault(invalid_json=True))
    outcome = extract(endpoint(fake.base_url), validation_retries=0)
    assert outcome.error is not None
    assert "after 1 attempt(s)" in outcome.error
    assert outcome.attempts == 1
    assert len(state.history) == 1
    assert state.pending_faults == 1
