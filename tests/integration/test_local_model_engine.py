"""The real local model through the whole engine, as the Compare page runs it with no keys: the
example prompt's production and staging versions on every bundled chat, with the app's local
endpoint (its sampling controls, its concurrency cap, bounds and max_tokens for a small model).

Every output validates, and none is degenerate: no cell repeats a word or a short chunk over
and over, and no list holds the same item twice (``prompt_playground.degenerate``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.bootstrap import example_prompt_spec, example_samples, local_endpoint
from prompt_playground.degenerate import degenerate_cells
from prompt_playground.llm import InstructorLLM
from prompt_playground.local_model import get_local_model
from prompt_playground.models import Variant
from prompt_playground.prompts import LangfusePromptStore
from prompt_playground.runner import Runner, RunRequest, prepare_variants
from prompt_playground.runstore import RunStore
from prompt_playground.samples import load_samples
from prompt_playground.settings import Settings
from tests.support.servers import PUBLIC_KEY

pytestmark = pytest.mark.model

VARIANTS = [Variant(label="production"), Variant(label="staging")]


def test_bundled_comparison_on_the_local_model_is_valid_and_never_degenerate(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, tmp_path: Path, unique: str
) -> None:
    store = LangfusePromptStore(langfuse, base_url=lf_server.base_url)
    spec = {**example_prompt_spec(), "name": f"local-model-{unique}"}
    store.sync(spec)
    endpoint = local_endpoint(Settings(data_dir=tmp_path), get_local_model(None))
    prepared = prepare_variants(
        store,
        spec["name"],
        VARIANTS,
        default_model=endpoint.model,
        allowed_modules=["prompt_playground.examples"],
        small_model_bounds=endpoint.local,
    )
    samples = load_samples(example_samples(), "sample_chats.csv").samples
    runs = RunStore(tmp_path / "runs.sqlite3")
    runner = Runner(
        store=runs,
        llm_factory=lambda: InstructorLLM(
            endpoint,
            timeout_s=300,
            http_retries=0,
            validation_retries=1,
            langfuse_public_key=PUBLIC_KEY,
        ),
        new_trace_id=Langfuse.create_trace_id,
        flush=langfuse.flush,
    )
    request = RunRequest(
        prompt_name=spec["name"],
        variants=VARIANTS,
        samples=samples,
        concurrency=endpoint.concurrency_for(8),
    )
    record = asyncio.run(runner.run(request, prepared))

    results = runs.results(record.id)
    assert record.status == "completed"
    assert len(results) == 2 * len(samples) == 42
    # Both versions' max_tokens come from their (bounded) schemas, not from a guess.
    assert all(isinstance(p.params.get("max_tokens"), int) for p in prepared)
    models = {p.key: p.model.model for p in prepared}
    degenerate = {}
    for result in results:
        assert result.error is None, (result.sample_id, result.variant, result.error)
        assert result.output is not None
        models[result.variant].model_validate(result.output)  # raises when it does not fit
        assert result.output_tokens
        bad = degenerate_cells(result.output)
        if bad:
            degenerate[(result.sample_id, result.variant)] = (bad, result.output)
    assert not degenerate, degenerate
