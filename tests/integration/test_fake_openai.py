"""The fake OpenAI server against the unmodified openai SDK and instructor, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import instructor
import jsonschema
import openai
import pytest
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, Field

from tests.support.fake_openai import FakeModelState, FakeOpenAIServer, Fault, synthesize

MODEL = "gpt-4o-mini"
ROOT = Path(__file__).resolve().parents[2]
MODES = [
    instructor.Mode.TOOLS,
    instructor.Mode.JSON_SCHEMA,
    instructor.Mode.JSON,
    instructor.Mode.MD_JSON,
]


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Contact(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    email: str | None = None


class Ticket(BaseModel):
    """A support ticket extracted from a message."""

    title: str = Field(min_length=3, max_length=60)
    priority: Priority
    estimate_hours: float = Field(ge=0.5, le=40)
    attempts: int = Field(ge=0, le=5)
    urgent: bool
    labels: list[str] = Field(min_length=1, max_length=4)
    contacts: list[Contact] = Field(max_length=3)
    reporter: Contact | None = None
    note: str | None = None


SAMPLES = [
    "The login page crashes on Safari when the password has an emoji.",
    "Invoices from March show the wrong VAT rate for German customers.",
    "Please add dark mode to the settings screen, Maria asked twice.",
    "Export to CSV times out for accounts with more than 10k rows.",
    "The mobile app logs users out every five minutes since Tuesday.",
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeModelState()) as server:
        yield server


@pytest.fixture
def state(fake: FakeOpenAIServer) -> Iterator[FakeModelState]:
    fake.state.clear()
    yield fake.state
    fake.state.fail_when_content_contains.clear()
    fake.state.clear()


def client(fake: FakeOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=fake.base_url, api_key="sk-fake", **kwargs)


def messages(sample: str, system: str = "Extract a support ticket.") -> list[Any]:
    return [{"role": "system", "content": system}, {"role": "user", "content": sample}]


def extract(
    fake: FakeOpenAIServer,
    sample: str,
    mode: instructor.Mode = instructor.Mode.TOOLS,
    system: str = "Extract a support ticket.",
    max_retries: int = 0,
) -> Ticket:
    ic = instructor.from_openai(client(fake), mode=mode)
    return ic.chat.completions.create(
        model=MODEL,
        response_model=Ticket,
        messages=messages(sample, system),
        max_retries=max_retries,
    )


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_structured_modes_parse_into_the_model(
    fake: FakeOpenAIServer, state: FakeModelState, mode: instructor.Mode
) -> None:
    ic = instructor.from_openai(client(fake), mode=mode)
    ticket, completion = ic.chat.completions.create_with_completion(
        model=MODEL, response_model=Ticket, messages=messages(SAMPLES[0]), max_retries=0
    )

    assert isinstance(ticket, Ticket)
    assert state.request_count == 1
    body = state.history[0]
    assert completion.model == MODEL
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    if mode is instructor.Mode.TOOLS:
        (call,) = completion.choices[0].message.tool_calls or []
        assert completion.choices[0].finish_reason == "tool_calls"
        assert call.function.name == body["tool_choice"]["function"]["name"] == "Ticket"
        schema = body["tools"][0]["function"]["parameters"]
        jsonschema.validate(json.loads(call.function.arguments), schema)
    elif mode is instructor.Mode.JSON_SCHEMA:
        schema = body["response_format"]["json_schema"]["schema"]
        jsonschema.validate(json.loads(completion.choices[0].message.content or ""), schema)
    elif mode is instructor.Mode.JSON:
        assert body["response_format"] == {"type": "json_object"}
        jsonschema.validate(
            json.loads(completion.choices[0].message.content or ""), Ticket.model_json_schema()
        )
    else:
        assert "response_format" not in body
        assert "tools" not in body
        assert (completion.choices[0].message.content or "").startswith("```json\n")


def test_synthesized_instances_validate_across_many_inputs() -> None:
    schema = Ticket.model_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    seen_optional = {"reporter": set(), "note": set()}
    for i in range(200):
        instance = synthesize(schema, messages(f"{SAMPLES[i % 5]} #{i}"), MODEL)
        validator.validate(instance)
        Ticket.model_validate(instance)
        for key, values in seen_optional.items():
            values.add("absent" if key not in instance else type(instance[key]).__name__)
    assert seen_optional["reporter"] >= {"absent", "dict"}  # optional fields vary
    assert seen_optional["note"] >= {"absent", "str"}


def test_same_request_gives_same_output_sync_and_async(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    first = extract(fake, SAMPLES[1])
    second = extract(fake, SAMPLES[1])

    async def extract_async() -> Ticket:
        ac = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-fake", max_retries=0)
        ic = instructor.from_openai(ac, mode=instructor.Mode.TOOLS)
        ticket: Ticket = await ic.chat.completions.create(
            model=MODEL, response_model=Ticket, messages=messages(SAMPLES[1]), max_retries=0
        )
        await ac.close()
        return ticket

    third = asyncio.run(extract_async())
    assert first.model_dump() == second.model_dump() == third.model_dump()
    assert extract(fake, SAMPLES[2]).model_dump() != first.model_dump()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_a_scripted_answer_fixes_those_fields_in_every_mode(
    fake: FakeOpenAIServer, state: FakeModelState, mode: instructor.Mode
) -> None:
    system = 'Extract a support ticket.\nFAKE-ANSWER: {"priority": "high", "attempts": 4}'
    for sample in SAMPLES:
        ticket = extract(fake, sample, mode=mode, system=system)
        assert (ticket.priority, ticket.attempts) == (Priority.HIGH, 4)
    unscripted = {extract(fake, sample, mode=mode).priority for sample in SAMPLES}
    assert len(unscripted) > 1  # without the line the answers vary


def test_sampled_answers_vary_above_temperature_zero_only() -> None:
    with FakeOpenAIServer(FakeModelState(sample_temperature=True)) as server:
        ic = instructor.from_openai(client(server), mode=instructor.Mode.TOOLS)
        system = 'Extract a support ticket.\nFAKE-ANSWER: {"attempts": 2}'

        def ask(temperature: float) -> Ticket:
            return ic.chat.completions.create(
                model=MODEL,
                response_model=Ticket,
                messages=messages(SAMPLES[0], system),
                temperature=temperature,
                max_retries=0,
            )

        hot = [ask(0.8) for _ in range(6)]
        cold = [ask(0) for _ in range(3)]
    assert len({t.model_dump_json() for t in hot}) > 1
    assert {t.attempts for t in hot} == {2}  # scripted fields stay fixed
    assert len({t.model_dump_json() for t in cold}) == 1


def test_another_system_prompt_changes_some_fields_but_not_all(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    changed, kept = 0, 0
    for sample in SAMPLES:
        v1 = extract(fake, sample, system="Extract a support ticket.").model_dump()
        v2 = extract(fake, sample, system="You are a triage bot. Extract a ticket.").model_dump()
        for key in Ticket.model_fields:
            if v1.get(key) == v2.get(key):
                kept += 1
            else:
                changed += 1
    assert changed > 0
    assert kept > 0


def test_parallel_tools_and_partial_streaming_parse(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    parallel = instructor.from_openai(client(fake), mode=instructor.Mode.PARALLEL_TOOLS)
    items = parallel.chat.completions.create(
        model=MODEL,
        response_model=Iterable[Ticket | Contact],
        messages=messages(SAMPLES[0]),
        max_retries=0,
    )
    assert sorted(type(item).__name__ for item in items) == ["Contact", "Ticket"]

    ic = instructor.from_openai(client(fake))
    partials = list(
        ic.chat.completions.create_partial(
            model=MODEL, response_model=Contact, messages=messages(SAMPLES[0]), max_retries=0
        )
    )
    assert len(partials) > 1
    whole = ic.chat.completions.create(
        model=MODEL, response_model=Contact, messages=messages(SAMPLES[0]), max_retries=0
    )
    assert partials[-1].model_dump() == whole.model_dump()


def test_plain_chat_returns_a_short_text_reply(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    completion = client(fake).chat.completions.create(
        model="any-model-name", messages=[{"role": "user", "content": "Say hello to Ada"}]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert choice.message.content
    assert len(choice.message.content) < 200
    assert completion.model == "any-model-name"
    assert completion.id.startswith("chatcmpl-")
    assert completion.created > 0


def test_streaming_yields_the_same_text_and_usage(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    request = {"model": MODEL, "messages": [{"role": "user", "content": "Tell me about Ada"}]}
    whole = client(fake).chat.completions.create(**request)
    stream = client(fake).chat.completions.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


def test_server_error_then_success_with_openai_client_retries(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(status=500))
    ic = instructor.from_openai(client(fake, max_retries=2))
    ticket = ic.chat.completions.create(
        model=MODEL, response_model=Ticket, messages=messages(SAMPLES[0]), max_retries=0
    )
    assert isinstance(ticket, Ticket)
    assert state.request_count == 2
    assert state.pending_faults == 0


def test_server_error_without_retries_reaches_the_caller(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(status=500, message="model overloaded"))
    with pytest.raises(openai.InternalServerError, match="model overloaded"):
        client(fake).chat.completions.create(model=MODEL, messages=messages(SAMPLES[0]))


def test_rate_limit_with_retry_after_is_retried_by_the_sdk(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(status=429, retry_after=0.05))
    completion = client(fake, max_retries=1).chat.completions.create(
        model=MODEL, messages=messages(SAMPLES[0])
    )
    assert completion.choices[0].message.content
    assert state.request_count == 2

    state.enqueue(Fault(status=429, retry_after=0.05))
    with pytest.raises(openai.RateLimitError) as caught:
        client(fake).chat.completions.create(model=MODEL, messages=messages(SAMPLES[0]))
    assert caught.value.response.headers["retry-after"] == "0.05"


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_invalid_json_is_repaired_by_an_instructor_retry(
    fake: FakeOpenAIServer, state: FakeModelState, mode: instructor.Mode
) -> None:
    state.enqueue(Fault(invalid_json=True))
    ticket = extract(fake, SAMPLES[3], mode=mode, max_retries=1)
    assert isinstance(ticket, Ticket)
    first, second = state.history
    assert len(second["messages"]) > len(first["messages"])  # the re-ask carries the error


def test_invalid_json_without_retries_raises_with_the_last_completion(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(invalid_json=True))
    with pytest.raises(InstructorRetryException) as caught:
        extract(fake, SAMPLES[3], max_retries=0)
    assert state.request_count == 1
    assert caught.value.n_attempts == 1
    arguments = caught.value.last_completion.choices[0].message.tool_calls[0].function.arguments
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


def test_fault_rejects_a_success_status() -> None:
    with pytest.raises(ValueError, match="400-599"):
        Fault(status=200)


def test_truncated_answer_reports_length(fake: FakeOpenAIServer, state: FakeModelState) -> None:
    state.enqueue(Fault(finish_reason="length"))
    with pytest.raises(IncompleteOutputException):
        extract(fake, SAMPLES[0], max_retries=0)


def test_delay_beyond_the_client_timeout_raises_a_timeout(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.enqueue(Fault(delay_s=2.0))
    with pytest.raises(openai.APITimeoutError):
        client(fake, timeout=0.2).chat.completions.create(model=MODEL, messages=messages("hi"))
    assert state.pending_faults == 0
    assert client(fake).chat.completions.create(model=MODEL, messages=messages("hi")).choices


def test_content_rule_fails_only_that_sample_every_time(
    fake: FakeOpenAIServer, state: FakeModelState
) -> None:
    state.fail_when_content_contains["BOOM"] = 500
    state.enqueue(Fault(status=503))
    with pytest.raises(openai.InternalServerError, match="BOOM"):
        client(fake).chat.completions.create(model=MODEL, messages=messages("It goes BOOM."))
    assert state.pending_faults == 1  # the rule does not consume queued faults
    state.clear()

    batch = [SAMPLES[0], "This one goes BOOM.", SAMPLES[1]]
    outcomes = []
    for _ in range(2):
        for sample in batch:
            try:
                extract(fake, sample)
                outcomes.append("ok")
            except InstructorRetryException as exc:
                outcomes.append(type(exc.__cause__).__name__)
    assert outcomes == ["ok", "InternalServerError", "ok"] * 2


def test_bad_requests_get_a_clear_400(fake: FakeOpenAIServer, state: FakeModelState) -> None:
    with pytest.raises(openai.BadRequestError, match="messages"):
        client(fake).chat.completions.create(model=MODEL, messages=[])
    response = httpx.post(f"{fake.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_api_key_is_checked_when_configured() -> None:
    with FakeOpenAIServer(FakeModelState(api_key="sk-right")) as server:
        wrong = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        right = openai.OpenAI(base_url=server.base_url, api_key="sk-right", max_retries=0)
        assert [m.id for m in right.models.list()] == list(server.state.models)


def test_history_is_bounded_and_can_be_disabled() -> None:
    bounded = FakeModelState(history_limit=2)
    off = FakeModelState(record_history=False)
    for state in (bounded, off):
        with FakeOpenAIServer(state) as server:
            sdk = openai.OpenAI(base_url=server.base_url, api_key="sk-fake", max_retries=0)
            for i in range(3):
                sdk.chat.completions.create(model=MODEL, messages=messages(f"request {i}"))
        assert state.request_count == 3
    assert [h["messages"][1]["content"] for h in bounded.history] == ["request 1", "request 2"]
    assert off.history == []


def test_cli_serves_in_its_own_process_and_announces_ready() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai", "--port", "0", "--no-history"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:")
        assert line.endswith("/v1")
        base_url = line.removeprefix("READY ")
        sdk = openai.OpenAI(base_url=base_url, api_key="sk-fake", max_retries=0)
        assert sdk.chat.completions.create(model=MODEL, messages=messages("hi")).choices
    finally:
        proc.terminate()
        proc.wait(timeout=10)
