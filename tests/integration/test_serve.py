"""``prompt-playground serve`` end to end: the real command in a subprocess, local-langfuse (the
embedded server) over HTTP, the OpenAI-compatible fake in this process (its faults and history
are visible here). Traces are read back through the SDK; time is never asserted, only polled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.prompts import LangfusePromptStore
from tests.support.fake_openai import FakeOpenAIServer, Fault
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, free_port, start_local_langfuse

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "prompt_playground.cli"]
CHAT = '[{"role": "user", "content": "My parcel is two weeks late and nobody answers."}]'

SCHEMA_V1 = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "summary": {"type": "string", "maxLength": 120},
    },
    "required": ["sentiment", "summary"],
    "additionalProperties": False,
}
SCHEMA_V2 = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
        "refund_requested": {"type": "boolean"},
    },
    "required": ["sentiment", "urgency", "refund_requested"],
    "additionalProperties": False,
}


def chat_prompt(system: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": "{{chat_json}}"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def store(langfuse: Langfuse, lf_server: LocalLangfuseServer) -> LangfusePromptStore:
    return LangfusePromptStore(langfuse, base_url=lf_server.base_url)


def create_two_versions(store: LangfusePromptStore, name: str) -> None:
    """v1 (SCHEMA_V1) labelled production; v2 (SCHEMA_V2) not labelled."""
    store.create_version(
        name,
        type="chat",
        prompt=chat_prompt("Extract the sentiment and a summary."),
        config={"temperature": 0, "response_schema": SCHEMA_V1},
        labels=["production"],
    )
    store.create_version(
        name,
        type="chat",
        prompt=chat_prompt("Extract sentiment, urgency and whether a refund is asked for."),
        config={"temperature": 0, "response_schema": SCHEMA_V2},
    )


def serve_env(langfuse_url: str, fake: FakeOpenAIServer, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OPENAI_", "PLAYGROUND_"))
    }
    env.update(
        LANGFUSE_BASE_URL=langfuse_url,
        LANGFUSE_PUBLIC_KEY=PUBLIC_KEY,
        LANGFUSE_SECRET_KEY=SECRET_KEY,
        LANGFUSE_FLUSH_INTERVAL="0.2",
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_API_KEY="sk-test",
        PLAYGROUND_DATA_DIR=str(data_dir),
        PLAYGROUND_HTTP_RETRIES="1",
        PYTHONPATH=str(ROOT),
    )
    return env


@contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[httpx.Client]:
    """``prompt-playground serve`` in a subprocess; a client once /health answers."""
    port = free_port()
    log = Path(env["PLAYGROUND_DATA_DIR"]) / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), *args],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        poll(lambda: _health(client, proc), lambda ok: ok, what="serve to start", log=log)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)
        output = log.read_text(errors="replace")
        assert "Traceback" not in output, output


def _health(client: httpx.Client, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"serve exited with {proc.returncode}")
    try:
        return client.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def poll(
    get: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    what: str,
    timeout: float = 90,
    log: Path | None = None,
) -> Any:
    """``get()`` until ``done(value)``; the deadline only bounds a hang (time is not asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            detail = log.read_text(errors="replace") if log and log.exists() else ""
            raise AssertionError(f"gave up waiting for {what}; last: {value!r}\n{detail}")
        time.sleep(0.2)


def extract(client: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    return client.post("/extract", json=body, headers=headers)


# ------------------------------------------------------------------- one stable prompt


@pytest.fixture(scope="module")
def stable_name(langfuse: Langfuse, lf_server: LocalLangfuseServer) -> str:
    name = f"serve-stable-{uuid.uuid4().hex[:8]}"
    create_two_versions(LangfusePromptStore(langfuse, base_url=lf_server.base_url), name)
    return name


@pytest.fixture(scope="module")
def stable(
    stable_name: str,
    lf_server: LocalLangfuseServer,
    fake: FakeOpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[httpx.Client]:
    env = serve_env(lf_server.base_url, fake, tmp_path_factory.mktemp("serve-stable"))
    with serving(env, "--prompt", stable_name, "--cache-ttl", "60") as client:
        yield client


def test_extract_returns_typed_output_in_one_trace_linked_to_the_version(
    stable: httpx.Client, stable_name: str, langfuse: Langfuse, fake: FakeOpenAIServer
) -> None:
    response = extract(stable, {"chat_json": CHAT}, **{"X-Session-Id": "support-4821"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["prompt"] == {"name": stable_name, "version": 1, "label": "production"}
    assert set(body["output"]) == set(SCHEMA_V1["properties"])
    assert body["output"]["sentiment"] in {"positive", "neutral", "negative"}
    assert body["stale"] is False
    assert body["session_id"] == "support-4821"
    sent = fake.state.history[-1]["messages"]
    assert sent[0]["content"] == "Extract the sentiment and a summary."
    assert sent[1]["content"] == CHAT

    trace_id = body["trace_id"]
    observations = poll(
        lambda: (
            langfuse.api.observations.get_many(
                trace_id=trace_id, fields="core,basic,prompt,metadata,trace_context", limit=100
            ).data
        ),
        lambda data: any(o.type == "GENERATION" for o in data) and any(_is_root(o) for o in data),
        what="the request's trace",
    )
    roots = [o for o in observations if _is_root(o)]
    generations = [o for o in observations if o.type == "GENERATION"]
    assert len(roots) == 1
    assert len(generations) == 1
    assert roots[0].name == "POST /extract"
    generation = generations[0]
    assert (generation.prompt_name, generation.prompt_version) == (stable_name, 1)
    assert generation.parent_observation_id == roots[0].id
    assert {o.session_id for o in observations} == {"support-4821"}
    assert (generation.metadata or {})["prompt_version"] == "1"
    assert (roots[0].metadata or {})["label"] == "production"


def _is_root(observation: Any) -> bool:
    return bool(observation.is_root_observation)


def test_each_request_is_its_own_trace_and_session(stable: httpx.Client) -> None:
    first = extract(stable, {"chat_json": CHAT}).json()
    second = extract(stable, {"chat_json": CHAT}).json()

    assert first["trace_id"] != second["trace_id"]
    assert first["session_id"] != second["session_id"]


def test_a_messages_list_is_sent_after_the_prompt(
    stable: httpx.Client, fake: FakeOpenAIServer
) -> None:
    turns = [{"role": "user", "content": "Where is my refund?"}]

    response = extract(stable, {"chat_json": "[]", "messages": turns})

    assert response.status_code == 200, response.text
    assert fake.state.history[-1]["messages"][-1] == turns[0]


def test_schema_returns_the_served_versions_response_schema(
    stable: httpx.Client, stable_name: str
) -> None:
    response = stable.get("/schema")

    assert response.status_code == 200
    assert response.json()["schema"] == SCHEMA_V1
    assert response.json()["prompt"]["version"] == 1


def test_missing_variable_is_a_422_naming_it_before_any_model_call(
    stable: httpx.Client, fake: FakeOpenAIServer
) -> None:
    before = fake.state.request_count

    response = extract(stable, {"chat": CHAT})

    assert response.status_code == 422
    assert "'chat_json'" in response.json()["detail"]
    assert fake.state.request_count == before


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not json", "not valid JSON"),
        (b'["a list"]', "must be a JSON object"),
        (b'{"chat_json": "[]", "messages": [{"role": "user"}]}', "messages[0]"),
    ],
)
def test_a_bad_body_is_a_422_saying_what_is_wrong(
    stable: httpx.Client, content: bytes, says: str
) -> None:
    response = stable.post("/extract", content=content)

    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert "Traceback" not in response.text


def test_model_failure_is_a_502_after_the_retries(
    stable: httpx.Client, fake: FakeOpenAIServer
) -> None:
    needle = "BOOM-serve-502"
    fake.state.fail_when_content_contains[needle] = 500
    try:
        response = extract(stable, {"chat_json": f'[{{"role": "user", "content": "{needle}"}}]'})
    finally:
        del fake.state.fail_when_content_contains[needle]

    assert response.status_code == 502
    assert "HTTP 500" in response.json()["detail"]
    hits = [b for b in fake.state.history if needle in str(b["messages"])]
    assert len(hits) == 2  # the call and PLAYGROUND_HTTP_RETRIES=1 retry
    assert response.json()["trace_id"]


def test_output_that_never_fits_the_schema_is_a_502_with_the_attempts(
    stable: httpx.Client, fake: FakeOpenAIServer
) -> None:
    fake.state.enqueue(*[Fault(invalid_json=True)] * 3)

    response = extract(stable, {"chat_json": CHAT})

    assert response.status_code == 502
    assert "did not match the response schema" in response.json()["detail"]
    assert response.json()["attempts"] == 3
    assert fake.state.pending_faults == 0


# ------------------------------------------------------------------- promotion


def test_promotion_takes_effect_after_the_ttl_with_the_new_schema(
    store: LangfusePromptStore,
    lf_server: LocalLangfuseServer,
    fake: FakeOpenAIServer,
    unique: str,
    tmp_path: Path,
) -> None:
    name = f"serve-promote-{unique}"
    create_two_versions(store, name)
    env = serve_env(lf_server.base_url, fake, tmp_path)
    with serving(env, "--prompt", name, "--cache-ttl", "1") as client:
        before = extract(client, {"chat_json": CHAT}).json()
        assert before["prompt"]["version"] == 1
        assert set(before["output"]) == set(SCHEMA_V1["properties"])

        store.promote(name, 2, "production")

        after = poll(
            lambda: extract(client, {"chat_json": CHAT}).json(),
            lambda body: body["prompt"]["version"] == 2,
            what="the promoted version to be served",
        )
        assert set(after["output"]) == set(SCHEMA_V2["properties"])
        assert isinstance(after["output"]["refund_requested"], bool)
        assert after["stale"] is False
        assert client.get("/schema").json()["schema"] == SCHEMA_V2
        assert fake.state.history[-1]["messages"][0]["content"].startswith(
            "Extract sentiment, urgency"
        )


# ------------------------------------------------------------------- Langfuse down


def test_langfuse_down_serves_the_cached_version_marked_stale_else_503(
    fake: FakeOpenAIServer, tmp_path: Path, unique: str
) -> None:
    server = start_local_langfuse(tmp_path / "own-langfuse.sqlite3")
    name = f"serve-down-{unique}"
    created = httpx.post(
        f"{server.base_url}/api/public/v2/prompts",
        auth=(PUBLIC_KEY, SECRET_KEY),
        json={
            "name": name,
            "type": "chat",
            "prompt": chat_prompt("Extract the sentiment and a summary."),
            "config": {"response_schema": SCHEMA_V1},
            "labels": ["production"],
        },
    )
    assert created.status_code in (200, 201), created.text
    env = serve_env(server.base_url, fake, tmp_path / "data")
    with serving(env, "--prompt", name, "--cache-ttl", "1") as client:
        fresh = extract(client, {"chat_json": CHAT}).json()
        assert (fresh["prompt"]["version"], fresh["stale"]) == (1, False)

        server.stop()

        stale = poll(
            lambda: extract(client, {"chat_json": CHAT}),
            lambda r: r.status_code != 200 or r.json()["stale"],
            what="the cached version to be marked stale",
        )
        assert stale.status_code == 200, stale.text
        assert stale.json()["prompt"]["version"] == 1
        assert set(stale.json()["output"]) == set(SCHEMA_V1["properties"])
        assert client.get("/schema").json()["stale"] is True
        assert client.get("/health").json()["stale"] is True

    with serving(env, "--prompt", name, "--cache-ttl", "1") as cold:
        response = extract(cold, {"chat_json": CHAT})
        assert response.status_code == 503
        assert "unreachable" in response.json()["detail"]
        assert cold.get("/schema").status_code == 503
        assert cold.get("/health").json()["served"] is None


# ------------------------------------------------------------------- the README's flow


def test_on_embedded_defaults_a_promotion_from_another_process_reaches_the_service(
    fake: FakeOpenAIServer, tmp_path: Path
) -> None:
    """serve and the CLI each start the embedded Langfuse on the same data dir (as `make run`
    beside `serve` do); the example prompt is seeded with v1 production, v2 staging."""
    env = serve_env("unused", fake, tmp_path)
    for key in ("LANGFUSE_BASE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"):
        del env[key]
    name = "chat-extract-feedback"
    with serving(env, "--prompt", name, "--cache-ttl", "1") as client:
        before = extract(client, {"chat_json": CHAT}).json()
        assert before["prompt"] == {"name": name, "version": 1, "label": "production"}
        schema_v1 = client.get("/schema").json()["schema"]

        promoted = subprocess.run(
            [*CLI, "promote", name, "--version", "2", "--label", "production"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert promoted.returncode == 0, promoted.stderr

        after = poll(
            lambda: extract(client, {"chat_json": CHAT}).json(),
            lambda body: body["prompt"]["version"] == 2,
            what="v2 to be served after the promotion",
        )
        # v2 of the example fixes the topic taxonomy: its schema, served now, differs from v1's.
        schema_v2 = client.get("/schema").json()["schema"]
        assert schema_v2 != schema_v1
        assert "enum" in json.dumps(schema_v2["properties"]["topics"])
        assert set(after["output"]) == set(schema_v2["properties"])
