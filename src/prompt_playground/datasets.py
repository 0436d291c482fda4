"""Sample sets kept as Langfuse datasets, so a team reuses the same chats across runs and tools.

An item's input holds the sample's variables (and its multi-turn ``messages``), its expected
output the ``expected_<field>`` values. Item ids derive from the dataset name and the sample id,
so saving the same file again updates the items instead of duplicating them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langfuse import Langfuse

from prompt_playground.errors import PlaygroundError, PromptStoreError
from prompt_playground.models import Sample
from prompt_playground.prompts import translate_sdk_errors
from prompt_playground.samples import SampleSet

_NAMESPACE = uuid.UUID("6f0d3c1e-5b0a-4f43-9a55-2d1e0c7b8a90")


@dataclass(frozen=True)
class SavedDataset:
    name: str
    items: int
    skipped: int


def item_id(dataset: str, sample_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{dataset}\x00{sample_id}"))


def save_samples(
    langfuse: Langfuse,
    name: str,
    samples: Sequence[Sample],
    *,
    base_url: str,
    description: str | None = None,
) -> SavedDataset:
    """Create (or update) the dataset ``name`` from samples; rows with errors are not saved."""
    name = name.strip()
    if not name:
        raise PlaygroundError("Give the dataset a name.")
    usable = [s for s in samples if s.error is None]
    with translate_sdk_errors(f"save dataset '{name}'", base_url):
        langfuse.create_dataset(name=name, description=description)
        for sample in usable:
            item_input: dict[str, Any] = {"variables": sample.variables}
            if sample.messages:
                item_input["messages"] = sample.messages
            langfuse.create_dataset_item(
                dataset_name=name,
                id=item_id(name, sample.id),
                input=item_input,
                expected_output=sample.expected or None,
                metadata={"sample_id": sample.id, "row": sample.row},
            )
    return SavedDataset(name=name, items=len(usable), skipped=len(samples) - len(usable))


def load_samples_from_dataset(langfuse: Langfuse, name: str, *, base_url: str) -> list[Sample]:
    """The dataset's active items as samples, in the order they were saved."""
    return [sample for sample, _ in _dataset_samples(langfuse, name, base_url=base_url)]


def _dataset_samples(langfuse: Langfuse, name: str, *, base_url: str) -> list[tuple[Sample, str]]:
    """Each active item as a sample, with the item's id (dataset runs link to it)."""
    with translate_sdk_errors(f"read dataset '{name}'", base_url):
        dataset = langfuse.get_dataset(name)
    samples: list[tuple[Sample, str]] = []
    for position, item in enumerate(dataset.items, start=1):
        data = item.input if isinstance(item.input, dict) else {}
        metadata = item.metadata if isinstance(item.metadata, dict) else {}
        variables = data.get("variables")
        if not isinstance(variables, dict):
            raise PromptStoreError(
                f"Dataset '{name}', item {item.id}: its input has no 'variables' object, so it "
                "was not saved by Prompt Playground. Save samples with `datasets save` first."
            )
        messages = data.get("messages")
        expected = item.expected_output if isinstance(item.expected_output, dict) else {}
        sample = Sample(
            id=str(metadata.get("sample_id") or position),
            row=int(metadata.get("row") or position),
            variables={str(k): str(v) for k, v in variables.items()},
            messages=messages if isinstance(messages, list) else None,
            expected=dict(expected),
        )
        samples.append((sample, str(item.id)))
    return samples


def dataset_sample_set(langfuse: Langfuse, name: str, *, base_url: str) -> SampleSet:
    """A dataset as a ``SampleSet``, so the same pre-flight check applies to it."""
    pairs = _dataset_samples(langfuse, name, base_url=base_url)
    samples = [sample for sample, _ in pairs]
    columns: dict[str, None] = {}
    for sample in samples:
        columns.update(dict.fromkeys(sample.variables))
        if sample.messages:
            columns["messages"] = None
        columns.update(dict.fromkeys(f"expected_{k}" for k in sample.expected))
    return SampleSet(
        filename=f"dataset '{name}'",
        samples=samples,
        columns=list(columns),
        encoding="JSON",
        delimiter=None,
        format="json",
        dataset=name,
        dataset_items={sample.id: item for sample, item in pairs},
    )


def list_dataset_names(langfuse: Langfuse, *, base_url: str, page_size: int = 100) -> list[str]:
    """Every dataset's name in the project, reading all pages."""
    names: list[str] = []
    page = 1
    with translate_sdk_errors("list datasets", base_url):
        while True:
            response = langfuse.api.datasets.list(page=page, limit=page_size)
            names.extend(d.name for d in response.data)
            if not response.data or page >= response.meta.total_pages:
                return names
            page += 1


def sample_set_digest(sample_set: SampleSet) -> bytes:
    """Bytes that identify a sample set's content (a run's samples hash when there is no file)."""
    rows = [[s.id, s.variables, s.messages, s.expected] for s in sample_set.samples]
    return json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str).encode()
