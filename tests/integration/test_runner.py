"""The batch runner end to end: prompts in local-langfuse, the unmodified openai SDK + instructor
against the fake OpenAI server, results in a real run store, traces read back from local-langfuse.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langfuse import Langfuse
from pydantic import SecretStr

from local_langfuse import LocalLangfuseServer
from prompt_playground.errors import PlaygroundError
from prompt_playground.llm import Endpoint, InstructorLLM
from prompt_playground.models import Sample, Variant
from prompt_playground.prompts import LangfusePromptStore, PromptVersion
from prompt_playground.runner import (
    PreparedVariant,
    Progress,
    Runner,
    RunRequest,
    file_hash,
    prepare_variants,
)
from prompt_playground.runstore import RunRecord, RunStore
from tests.support.fake_openai import FakeModelState, FakeOpenAIServer, Fault
from tests.support.servers import PUBLIC_KEY

MODEL = "gpt-4o-mini"
SCHEMA = {
    "type": "object",
    "title": "Feedback",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "topics": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "urgent": {"type": "boolean"},
    },
    "required": ["sentiment", "topics", "urgent"],
    "additionalProperties": False,
}
TEXTS = [
    "My parcel is a week late.",
    "Love the new headphones!",
    "Someone changed my account email, help!",
    "Do you ship to Iceland?",
    "The invoice shows the wrong VAT.",
    "App logs me out every five minutes.",
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fake(langfuse: Langfuse) -> Iterator[FakeOpenAIServer]:
    # ``langfuse``: the session client exists before langfuse.openai looks for one.
    with FakeOpenAIServer(FakeModelState()) as server:
        yield server


@pytest.fixture
def state(fake: FakeOpenAIServer) -> Iterator[FakeModelState]:
    fake.state.clear()
    fake.state.latency_ms = 0
    yield fake.state
    fake.state.fail_when_content_contains.clear()
    fake.state.latency_ms = 0
    fake.state.clear()


@pytest.fixture(scope="module")
def prompts(langfuse: Langfuse, lf_server: LocalLangfuseServer) -> LangfusePromptStore:
    return LangfusePromptStore(langfuse, base_url=lf_server.base_url)


@pytest.fixture(scope="module")
def prompt_name(prompts: LangfusePromptStore) -> str:
    """v1 production asks with TOOLS, v2 staging with JSON_SCHEMA; both carry the schema."""
    name = f"runner-{uuid.uuid4().hex[:8]}"
    for system, mode, label in [
        ("Extract feedback.", "tools", "production"),
        ("Extract feedback; judge the customer.", "json_schema", "staging"),
    ]:
        prompts.create_version(
            name,
            type="chat",
            prompt=[
                {"role": "system", "content": system},
                {"role": "user", "content": "{{text}}"},
            ],
            config={"temperature": 0, "instructor_mode": mode, "response_schema": SCHEMA},
            labels=[label],
        )
    return name


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs.sqlite3")


def samples(n: int, *, prefix: str = "") -> list[Sample]:
    return [
        Sample(id=f"s{i + 1}", row=i + 1, variables={"text": prefix + TEXTS[i % len(TEXTS)]})
        for i in range(n)
    ]


class CountingPrompts:
    """A prompt source that records every lookup, in front of the real store."""

    def __init__(self, inner: LangfusePromptStore) -> None:
        self.inner = inner
        self.calls: list[tuple[str, Variant | None]] = []

    def get(self, name: str, variant: Variant | None = None) -> PromptVersion:
        self.calls.append((name, variant))
        return self.inner.get(name, variant)


def prepare(
    prompts: Any, name: str, *variants: str, allowed: tuple[str, ...] = ()
) -> list[PreparedVariant]:
    return prepare_variants(
        prompts,
        name,
        [Variant.parse(v) for v in variants],
        default_model=MODEL,
        allowed_modules=list(allowed),
    )


def execute(
    fake: FakeOpenAIServer,
    store: RunStore,
    prepared: list[PreparedVariant],
    batch: list[Sample],
    *,
    langfuse: Langfuse | None = None,
    timeout_s: float = 10.0,
    http_retries: int = 0,
    validation_retries: int = 1,
    concurrency: int = 4,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    samples_hash: str | None = None,
    prices: dict[str, tuple[float, float]] | None = None,
) -> RunRecord:
    endpoint = Endpoint(
        base_url=fake.base_url,
        api_key=SecretStr("sk-test"),
        model=MODEL,
        mode="tools",
        local=False,
        description="fake",
        prices=prices or {},
    )
    runner = Runner(
        store=store,
        llm_factory=lambda: InstructorLLM(
            endpoint,
            timeout_s=timeout_s,
            http_retries=http_retries,
            validation_retries=validation_retries,
            langfuse_public_key=PUBLIC_KEY,
        ),
        trace_url=lambda trace_id: f"http://langfuse.test/trace/{trace_id}",
        new_trace_id=Langfuse.create_trace_id,
        flush=langfuse.flush if langfuse is not None else lambda: None,
    )
    request = RunRequest(
        prompt_name=prepared[0].prompt.name,
        variants=[Variant.parse(p.key) for p in prepared],
        samples=batch,
        concurrency=concurrency,
        samples_name="batch.csv",
        samples_hash=samples_hash,
    )
    return asyncio.run(runner.run(request, prepared, on_progress=on_progress, cancel=cancel))


def only_row(store: RunStore, record: RunRecord) -> Any:
    (row,) = store.results(record.id)
    return row


# --------------------------------------------------------------------------- the happy path


def test_rows_carry_their_cost_when_the_model_has_a_price(
    fake: FakeOpenAIServer, store: RunStore, prompts: LangfusePromptStore, prompt_name: str
) -> None:
    prepared = prepare(prompts, prompt_name, "production")
    priced = execute(fake, store, prepared, samples(2), prices={MODEL[:4]: (1.0, 2.0)})
    for row in store.results(priced.id):
        assert row.input_tokens
        assert row.output_tokens
        expected = (row.input_tokens * 1.0 + row.output_tokens * 2.0) / 1_000_000
        assert row.cost_usd == pytest.approx(expected)
    unpriced = execute(fake, store, prepared, samples(1))
    assert only_row(store, unpriced).cost_usd is None


def test_every_sample_and_variant_gives_exactly_one_stored_row(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    prepared = prepare(prompts, prompt_name, "production", "staging")
    batch = samples(5)
    record = execute(fake, store, prepared, batch, samples_hash=file_hash(b"batch"))

    assert (record.status, record.total, record.done, record.errors) == ("completed", 10, 10, 0)
    rows = store.results(record.id)
    assert sorted((r.sample_id, r.variant) for r in rows) == sorted(
        itertools.product([s.id for s in batch], ["production", "staging"])
    )
    for row in rows:
        assert row.ok, row.error
        model = prepared[0].model.model if row.variant == "production" else prepared[1].model.model
        model.model_validate(row.output)
        assert row.prompt_version == (1 if row.variant == "production" else 2)
        assert row.attempts == 1
        assert (row.input_tokens or 0) > 0
        assert row.trace_id is not None
        assert row.trace_url == f"http://langfuse.test/trace/{row.trace_id}"
    assert len({r.trace_id for r in rows}) == 10
    # each variant asked the way its prompt config says
    history = state.history
    assert len(history) == 10
    by_system = {body["messages"][0]["content"]: body for body in history}
    assert "tools" in by_system["Extract feedback."]
    assert by_system["Extract feedback; judge the customer."]["response_format"]["type"] == (
        "json_schema"
    )
    assert {body["temperature"] for body in history} == {0}
    assert store.samples(record.id) == batch


def test_run_meta_records_versions_fingerprints_parameters_and_the_samples_hash(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    prepared = prepare(prompts, prompt_name, "production", "v2")
    record = execute(fake, store, prepared, samples(1), samples_hash=file_hash(b"abc"))
    run = store.get_run(record.id)
    assert run.variants == ["production", "v2"]
    assert run.samples_name == "batch.csv"
    assert run.samples_hash == file_hash(b"abc")
    assert run.concurrency == 4
    meta = run.meta
    assert meta["versions"] == {"production": 1, "v2": 2}
    assert meta["fingerprints"] == {p.key: p.model.fingerprint for p in prepared}
    assert meta["fingerprints"]["production"]  # a real fingerprint, not empty
    assert meta["parameters"] == {
        "production": {"temperature": 0, "model": MODEL},
        "v2": {"temperature": 0, "model": MODEL},
    }
    assert meta["schemas"]["production"]["properties"].keys() == SCHEMA["properties"].keys()
    assert meta["drift"] == {}


def test_each_variant_is_resolved_once_not_per_call(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    counting = CountingPrompts(prompts)
    prepared = prepare(counting, prompt_name, "production", "staging")
    record = execute(fake, store, prepared, samples(6))
    assert record.done == 12
    assert counting.calls == [
        (prompt_name, Variant(label="production")),
        (prompt_name, Variant(label="staging")),
    ]


def test_a_variant_chosen_twice_is_refused_before_any_lookup(prompts: LangfusePromptStore) -> None:
    counting = CountingPrompts(prompts)
    with pytest.raises(PlaygroundError, match="repeated: v1"):
        prepare(counting, "whatever", "v1", "1")
    assert counting.calls == []


def test_progress_reaches_total_and_rows_are_stored_before_each_report(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    prepared = prepare(prompts, prompt_name, "production", "staging")
    seen: list[tuple[int, int, int]] = []

    def on_progress(progress: Progress) -> None:
        stored, _ = store.progress(progress.run_id)
        seen.append((progress.done, progress.total, stored))

    record = execute(fake, store, prepared, samples(4), on_progress=on_progress)
    assert [done for done, _, _ in seen] == list(range(1, 9))
    assert {total for _, total, _ in seen} == {8}
    assert all(stored >= done for done, _, stored in seen)
    assert record.done == 8


# --------------------------------------------------------------------------- faults


def test_a_500_is_retried_by_the_openai_client(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.enqueue(Fault(status=500))
    record = execute(
        fake, store, prepare(prompts, prompt_name, "production"), samples(1), http_retries=2
    )
    row = only_row(store, record)
    assert row.ok, row.error
    assert row.attempts == 1  # one validated answer; the HTTP retry is the client's business
    assert state.request_count == 2
    assert state.pending_faults == 0


def test_a_429_waits_for_retry_after(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.enqueue(Fault(status=429, retry_after=1.5))
    record = execute(
        fake, store, prepare(prompts, prompt_name, "production"), samples(1), http_retries=1
    )
    row = only_row(store, record)
    assert row.ok, row.error
    assert state.request_count == 2
    # Not a speed assertion: the client's own backoff would be under 1 s; waiting at least the
    # server's Retry-After is the behaviour under test.
    assert row.latency_ms >= 1500


def test_a_429_without_retries_left_says_to_lower_the_concurrency(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.enqueue(Fault(status=429))
    record = execute(fake, store, prepare(prompts, prompt_name, "production"), samples(1))
    row = only_row(store, record)
    assert row.error is not None
    assert "429" in row.error
    assert "concurrency" in row.error
    assert record.status == "completed"
    assert record.errors == 1


def test_invalid_json_is_re_asked_and_the_row_counts_two_attempts(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.enqueue(Fault(invalid_json=True))
    record = execute(fake, store, prepare(prompts, prompt_name, "production"), samples(1))
    row = only_row(store, record)
    assert row.ok, row.error
    assert row.attempts == 2
    assert row.raw_output is None
    assert state.request_count == 2


@pytest.mark.parametrize("variant", ["production", "staging"])
def test_without_validation_retries_an_invalid_output_is_an_error_with_the_raw_output(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
    variant: str,
) -> None:
    state.enqueue(Fault(invalid_json=True))
    record = execute(
        fake, store, prepare(prompts, prompt_name, variant), samples(1), validation_retries=0
    )
    row = only_row(store, record)
    assert row.output is None
    assert row.error is not None
    assert "response schema" in row.error
    assert "1 attempt(s)" in row.error
    assert row.attempts == 1
    assert row.raw_output
    with pytest.raises(json.JSONDecodeError):
        json.loads(row.raw_output)
    assert state.request_count == 1
    assert record.status == "completed"


def test_a_call_slower_than_the_timeout_is_a_row_error(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.enqueue(Fault(delay_s=2.0))
    record = execute(
        fake,
        store,
        prepare(prompts, prompt_name, "production"),
        samples(2),
        timeout_s=0.5,
        concurrency=1,
    )
    rows = {r.sample_id: r for r in store.results(record.id)}
    assert rows["s1"].error is not None
    assert "did not answer within 0.5 s" in rows["s1"].error
    assert rows["s2"].ok, rows["s2"].error
    assert record.status == "completed"


def test_a_sample_the_endpoint_rejects_errors_alone_and_nothing_is_dropped(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.fail_when_content_contains["BOOM"] = 400
    batch = samples(4)
    batch[2] = Sample(id="s3", row=3, variables={"text": "BOOM goes the parcel"})
    record = execute(fake, store, prepare(prompts, prompt_name, "production", "staging"), batch)
    rows = store.results(record.id)
    assert len(rows) == 8
    failed = sorted((r.sample_id, r.variant) for r in rows if r.error)
    assert failed == [("s3", "production"), ("s3", "staging")]
    assert all("HTTP 400" in (r.error or "") for r in rows if r.sample_id == "s3")
    assert (record.status, record.done, record.errors) == ("completed", 8, 2)


def test_unusable_sample_rows_are_errored_results_and_never_sent(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    batch = [
        *samples(2),
        Sample(id="bad-json", row=3, error="column 'messages': not a JSON list"),
        Sample(id="no-text", row=4, variables={"other": "SECRET-MARKER"}),
    ]
    record = execute(fake, store, prepare(prompts, prompt_name, "production"), batch)
    rows = {r.sample_id: r for r in store.results(record.id)}
    assert set(rows) == {"s1", "s2", "bad-json", "no-text"}
    assert rows["bad-json"].error == "Row 3 was not run: column 'messages': not a JSON list"
    assert rows["bad-json"].attempts == 0
    assert rows["no-text"].error is not None
    assert rows["no-text"].error.startswith("Row 4:")
    assert "'text'" in rows["no-text"].error
    assert rows["s1"].ok
    assert state.request_count == 2
    assert "SECRET-MARKER" not in json.dumps(state.history)
    assert (record.status, record.errors) == ("completed", 2)


# --------------------------------------------------------------------------- cancellation


def test_cancelling_stops_early_and_keeps_finished_rows(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.latency_ms = 150
    cancel = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.done >= 2:
            cancel.set()

    batch = samples(20)
    record = execute(
        fake,
        store,
        prepare(prompts, prompt_name, "production"),
        batch,
        concurrency=2,
        on_progress=on_progress,
        cancel=cancel,
    )
    assert record.status == "cancelled"
    rows = store.results(record.id)
    assert 2 <= len(rows) < len(batch)
    assert record.done == len(rows)
    assert all(r.ok for r in rows)
    assert state.request_count < len(batch)


def test_cancelling_from_another_thread_interrupts_calls_in_flight(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    state.enqueue(*[Fault(delay_s=30.0)] * 2)  # would hang far beyond the test's patience
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    try:
        record = execute(
            fake,
            store,
            prepare(prompts, prompt_name, "production"),
            samples(2),
            concurrency=2,
            timeout_s=60,
            cancel=cancel,
        )
    finally:
        timer.cancel()
    assert record.status == "cancelled"
    # had it waited for the slow answers, both rows would be there
    assert store.results(record.id) == []


def test_a_run_cancelled_before_it_starts_sends_nothing(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    cancel = threading.Event()
    cancel.set()
    record = execute(
        fake, store, prepare(prompts, prompt_name, "production"), samples(3), cancel=cancel
    )
    assert (record.status, record.done) == ("cancelled", 0)
    assert state.request_count == 0


# --------------------------------------------------------------------------- tracing


def wait_for_generation(langfuse: Langfuse, trace_id: str) -> Any:
    deadline = time.monotonic() + 15
    while True:
        page = langfuse.api.observations.get_many(
            trace_id=trace_id, fields="core,basic,prompt,metadata"
        )
        generations = [o for o in page.data if o.type == "GENERATION"]
        if generations or time.monotonic() > deadline:
            return generations
        time.sleep(0.2)


def test_each_call_is_a_generation_linked_to_its_prompt_in_a_session_per_run(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
    langfuse: Langfuse,
    api: httpx.Client,
) -> None:
    prepared = prepare(prompts, prompt_name, "production", "v2")
    record = execute(fake, store, prepared, samples(1), langfuse=langfuse)
    langfuse.flush()
    rows = {r.variant: r for r in store.results(record.id)}
    assert set(rows) == {"production", "v2"}
    for variant, version in [("production", 1), ("v2", 2)]:
        row = rows[variant]
        assert row.trace_id is not None
        generations = wait_for_generation(langfuse, row.trace_id)
        assert len(generations) == 1, generations
        generation = generations[0]
        assert (generation.prompt_name, generation.prompt_version) == (prompt_name, version)
        assert generation.name == f"{variant} · s1"

        response = api.get(f"/api/public/traces/{row.trace_id}")
        assert response.status_code == 200, response.text
        trace = response.json()
        assert trace["sessionId"] == record.id
        assert variant in trace["tags"]
        assert trace["metadata"]["sample_id"] == "s1"
        assert trace["name"] == f"{prompt_name}:{variant}"


def test_a_draft_runs_traced_by_name_and_hash_without_a_prompt_link(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
    langfuse: Langfuse,
    api: httpx.Client,
) -> None:
    from prompt_playground.drafts import from_version

    base = prompts.get(prompt_name, Variant(label="production"))
    draft = from_version(base, "terse")
    prepared = prepare_variants(
        prompts,
        prompt_name,
        [Variant(label="production"), Variant.parse("draft:terse")],
        default_model=MODEL,
        allowed_modules=[],
        drafts={"terse": draft},
    )
    record = execute(fake, store, prepared, samples(1), langfuse=langfuse)
    langfuse.flush()
    assert "draft:terse" not in record.meta["versions"], "a draft has no version"
    rows = {r.variant: r for r in store.results(record.id)}
    assert rows["draft:terse"].prompt_version is None
    assert rows["production"].prompt_version == base.version
    trace_id = rows["draft:terse"].trace_id
    assert trace_id is not None
    [generation] = wait_for_generation(langfuse, trace_id)
    assert generation.prompt_name is None, "no version exists to link to"
    assert generation.name == f"{prompt_name} · draft:terse · s1"
    trace = api.get(f"/api/public/traces/{trace_id}").json()
    assert trace["metadata"]["draft"] == "terse"
    assert trace["metadata"]["draft_hash"] == draft.content_hash


# --------------------------------------------------------------------------- failure paths


def test_a_run_that_crashes_partway_ends_failed_with_its_finished_rows_kept(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    prepared = prepare(prompts, prompt_name, "production")
    seen: list[int] = []

    def crash_on_the_third(progress: Progress) -> None:
        seen.append(progress.done)
        if progress.done == 3:
            raise RuntimeError("disk went away")

    record = execute(
        fake, store, prepared, samples(6), concurrency=1, on_progress=crash_on_the_third
    )
    assert record.status == "failed"
    assert "disk went away" in (record.error or "")
    rows = store.results(record.id)
    assert [r.sample_id for r in rows] == ["s1", "s2", "s3"]
    assert all(r.ok for r in rows)
    assert store.get_run(record.id).status == "failed"


def test_expected_values_are_keyed_by_the_schema_field_whatever_the_column_case(
    fake: FakeOpenAIServer,
    state: FakeModelState,
    store: RunStore,
    prompts: LangfusePromptStore,
    prompt_name: str,
) -> None:
    prepared = prepare(prompts, prompt_name, "production")
    batch = [
        Sample(
            id="s1",
            row=1,
            variables={"text": TEXTS[0]},
            expected={"Sentiment": "negative", "URGENT": False},
        )
    ]
    record = execute(fake, store, prepared, batch)
    assert only_row(store, record).expected == {"sentiment": "negative", "urgent": False}
