"""The LLM adapter prepares a response model for instructor once, and the requests do not change.

``InstructorLLM`` wraps each response model and generates its JSON schema once per model (a
per-call CPU saving, see bench/engine.py); what goes over the wire must stay exactly what plain
instructor sends for the same model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import instructor
import openai
import pytest
from langfuse import Langfuse
from pydantic import BaseModel, Field, SecretStr

from prompt_playground.llm import MODES, Endpoint, InstructorLLM
from prompt_playground.prompts import PromptVersion
from tests.support.fake_openai import FakeModelState, FakeOpenAIServer

SCHEMA_KEYS = ("response_format", "tools", "tool_choice", "messages")


class Ticket(BaseModel):
    """A support ticket."""

    title: str = Field(min_length=1, max_length=60)
    priority: int = Field(ge=1, le=5)
    labels: list[str] = Field(max_length=3)


@pytest.fixture(scope="module")
def fake(langfuse: Langfuse) -> Iterator[FakeOpenAIServer]:
    # ``langfuse``: the session client must exist before langfuse.openai looks for one.
    with FakeOpenAIServer(FakeModelState()) as server:
        yield server


def prompt() -> PromptVersion:
    return PromptVersion(
        name="tickets",
        version=1,
        type="chat",
        prompt=[{"role": "user", "content": "{{text}}"}],
        config={},
        labels=["production"],
        tags=[],
        commit_message=None,
    )


MESSAGES = [{"role": "user", "content": "The export page crashes"}]


async def plain_instructor_call(base_url: str, mode: str) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    try:
        patched = instructor.from_openai(client, mode=getattr(instructor.Mode, MODES[mode]))
        await patched.chat.completions.create_with_completion(
            messages=MESSAGES, response_model=Ticket, max_retries=0, model="gpt-4o-mini"
        )
    finally:
        await client.close()


async def project_calls(base_url: str, mode: str, n: int) -> list[Any]:
    endpoint = Endpoint(
        base_url=base_url,
        api_key=SecretStr("x"),
        model="gpt-4o-mini",
        mode=mode,
        local=False,
        description="fake",
    )
    llm = InstructorLLM(endpoint, timeout_s=10, http_retries=0, validation_retries=0)
    try:
        return [
            await llm.extract(MESSAGES, Ticket, prompt=prompt(), trace_id=None, name="unit")
            for _ in range(n)
        ]
    finally:
        await llm.aclose()


@pytest.mark.parametrize("mode", ["json_schema", "tools", "json", "md_json"])
def test_requests_match_plain_instructor_on_every_call(fake: FakeOpenAIServer, mode: str) -> None:
    fake.state.clear()
    asyncio.run(plain_instructor_call(fake.base_url, mode))
    outcomes = asyncio.run(project_calls(fake.base_url, mode, 3))
    plain, *ours = fake.state.history
    assert len(ours) == 3
    expected = {k: plain.get(k) for k in SCHEMA_KEYS}
    for body in ours:
        assert {k: body.get(k) for k in SCHEMA_KEYS} == expected
    for outcome in outcomes:
        assert outcome.error is None
        assert set(outcome.output) == {"title", "priority", "labels"}


def test_a_schema_mutated_by_a_caller_does_not_leak_into_the_next_request() -> None:
    async def go() -> dict[str, Any]:
        endpoint = Endpoint("unused", None, "gpt-4o-mini", "json_schema", False, "fake")
        llm = InstructorLLM(endpoint, timeout_s=1, http_retries=0, validation_retries=0)
        ready = llm._instructor_model(Ticket)
        assert llm._instructor_model(Ticket) is ready  # prepared once
        ready.model_json_schema()["properties"].clear()
        schema: dict[str, Any] = ready.model_json_schema()
        await llm.aclose()
        return schema

    schema = asyncio.run(go())
    assert set(schema["properties"]) == {"title", "priority", "labels"}
    assert schema["title"] == "Ticket"
    assert schema["description"] == "A support ticket."
