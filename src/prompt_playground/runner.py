"""The batch runner: samples × variants through the LLM, bounded, traced, and stored as they finish.

Prompt versions and response models are resolved once per variant (not per call). A fixed pool of
worker coroutines pulls (sample, variant) pairs, so memory stays flat for 10,000-sample runs; each
outcome, success or failure, is appended to the run store at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, Protocol

from langfuse import propagate_attributes

from prompt_playground.drafts import Draft, content_hash
from prompt_playground.errors import PlaygroundError
from prompt_playground.llm import LLM, call_parameters
from prompt_playground.models import Result, Sample, Variant
from prompt_playground.prompts import PromptVersion
from prompt_playground.runstore import RunRecord, RunStatus, RunStore
from prompt_playground.samples import align_expected
from prompt_playground.schema import (
    OUTPUT_TOKEN_SLACK,
    ResolvedModel,
    field_specs,
    output_token_bound,
    response_model_for,
)

RunKind = Literal["batch", "playground"]
"""What started a run: a batch (Compare, the CLI) or one Playground call (kept apart on Runs)."""


class PromptSource(Protocol):
    def get(self, name: str, variant: Variant | None = None) -> PromptVersion: ...


@dataclass(frozen=True)
class PreparedVariant:
    """A variant resolved once: its prompt version, response model and call parameters."""

    key: str
    prompt: PromptVersion
    model: ResolvedModel
    params: dict[str, Any]

    @cached_property
    def fields(self) -> list[str]:
        """The response schema's top-level field names (what expected values are keyed by)."""
        return [spec.name for spec in field_specs(self.model.schema)]

    @property
    def content_hash(self) -> str:
        """The content hash of what runs (drafts are identified by it)."""
        return content_hash(self.prompt.prompt, self.prompt.config)


@dataclass(frozen=True)
class Progress:
    run_id: str
    done: int
    total: int
    errors: int
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        if self.done == 0 or self.done >= self.total:
            return None if self.done == 0 else 0.0
        return self.elapsed_s / self.done * (self.total - self.done)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass
class RunRequest:
    prompt_name: str
    variants: list[Variant]
    samples: list[Sample]
    concurrency: int = 8
    samples_name: str | None = None
    samples_hash: str | None = None
    run_id: str = field(default_factory=lambda: new_run_id())
    kind: RunKind = "batch"
    meta: dict[str, Any] = field(default_factory=dict)  # more for the run's meta (see comparisons)
    repeats: int = 1  # each (sample, variant) is called this many times, each its own trace
    actor: str | None = None  # who started it (``alice@example.com (app)``)


def new_run_id() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepare_variants(
    prompts: PromptSource,
    prompt_name: str,
    variants: Sequence[Variant],
    *,
    default_model: str,
    allowed_modules: Sequence[str],
    small_model_bounds: bool = False,
    drafts: Mapping[str, Draft] | None = None,
) -> list[PreparedVariant]:
    """Resolve each variant's prompt version and response model, before any token is spent.

    A draft variant (``draft:<name>``) is taken from ``drafts`` by name, never from Langfuse.
    """
    if not variants:
        raise PlaygroundError("Choose at least one label or version to run.")
    keys = [v.key for v in variants]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise PlaygroundError(
            f"Each variant may be chosen once; repeated: {', '.join(duplicates)}."
        )
    prepared = []
    for variant in variants:
        if variant.draft is not None:
            draft = (drafts or {}).get(variant.draft)
            if draft is None:
                raise PlaygroundError(f"There is no draft '{variant.draft}' of '{prompt_name}'.")
            prompt = draft.as_prompt_version()
        else:
            prompt = prompts.get(prompt_name, variant)
        model = response_model_for(
            prompt.config,
            allowed_modules=allowed_modules,
            small_model_bounds=small_model_bounds,
        )
        params = call_parameters(prompt.config, default_model)
        bounded = _bounded_max_tokens(params, model, small_model_bounds=small_model_bounds)
        if bounded is not None:
            params["max_tokens"] = bounded
            prompt = dataclasses.replace(prompt, config={**prompt.config, "max_tokens": bounded})
        prepared.append(PreparedVariant(variant.key, prompt, model, params))
    return prepared


