"""Langfuse as the shared record: a comparison on a Langfuse dataset is also recorded as one
Langfuse dataset run per variant (one item per sample, linked to its trace), readable over
Langfuse's REST API; a run on a file records none. Real SDK, real local-langfuse, the
OpenAI-compatible test server, the same use cases the CLI and the pages call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretStr

from local_langfuse import LocalLangfuseServer
from prompt_playground import comparisons
from prompt_playground.bootstrap import Services, build_services
from prompt_playground.dataset_runs import run_name
from prompt_playground.models import Sample
from prompt_playground.samples import SampleSet
from prompt_playground.settings import Settings
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.openapi import assert_valid_response
from tests.support.servers import PUBLIC_KEY, SECRET_KEY

SCHEMA = {
    "type": "object",
    "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative"]}},
    "required": ["sentiment"],
}
SAMPLES = [
    Sample(id=f"c{i}", row=i, variables={"text": f"chat {i}"}, expected={"sentiment": "positive"})
    for i in range(1, 5)
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def services(
    lf_server: LocalLangfuseServer, fake: FakeOpenAIServer, tmp_path: Path
) -> Iterator[Services]:
    built = build_services(
        Settings(
            langfuse_base_url=lf_server.base_url,
            langfuse_public_key=PUBLIC_KEY,
            langfuse_secret_key=SecretStr(SECRET_KEY),
            openai_base_url=fake.base_url,
            openai_api_key=SecretStr("sk-test"),
            model="fake-model",
            data_dir=tmp_path / "data",
            seed_examples=False,
        )
    )
    yield built
    built.close()


def _prompt(services: Services, name: str) -> None:
    for n, label in ((1, "production"), (2, "staging")):
        services.prompts.create_version(
            name,
            type="text",
            prompt=f"v{n}: how does the customer feel? {{{{text}}}}",
            config={"response_schema": SCHEMA},
            labels=[label],
        )


def _get(api: httpx.Client, path: str) -> dict[str, object]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid_response("GET", path, 200, body)
    return body  # type: ignore[no-any-return]


def test_each_variant_of_a_run_on_a_dataset_becomes_a_dataset_run_linked_to_its_traces(
    services: Services, api: httpx.Client, unique: str
) -> None:
    name, dataset = f"ds-runs-{unique}", f"support/chats-{unique}"
    _prompt(services, name)
    services.datasets.save(dataset, SAMPLES)
    samples = services.datasets.sample_set(dataset)
    planned = comparisons.plan(
        services, prompt=name, variants=["production", "staging"], samples=samples
    )
    record = comparisons.start(services, planned, actor="ci (cli)")
    assert record.status == "completed"
    expected_names = [run_name(record.id, "production"), run_name(record.id, "staging")]
    assert record.meta["dataset_runs"] == {"names": expected_names, "items": 8}

    runs_path = f"/api/public/datasets/{quote(dataset, safe='')}/runs"
    listed = _get(api, runs_path)
    assert {run["name"] for run in listed["data"]} >= set(expected_names)  # type: ignore[index,union-attr]

    item_ids = {i.id for i in services.langfuse.get_dataset(dataset).items}
    traces = {(r.variant, r.sample_id): r.trace_id for r in services.store.results(record.id)}
    for variant in ("production", "staging"):
        run_path = f"{runs_path}/{quote(run_name(record.id, variant), safe='')}"
        run = _get(api, run_path)
        assert run["metadata"] == {
            "run_id": record.id,
            "prompt_name": name,
            "variant": variant,
            "prompt_version": 1 if variant == "production" else 2,
            "repeats": 1,
        }
        items = run["datasetRunItems"]
        assert isinstance(items, list)
        assert {item["datasetItemId"] for item in items} == item_ids
        assert {item["traceId"] for item in items} == {traces[(variant, s.id)] for s in SAMPLES}


def test_a_run_on_a_file_records_no_dataset_run(services: Services, unique: str) -> None:
    name = f"file-runs-{unique}"
    _prompt(services, name)
    samples = SampleSet(
        filename="chats.csv",
        samples=list(SAMPLES),
        columns=["text", "expected_sentiment"],
        encoding="UTF-8",
        delimiter=",",
        format="csv",
    )
    planned = comparisons.plan(services, prompt=name, variants=["production"], samples=samples)
    record = comparisons.start(services, planned)
    assert record.status == "completed"
    assert "dataset_runs" not in record.meta
    assert "dataset" not in record.meta


def test_a_langfuse_that_refuses_the_items_leaves_the_run_completed_with_the_reason(
    services: Services, unique: str
) -> None:
    name, dataset = f"ds-gone-{unique}", f"gone-{unique}"
    _prompt(services, name)
    services.datasets.save(dataset, SAMPLES[:2])
    samples = services.datasets.sample_set(dataset)
    planned = comparisons.plan(services, prompt=name, variants=["production"], samples=samples)
    # the items vanish between loading and recording (someone deleted and re-made the dataset)
    planned = type(planned)(**{**planned.__dict__, "dataset_items": {"c1": "no-such-item"}})
    record = comparisons.start(services, planned)
    assert record.status == "completed"
    outcome = record.meta["dataset_runs"]
    assert outcome["names"] == []
    assert "HTTP 404" in outcome["error"]
