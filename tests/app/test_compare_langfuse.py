"""Compare page ↔ Langfuse: samples saved as and loaded from datasets; accuracy posted as scores."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prompt_playground import worker
from prompt_playground.bootstrap import Services
from tests.app.helpers import assert_clean, open_page


def _run_to_the_end(at: AppTest, services: Services) -> str:
    at.button(key="compare.run").click().run()
    assert_clean(at)
    run_id: str = at.session_state["compare.run_id"]
    handle = worker.get_handle(run_id)
    assert handle is not None
    assert handle.wait(60)
    at.run()
    assert_clean(at)
    assert services.store.get_run(run_id).status == "completed"
    return run_id


def test_bundled_samples_saved_as_a_dataset_then_compared_from_it(
    app_env: Path, services: Services, unique: str
) -> None:
    name = f"app-samples-{unique}"
    at = open_page("pages/compare.py")
    assert "compare.save_name" not in [t.key for t in at.text_input], "no file, no save form"
    at.button(key="compare.use_sample").click().run()
    assert_clean(at)
    assert at.text_input(key="compare.save_name").value == "sample_chats", "prefilled from file"
    at.text_input(key="compare.save_name").set_value(name)
    at.button(key="compare.save_dataset").click().run()
    assert_clean(at)
    assert any(f"Saved 21 items to dataset '{name}'" in s.value for s in at.success)
    services.langfuse.flush()
    assert len(services.langfuse.get_dataset(name).items) == 21

    at.selectbox(key="compare.dataset").set_value(name).run()
    at.button(key="compare.load_dataset").click().run()
    assert_clean(at)
    assert at.session_state["compare.dataset_set"].filename == f"dataset '{name}'"
    assert any("Pre-flight OK: 21 of 21" in s.value for s in at.success)
    assert "compare.save_name" not in [t.key for t in at.text_input], "a dataset is no file"
    run_id = _run_to_the_end(at, services)
    assert services.store.get_run(run_id).samples_name == f"dataset '{name}'"
    table = at.dataframe(key="compare.table").value
    assert len(table) == 21
    assert "sentiment [staging]" in table.columns


def test_saving_a_dataset_without_a_name_is_refused(app_env: Path) -> None:
    at = open_page("pages/compare.py")
    at.button(key="compare.use_sample").click().run()
    at.text_input(key="compare.save_name").set_value("  ")
    at.button(key="compare.save_dataset").click().run()
    assert not at.exception
    assert any("Give the dataset a name" in e.value for e in at.error)


def test_accuracy_posted_as_scores_on_the_result_traces(app_env: Path, services: Services) -> None:
    at = open_page("pages/compare.py")
    at.button(key="compare.use_sample").click().run()
    run_id = _run_to_the_end(at, services)
    button = at.button(key="compare.post_scores")
    assert button.label == "Post accuracy to Langfuse as scores"
    button.click().run()
    assert_clean(at)
    posted = services.store.get_run(run_id).meta["scores_posted"]["count"]
    assert posted > 0
    assert any(f"Posted {posted} scores" in s.value for s in at.success)
    assert at.button(key="compare.post_scores").label == f"Scores posted ({posted}) — post again"
    assert services.store.get_run(run_id).meta["schemas"], "the run's meta is kept"

    trace_id = next(r.trace_id for r in services.store.results(run_id) if r.ok and r.expected)
    assert trace_id
    services.langfuse.flush()
    names: list[str] = []
    deadline = time.monotonic() + 10
    while "accuracy.sentiment" not in names and time.monotonic() < deadline:
        time.sleep(0.2)
        names = [s.name for s in services.langfuse.api.scores.get_many(trace_id=trace_id).data]
    assert "accuracy.sentiment" in names
    assert "accuracy" in names
