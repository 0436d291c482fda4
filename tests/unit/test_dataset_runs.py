"""Which run items a run on a Langfuse dataset becomes: one per variant and sample, linked to
the first repeat's trace, to the item the sample came from, in the run's order."""

from __future__ import annotations

from prompt_playground.dataset_runs import dataset_meta, run_items, run_name
from prompt_playground.datasets import item_id
from prompt_playground.models import Result


def result(sample: str, variant: str, trace: str | None, repeat: int = 1) -> Result:
    return Result(
        run_id="r1",
        sample_id=sample,
        variant=variant,
        prompt_name="p",
        prompt_version=1,
        trace_id=trace,
        repeat=repeat,
    )


def test_a_run_not_on_a_dataset_has_no_run_items() -> None:
    assert run_items("r1", {}, [result("s1", "a", "t1")], prompt_name="p") == []


def test_one_item_per_variant_and_sample_linked_to_the_first_repeat_in_run_order() -> None:
    meta = {
        "dataset": dataset_meta("chats", {"s1": item_id("chats", "s1"), "s2": "foreign-id"}),
        "versions": {"prod": 3},
        "repeats": 2,
    }
    results = [
        result("s2", "prod", "t-s2-prod-2", repeat=2),
        result("s1", "draft:x", "t-s1-draft"),
        result("s2", "prod", "t-s2-prod-1", repeat=1),
        result("s1", "prod", "t-s1-prod"),
        result("s2", "draft:x", None),  # never started: nothing to link
    ]
    items = run_items(
        "r1", meta, results, prompt_name="p", variants=["prod", "draft:x"], sample_ids=["s1", "s2"]
    )
    assert [(i.run_name, i.sample_id, i.trace_id, i.dataset_item_id) for i in items] == [
        (run_name("r1", "prod"), "s1", "t-s1-prod", item_id("chats", "s1")),
        (run_name("r1", "prod"), "s2", "t-s2-prod-1", "foreign-id"),
        (run_name("r1", "draft:x"), "s1", "t-s1-draft", item_id("chats", "s1")),
    ]
    assert items[0].metadata == {
        "run_id": "r1",
        "prompt_name": "p",
        "variant": "prod",
        "prompt_version": 3,
        "repeats": 2,
    }


def test_the_run_keeps_only_item_ids_it_cannot_derive() -> None:
    meta = dataset_meta("chats", {"s1": item_id("chats", "s1"), "s2": "foreign-id"})
    assert meta == {"name": "chats", "items": {"s2": "foreign-id"}}
