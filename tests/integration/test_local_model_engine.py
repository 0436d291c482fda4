"""The real local model through the whole engine: example prompt → runner → typed, valid outputs.

Uses the session's local-langfuse (real SDK over HTTP) and the embedded SmolLM2 behind llama.cpp
with instructor's JSON-schema mode (constrained decoding), as `make run` does with no keys.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.bootstrap import example_prompt_spec, example_samples
from prompt_playground.llm import Endpoint, InstructorLLM
from prompt_playground.local_model import get_local_model
from prompt_playground.models import Variant
from prompt_playground.prompts import LangfusePromptStore
from prompt_playground.runner import Runner, RunRequest, prepare_variants
from prompt_playground.runstore import RunStore
from prompt_playground.samples import load_samples
from tests.support.servers import PUBLIC_KEY

pytestmark = pytest.mark.model


def test_local_model_answers_the_example_prompt_with_outputs_that_validate(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, tmp_path: Path, unique: str
) -> None:
    store = LangfusePromptStore(langfuse, base_url=lf_server.base_url)
    spec = {**example_prompt_spec(), "name": f"local-model-{unique}"}
    store.sync(spec)
    server = get_local_model(None)
    endpoint = Endpoint(
        base_url=server.base_url,
        api_key=None,
        model=server.model_id,
        mode="json_schema",
        local=True,
        description=server.model_name,
    )
    prepared = prepare_variants(
        store,
        spec["name"],
        [Variant(label="production")],
        default_model=endpoint.model,
        allowed_modules=["prompt_playground.examples"],
        small_model_bounds=True,
    )
    samples = load_samples(example_samples(), "sample_chats.csv").samples[:3]
    runs = RunStore(tmp_path / "runs.sqlite3")
    runner = Runner(
        store=runs,
        llm_factory=lambda: InstructorLLM(
            endpoint,
            timeout_s=120,
            http_retries=0,
            validation_retries=1,
            langfuse_public_key=PUBLIC_KEY,
        ),
        new_trace_id=Langfuse.create_trace_id,
        flush=langfuse.flush,
    )
    request = RunRequest(
        prompt_name=spec["name"], variants=[Variant(label="production")], samples=samples
    )
    record = asyncio.run(runner.run(request, prepared))

    results = runs.results(record.id)
    assert record.status == "completed"
    assert len(results) == 3
    model = prepared[0].model.model
    for result in results:
        assert result.error is None, result.error
        assert result.output is not None
        model.model_validate(result.output)  # raises when an output does not fit the schema
        assert result.output["sentiment"] in {"positive", "neutral", "negative", "mixed"}
        assert result.output_tokens
        assert result.output_tokens > 0
