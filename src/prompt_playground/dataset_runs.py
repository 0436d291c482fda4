"""A comparison on a Langfuse dataset, recorded in Langfuse itself: each variant becomes a
dataset run (named after the run and the variant) with one run item per sample, linked to that
sample's trace, so the comparison shows in Langfuse's own dataset-run views.

The langfuse SDK 5 has no dataset-run client (its ``run_experiment`` derives runs from its own
spans), so the adapter posts ``POST /api/public/dataset-run-items`` from Langfuse's public API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prompt_playground.datasets import item_id
from prompt_playground.models import Result


@dataclass(frozen=True)
class RunItem:
    """One sample's trace in one variant's dataset run."""

    run_name: str
    dataset_item_id: str
    trace_id: str
    variant: str
    sample_id: str
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class DatasetRunSink(Protocol):
    """Where run items go (``LangfuseDatasetRuns``)."""

    def link(self, items: Sequence[RunItem]) -> int: ...


def run_name(run_id: str, variant: str) -> str:
    """A variant's dataset-run name: ``run-20261201-101500-ab12cd · production``."""
    return f"{run_id} · {variant}"


def dataset_meta(dataset: str, items: Mapping[str, str]) -> dict[str, Any]:
    """What a run keeps to link its samples to the dataset's items: the dataset's name, and the
    item ids that differ from the ones ``datasets save`` derives (usually none, so the run's
    meta stays small for 10,000 samples)."""
    return {
        "name": dataset,
        "items": {sid: iid for sid, iid in items.items() if iid != item_id(dataset, sid)},
    }


def run_items(
    run_id: str,
    meta: Mapping[str, Any],
    results: Iterable[Result],
    *,
    prompt_name: str,
    variants: Sequence[str] = (),
    sample_ids: Sequence[str] = (),
) -> list[RunItem]:
    """One run item per (variant, sample): the first repeat that has a trace, in the run's
    variant order, then the samples' order. Results without a trace (a call that never
    started) have nothing to link and are left out."""
    dataset = meta.get("dataset")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
        return []
    name = str(dataset["name"])
    overrides: Mapping[str, Any] = _mapping(dataset.get("items"))
    versions: Mapping[str, Any] = _mapping(meta.get("versions"))
    repeats = int(meta.get("repeats") or 1)
    chosen: dict[tuple[str, str], Result] = {}
    for result in results:
        if result.trace_id is None:
            continue
        key = (result.variant, result.sample_id)
        if key not in chosen or result.repeat < chosen[key].repeat:
            chosen[key] = result
    items = []
    for (variant, sample_id), result in chosen.items():
        items.append(
            RunItem(
                run_name=run_name(run_id, variant),
                dataset_item_id=str(overrides.get(sample_id) or item_id(name, sample_id)),
                trace_id=str(result.trace_id),
                variant=variant,
                sample_id=sample_id,
                description=f"Prompt Playground: {prompt_name} {variant} in run {run_id}",
                metadata={
                    "run_id": run_id,
                    "prompt_name": prompt_name,
                    "variant": variant,
                    "prompt_version": versions.get(variant),
                    "repeats": repeats,
                },
            )
        )
    rank = {v: i for i, v in enumerate(variants)}
    position = {s: i for i, s in enumerate(sample_ids)}
    items.sort(
        key=lambda it: (rank.get(it.variant, len(rank)), position.get(it.sample_id, len(position)))
    )
    return items


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
