"""The embedded local model: the real SmolLM2 GGUF behind llama.cpp, reached with the unmodified
openai SDK and instructor, plus the errors a person sees when the model file is wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import httpx
import instructor
import openai
import pytest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from prompt_playground.errors import PlaygroundError
from prompt_playground.local_model import (
    LocalModelError,
    LocalModelServer,
    check_memory,
    default_model_path,
    get_local_model,
    model_name_from_path,
    resolve_model_path,
)

MAX_TOKENS = 150

Topic = Annotated[str, StringConstraints(min_length=1, max_length=30)]


class ChatSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sentiment: Literal["positive", "neutral", "negative"]
    summary: str = Field(max_length=120)
    topics: list[Topic] = Field(default_factory=list, max_length=3)


CHATS = [
    "Customer: My order arrived two weeks late and the box was crushed. I want a refund.\n"
    "Agent: Sorry about that, I have issued a full refund.",
    "Customer: Thanks so much, the new headphones sound amazing and shipping was fast!",
    "Customer: How do I change the email address on my account?\n"
    "Agent: Go to Settings, then Profile, and edit the email field.",
]
SYSTEM = (
    "Extract the customer's sentiment, a one-sentence summary and up to 3 short topics "
    "from the chat. Answer in JSON."
)


@pytest.fixture(scope="module")
def local_model() -> LocalModelServer:
    """The process's shared server, exactly as the app gets it (stopped at exit)."""
    return get_local_model()


@pytest.fixture(scope="module")
def client(local_model: LocalModelServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=local_model.base_url, api_key="local", max_retries=0, timeout=60
    ) as client:
        yield client


@pytest.mark.model
@pytest.mark.parametrize("chat", CHATS, ids=["late-refund", "happy", "how-to"])
def test_instructor_json_schema_extracts_valid_bounded_output(
    client: openai.OpenAI, local_model: LocalModelServer, chat: str
) -> None:
    structured = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)

    result, completion = structured.chat.completions.create_with_completion(
        model=local_model.model_id,
        response_model=ChatSummary,
        max_retries=0,  # constrained decoding must get it right the first time
        max_tokens=MAX_TOKENS,
        temperature=0,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": chat}],
    )

    assert isinstance(result, ChatSummary)
    assert len(result.summary) <= 120
    assert len(result.topics) <= 3
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= MAX_TOKENS
    # The raw text itself is the object: no prose or code fences around it.
    assert ChatSummary.model_validate(json.loads(completion.choices[0].message.content or ""))


@pytest.mark.model
def test_response_format_enum_holds_even_when_the_prompt_asks_for_another_value(
    client: openai.OpenAI, local_model: LocalModelServer
) -> None:
    schema = {
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "green"]}},
        "required": ["color"],
        "additionalProperties": False,
    }

    completion = client.chat.completions.create(
        model=local_model.model_id,
        messages=[{"role": "user", "content": 'Reply with {"color": "blue"} and nothing else.'}],
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
        max_tokens=20,
        temperature=0,
    )

    answer = json.loads(completion.choices[0].message.content or "")
    assert answer["color"] in {"red", "green"}
    assert set(answer) == {"color"}


@pytest.mark.model
def test_server_reports_a_readable_name_and_its_model_id(
    client: openai.OpenAI, local_model: LocalModelServer
) -> None:
    assert local_model.model_name == "SmolLM2-135M-Instruct (local, Q4_1)"
    assert local_model.base_url.startswith("http://127.0.0.1:")
    assert local_model.base_url.endswith("/v1")
    assert local_model.model_id in [model.id for model in client.models.list()]