def _bounded_max_tokens(
    params: dict[str, Any], model: ResolvedModel, *, small_model_bounds: bool
) -> int | None:
    """``max_tokens`` from the schema's bounds: set when the config names none, and lowered to
    the bound on a small model (whose loops would otherwise run to the config's limit). None:
    leave the parameters as they are."""
    bound = output_token_bound(model.model.model_json_schema())
    if bound is None or "max_completion_tokens" in params:
        return None
    bound += OUTPUT_TOKEN_SLACK
    current = params.get("max_tokens")
    if current is None:
        return bound
    if small_model_bounds and isinstance(current, int) and current > bound:
        return bound
    return None


class Runner:
    """Runs a batch against one LLM endpoint, writing every result to the run store."""

    def __init__(
        self,
        *,
        store: RunStore,
        llm_factory: Callable[[], LLM],
        trace_url: Callable[[str], str | None] = lambda _trace_id: None,
        new_trace_id: Callable[[], str] | None = None,
        flush: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._llm_factory = llm_factory
        self._trace_url = trace_url
        self._new_trace_id = new_trace_id or (lambda: uuid.uuid4().hex)
        self._flush = flush

    def start_run(self, request: RunRequest, prepared: Sequence[PreparedVariant]) -> RunRecord:
        """Record the run and its samples (what makes it reproducible) before any call."""
        total = len(request.samples) * len(prepared) * request.repeats
        record = RunRecord(
            id=request.run_id,
            prompt_name=request.prompt_name,
            variants=[p.key for p in prepared],
            total=total,
            samples_name=request.samples_name,
            samples_hash=request.samples_hash,
            concurrency=request.concurrency,
            actor=request.actor,
            meta={
                "pid": os.getpid(),
                "kind": request.kind,
                "versions": {p.key: p.prompt.version for p in prepared if p.prompt.draft is None},
                "fingerprints": {p.key: p.model.fingerprint for p in prepared},
                "schemas": {p.key: p.model.schema for p in prepared},
                "parameters": {p.key: p.params for p in prepared},
                "schema_sources": {p.key: p.model.source for p in prepared},
                "drift": {p.key: p.model.drift for p in prepared if p.model.drift},
                "repeats": request.repeats,
                **request.meta,
            },
        )
        self._store.create_run(record, request.samples)
        return record

    async def run(
        self,
        request: RunRequest,
        prepared: Sequence[PreparedVariant],
        *,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
        record: RunRecord | None = None,
    ) -> RunRecord:
        """Run every (sample, variant) pair; returns the finished run record."""
        if record is None:
            record = self.start_run(request, prepared)
        status, failure = await self.execute(
            record,
            request.samples,
            prepared,
            concurrency=request.concurrency,
            on_progress=on_progress,
            cancel=cancel,
        )
        self._store.finish_run(record.id, status, failure)
        await asyncio.to_thread(self._flush)
        return self._store.get_run(record.id)

    async def execute(
        self,
        record: RunRecord,
        samples: Sequence[Sample],
        prepared: Sequence[PreparedVariant],
        *,
        concurrency: int,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[RunStatus, str | None]:
        """Run these samples through every variant into ``record``'s run; the run's status.

        The run itself is neither created nor finished here (a worker process runs its share
        of a run this way).
        """
        repeats = max(1, int(record.meta.get("repeats") or 1))
        total = len(samples) * len(prepared) * repeats
        started = time.perf_counter()
        done = 0
        errors = 0
        cancel = cancel or threading.Event()
        try:
            llm = self._llm_factory()
        except PlaygroundError as exc:
            # The endpoint cannot be reached at all (e.g. the local model fails to load): the
            # run is finished as failed with that message rather than left "running".
            return "failed", exc.message
        concurrency = llm.endpoint.concurrency_for(concurrency)
        calls: Iterator[tuple[Sample, PreparedVariant, int]] = (
            (sample, variant, repeat)
            for sample in samples
            for repeat in range(1, repeats + 1)
            for variant in prepared
        )

        def report(result: Result) -> None:
            nonlocal done, errors
            self._store.add_result(result)
            done += 1
            errors += result.error is not None
            if on_progress is not None:
                on_progress(Progress(record.id, done, total, errors, time.perf_counter() - started))

        kind = record.meta.get("kind", "batch")

        async def worker() -> None:
            for sample, variant, repeat in calls:
                if cancel.is_set():
                    return
                report(await self._one(llm, record.id, sample, variant, kind, repeat))

        status: RunStatus = "completed"
        failure: str | None = None
        workers = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
        watcher = asyncio.ensure_future(_watch(cancel, workers))
        try:
            await asyncio.gather(*workers, return_exceptions=False)
        except asyncio.CancelledError:
            status = "cancelled"
        except Exception as exc:  # noqa: BLE001 - the run fails as a whole; rows so far are kept
            status, failure = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            watcher.cancel()
            for task in workers:
                task.cancel()
            await llm.aclose()
        if cancel.is_set() and status == "completed":
            status = "cancelled"
        return status, failure

    async def _one(
        self,
        llm: LLM,
        run_id: str,
        sample: Sample,
        variant: PreparedVariant,
        kind: str,
        repeat: int = 1,
    ) -> Result:
        prompt = variant.prompt
        result = Result(
            run_id=run_id,
            sample_id=sample.id,
            variant=variant.key,
            prompt_name=prompt.name,
            prompt_version=prompt.version if prompt.draft is None else None,
            expected=align_expected(sample.expected, variant.fields),
            repeat=repeat,
        )
        if sample.error:
            result.error = f"Row {sample.row} was not run: {sample.error}"
            return result
        try:
            messages = prompt.compile(sample.variables, sample.messages)
        except PlaygroundError as exc:
            result.error = f"Row {sample.row}: {exc.message}"
            return result
        trace_id = self._new_trace_id()
        metadata = {"sample_id": sample.id[:150], "variant": variant.key, "run_id": run_id}
        if repeat > 1:
            metadata["repeat"] = str(repeat)
        if prompt.draft is not None:
            # No version exists to link to: the draft's name and content hash say what ran.
            metadata["draft"] = prompt.draft
            metadata["draft_hash"] = variant.content_hash
        with propagate_attributes(
            session_id=run_id,
            tags=[_ascii(variant.key)],
            trace_name=_ascii(f"{prompt.name}:{variant.key}"),
            metadata=metadata,
        ):
            outcome = await llm.extract(
                messages,
                variant.model.model,
                prompt=prompt,
                trace_id=trace_id,
                name=_generation_name(kind, prompt, variant.key, sample.id, repeat),
            )
        result.output = outcome.output
        result.raw_output = outcome.raw_output
        result.error = outcome.error
        result.attempts = outcome.attempts
        result.latency_ms = round(outcome.latency_ms, 1)
        result.input_tokens = outcome.input_tokens
        result.output_tokens = outcome.output_tokens
        result.cost_usd = llm.endpoint.cost_usd(
            outcome.model or str(variant.params.get("model")),
            outcome.input_tokens,
            outcome.output_tokens,
        )
        result.trace_id = trace_id
        result.trace_url = self._trace_url(trace_id)
        return result


async def _watch(cancel: threading.Event, workers: Sequence[asyncio.Future[None]]) -> None:
    """Cancel in-flight calls promptly when the cancel event is set from another thread."""
    while not cancel.is_set():
        if all(w.done() for w in workers):
            return
        await asyncio.sleep(0.1)
    for task in workers:
        task.cancel()


def _generation_name(
    kind: str, prompt: PromptVersion, variant_key: str, sample_id: str, repeat: int = 1
) -> str:
    """A Playground call is named as the prompt it tried; a batch call by variant and sample
    (and repeat, from the second on); a draft's call after its prompt (it has no version)."""
    if kind == "playground":
        return f"playground · {prompt.name} {prompt.display}"[:200]
    tail = f" · #{repeat}" if repeat > 1 else ""
    if prompt.draft is not None:
        return f"{prompt.name} · {variant_key} · {sample_id}{tail}"[:200]
    return f"{variant_key} · {sample_id}{tail}"[:200]


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:200]
