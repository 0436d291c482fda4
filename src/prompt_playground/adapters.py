"""Small adapters over the langfuse SDK for datasets, scores and traces (like
``LangfusePromptStore`` for prompts), so pages and the CLI never hold the SDK client.

SDK errors become ``PlaygroundError``\\s here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from langfuse import Langfuse
from pydantic import SecretStr

from prompt_playground.compare_accuracy import ScoreToPost
from prompt_playground.dataset_runs import RunItem
from prompt_playground.datasets import (
    SavedDataset,
    dataset_sample_set,
    list_dataset_names,
    save_samples,
)
from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Sample
from prompt_playground.samples import SampleSet
from prompt_playground.scores import post_scores

TRACE_FIELDS = "core,basic,time,io,model,usage,prompt"


class TraceNotReadyError(PlaygroundError):
    """The trace has no observations yet (its spans may still be on their way)."""


class LangfuseDatasets:
    """Sample sets kept as Langfuse datasets."""

    def __init__(self, client: Langfuse, *, base_url: str) -> None:
        self._lf = client
        self._base_url = base_url

    def names(self) -> list[str]:
        return list_dataset_names(self._lf, base_url=self._base_url)

    def sample_set(self, name: str) -> SampleSet:
        return dataset_sample_set(self._lf, name, base_url=self._base_url)

    def save(
        self, name: str, samples: Sequence[Sample], *, description: str | None = None
    ) -> SavedDataset:
        saved = save_samples(
            self._lf, name, samples, base_url=self._base_url, description=description
        )
        self._lf.flush()
        return saved


class LangfuseScores:
    """Scores on result traces."""

    def __init__(self, client: Langfuse, *, base_url: str) -> None:
        self._lf = client
        self._base_url = base_url

    def post(self, scores: Sequence[ScoreToPost]) -> int:
        return post_scores(self._lf, scores, base_url=self._base_url)


class LangfuseTraces:
    """Read a result's trace back (its observations), waiting briefly for its spans."""

    def __init__(self, client: Langfuse, *, base_url: str) -> None:
        self._lf = client
        self._base_url = base_url

    def url(self, trace_id: str) -> str | None:
        return self._lf.get_trace_url(trace_id=trace_id)

    def observations(self, trace_id: str, *, wait_s: float = 5.0) -> list[Any]:
        """Flush, then read until observations appear (or ``TraceNotReadyError`` after
        ``wait_s``)."""
        self._lf.flush()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                response = self._lf.api.observations.get_many(
                    trace_id=trace_id, fields=TRACE_FIELDS, limit=100
                )
                data = list(response.data)
            except Exception as exc:
                raise PlaygroundError(
                    f"Could not load trace {trace_id} from Langfuse at {self._base_url}: "
                    f"{type(exc).__name__}.",
                    details=str(exc)[:2000],
                ) from exc
            if data:
                return data
            if time.monotonic() >= deadline:
                raise TraceNotReadyError(f"Trace {trace_id} has no observations yet.")
            time.sleep(0.25)


class LangfuseDatasetRuns:
    """Dataset runs over Langfuse's public REST API (``POST /api/public/dataset-run-items``):
    the SDK 5 has no client for them. Items are posted a few at a time on one keep-alive
    connection pool; the first failure stops the rest and says what Langfuse answered."""

    PARALLEL = 8

    def __init__(
        self, *, base_url: str, public_key: str, secret_key: SecretStr, timeout_s: float = 30.0
    ) -> None:
        self._base_url = base_url
        self._auth = (public_key, secret_key)
        self._timeout_s = timeout_s

    def link(self, items: Sequence[RunItem]) -> int:
        """Post every item; returns how many were recorded."""
        if not items:
            return 0
        auth = (self._auth[0], self._auth[1].get_secret_value())
        with (
            httpx.Client(base_url=self._base_url, auth=auth, timeout=self._timeout_s) as client,
            ThreadPoolExecutor(max_workers=self.PARALLEL, thread_name_prefix="dataset-run") as pool,
        ):
            return sum(pool.map(lambda item: self._post(client, item), items))

    def _post(self, client: httpx.Client, item: RunItem) -> int:
        body: dict[str, Any] = {
            "runName": item.run_name,
            "datasetItemId": item.dataset_item_id,
            "traceId": item.trace_id,
            "metadata": item.metadata,
        }
        if item.description:
            body["runDescription"] = item.description
        try:
            response = client.post("/api/public/dataset-run-items", json=body)
        except httpx.HTTPError as exc:
            raise PlaygroundError(
                f"Could not record dataset run '{item.run_name}' in Langfuse at "
                f"{self._base_url}: {type(exc).__name__}."
            ) from exc
        if response.status_code >= 400:
            raise PlaygroundError(
                f"Langfuse refused a run item of dataset run '{item.run_name}' "
                f"(HTTP {response.status_code}).",
                details=response.text[:2000],
            )
        return 1