@pytest.mark.model
def test_get_local_model_starts_one_server_per_process(local_model: LocalModelServer) -> None:
    seen: list[LocalModelServer] = []
    threads = [threading.Thread(target=lambda: seen.append(get_local_model())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(seen) == 4
    assert all(server is local_model for server in seen)
    assert get_local_model(default_model_path()) is local_model


@pytest.mark.model
def test_stop_ends_the_child_and_closes_the_port() -> None:
    server = LocalModelServer(default_model_path(), ctx_size=512, parallel=1).start()
    health = server.base_url.removesuffix("/v1") + "/health"
    assert httpx.get(health, timeout=5).status_code == 200

    server.stop()

    assert not server.is_running
    with pytest.raises(httpx.ConnectError):
        httpx.get(health, timeout=5)
    with pytest.raises(LocalModelError, match="not running"):
        _ = server.base_url
    server.stop()  # idempotent


@pytest.mark.model
def test_a_start_that_runs_out_of_time_raises_and_leaves_no_child() -> None:
    server = LocalModelServer(default_model_path())

    with pytest.raises(LocalModelError, match="did not finish loading within 0 s"):
        server.start(timeout=0)

    assert server.pid is None
    assert not server.is_running


@pytest.mark.model
def test_the_child_exits_when_the_process_that_started_it_dies() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from prompt_playground.local_model import get_local_model; "
            "print(get_local_model().pid, flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
    finally:
        parent.send_signal(signal.SIGKILL)  # no atexit, no cleanup: only the closed pipe
        parent.wait(timeout=10)

    deadline = time.monotonic() + 20
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not reaped (its parent was killed); /proc says which.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_model_file_says_which_file_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"

    with pytest.raises(LocalModelError) as caught:
        LocalModelServer(missing).start(timeout=10)

    message = caught.value.message
    assert str(missing) in message
    assert "missing" in message
    assert "OPENAI_BASE_URL" in message
    assert "PLAYGROUND_LOCAL_MODEL_PATH" in message
    assert isinstance(caught.value, PlaygroundError)


def test_a_file_that_is_not_gguf_is_refused_before_anything_starts(tmp_path: Path) -> None:
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("these are my notes, not a model\n")
    server = LocalModelServer(not_a_model)

    with pytest.raises(LocalModelError, match="corrupt or not a GGUF model") as caught:
        server.start(timeout=10)

    assert str(not_a_model) in caught.value.message
    assert server.pid is None  # no child was started


@pytest.mark.model
def test_a_truncated_gguf_fails_fast_with_llama_cpp_reason(tmp_path: Path) -> None:
    truncated = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with default_model_path().open("rb") as source:
        truncated.write_bytes(source.read(4_000_000))  # a real header, tensors cut off

    with pytest.raises(LocalModelError) as caught:
        LocalModelServer(truncated).start(timeout=30)

    message = caught.value.message
    assert "could not be loaded" in message
    assert "corrupt" in message
    assert str(truncated) in message
    assert "OPENAI_BASE_URL" in message
    assert caught.value.details is not None
    assert "corrupted or incomplete" in caught.value.details


def test_not_enough_memory_is_refused_with_the_figures() -> None:
    with pytest.raises(LocalModelError, match=r"needs about 228 MiB, 50 MiB are available"):
        check_memory(model_bytes=100 * 2**20, available_bytes=50 * 2**20)
    check_memory(model_bytes=100 * 2**20, available_bytes=None)  # unknown: let llama.cpp try


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct (local, Q4_1)"),
        ("qwen2.5-0.5b-instruct-q3_k_m.gguf", "qwen2.5-0.5b-instruct (local, q3_k_m)"),
        ("Llama-3.2-1B-Instruct-F16.gguf", "Llama-3.2-1B-Instruct (local, F16)"),
        ("my-model.gguf", "my-model (local)"),
    ],
)
def test_model_name_is_read_from_the_file_name(file_name: str, expected: str) -> None:
    assert model_name_from_path(Path(file_name)) == expected


def test_an_explicit_model_path_overrides_the_packaged_one(tmp_path: Path) -> None:
    assert resolve_model_path(tmp_path / "x.gguf") == tmp_path / "x.gguf"
    assert resolve_model_path(None) == default_model_path()
    assert default_model_path().is_file()


def test_layout_token_bias_forbids_newline_and_space_run_tokens_only(tmp_path: Path) -> None:
    from prompt_playground.local_model import _gguf_tokens, layout_token_bias

    path = default_model_path()
    tokens = _gguf_tokens(path)
    bias = layout_token_bias(path)
    banned = {tokens[i] for i, allowed in bias if allowed is False}
    assert len(bias) == len(banned) > 100
    assert "\u010a" in banned  # "Ċ": the byte-level BPE newline
    assert "\u0120\u0120" in banned  # two spaces
    assert "\u0120" not in banned  # one space stays: it separates words
    assert not any(c.isascii() and c.isalnum() for t in banned for c in t)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00")
    assert layout_token_bias(broken) == []
