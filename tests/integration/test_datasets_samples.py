"""Sample sets kept as Langfuse datasets: saved, updated in place, read back as samples."""

from __future__ import annotations

import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.datasets import dataset_sample_set, load_samples_from_dataset, save_samples
from prompt_playground.errors import PlaygroundError, PromptStoreError
from prompt_playground.examples import example_samples_bytes
from prompt_playground.models import Sample
from prompt_playground.samples import load_samples, preflight


def test_saved_samples_read_back_equal_and_resaving_adds_no_items(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str
) -> None:
    name = f"chats/{unique}"
    samples = load_samples(example_samples_bytes(), "sample_chats.csv").samples
    saved = save_samples(langfuse, name, samples, base_url=lf_server.base_url)
    save_samples(langfuse, name, samples, base_url=lf_server.base_url)

    assert (saved.items, saved.skipped) == (len(samples), 0)
    assert len(langfuse.get_dataset(name).items) == len(samples)
    back = load_samples_from_dataset(langfuse, name, base_url=lf_server.base_url)
    assert sorted((s.id, s.row) for s in back) == sorted((s.id, s.row) for s in samples)
    by_id = {s.id: s for s in back}
    for sample in samples:
        assert by_id[sample.id].variables == sample.variables
        assert by_id[sample.id].expected == sample.expected


TURN = {"role": "user", "content": "x"}


def test_rows_with_errors_are_not_saved_but_counted(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str
) -> None:
    samples = [
        Sample(
            id="ok", row=1, variables={"text": "hi"}, messages=[{"role": "user", "content": "x"}]
        ),
        Sample(id="bad", row=2, error="row 2: ragged"),
    ]
    saved = save_samples(langfuse, f"mixed-{unique}", samples, base_url=lf_server.base_url)
    assert (saved.items, saved.skipped) == (1, 1)
    (back,) = load_samples_from_dataset(langfuse, f"mixed-{unique}", base_url=lf_server.base_url)
    assert back.messages == [TURN]


def test_a_dataset_passes_the_same_preflight_as_its_file(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str
) -> None:
    samples = load_samples(example_samples_bytes(), "sample_chats.csv").samples
    save_samples(langfuse, f"pre-{unique}", samples, base_url=lf_server.base_url)
    sample_set = dataset_sample_set(langfuse, f"pre-{unique}", base_url=lf_server.base_url)
    assert preflight(sample_set, variables=["chat_json"]).ok
    missing = preflight(sample_set, variables=["ticket"])
    assert not missing.ok
    assert "ticket" in missing.summary()


def test_a_dataset_not_saved_by_the_playground_is_refused_with_a_reason(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str
) -> None:
    langfuse.create_dataset(name=f"foreign-{unique}")
    langfuse.create_dataset_item(dataset_name=f"foreign-{unique}", input="just a string")
    with pytest.raises(PromptStoreError, match="no 'variables' object"):
        load_samples_from_dataset(langfuse, f"foreign-{unique}", base_url=lf_server.base_url)


def test_a_blank_name_is_refused(langfuse: Langfuse, lf_server: LocalLangfuseServer) -> None:
    with pytest.raises(PlaygroundError, match="name"):
        save_samples(langfuse, "  ", [], base_url=lf_server.base_url)
