"""Playground page: pick a label, fill the variable, run in the background → typed output, trace."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prompt_playground import worker
from prompt_playground.bootstrap import Services, example_samples
from tests.app.helpers import assert_clean, frame_with, open_page, shown
from tests.support.fake_openai import FakeOpenAIServer

CHAT = [{"role": "user", "content": "My parcel never arrived and I want a refund."}]


def _click_run(at: AppTest) -> str:
    at.selectbox(key="playground.variant").set_value("staging").run()
    at.text_area(key="playground.var.chat_json").set_value(json.dumps(CHAT))
    at.button(key="playground.run").click().run()
    assert_clean(at)
    run_id: str = at.session_state["playground.run_id"]
    return run_id


def _poll_until_finished(at: AppTest, run_id: str, services: Services) -> None:
    """What the page's fragment does: look in the run store again until the run has ended."""
    handle = worker.get_handle(run_id)
    assert handle is not None, "the call runs in the background worker"
    for _ in range(120):
        if handle.wait(0.5):
            break
        at.run()
        assert_clean(at)
    assert services.store.get_run(run_id).status != "running"
    at.run()
    assert_clean(at)


def test_playground_shows_prompt_config_and_schema_fields(app_env: Path) -> None:
    at = open_page("pages/playground.py")
    assert at.selectbox(key="playground.prompt").value == "chat-extract-feedback"
    fields = frame_with(at, "kind")
    assert "sentiment" in list(fields["field"])
    assert at.text_area(key="playground.var.chat_json")


def test_pick_label_run_shows_typed_output_and_trace(app_env: Path, services: Services) -> None:
    at = open_page("pages/playground.py")
    run_id = _click_run(at)
    _poll_until_finished(at, run_id, services)

    record = services.store.get_run(run_id)
    assert record.status == "completed"
    assert record.meta["kind"] == "playground"
    assert (record.variants, record.total, record.done) == (["staging"], 1, 1)
    [result] = services.store.results(run_id)
    assert result.error is None
    output = frame_with(at, "value")
    assert "sentiment" in list(output["field"])
    assert [m.value for m in at.metric if m.label == "Valid"] == ["yes"]
    assert [m.value for m in at.metric if m.label == "Attempts"] == ["1"]
    assert [m.label for m in at.metric if m.label == "Cost"] == ["Cost"]
    assert "playground.cancel" not in [b.key for b in at.button], "no Cancel once answered"
    assert not at.button(key="playground.run").disabled
    assert any(
        shown(m.value).startswith("GENERATION **playground · chat-extract-feedback v2**")
        for m in at.markdown
    ), "trace tree shown, named as the prompt that was tried"


def test_a_running_call_shows_running_and_can_be_cancelled(
    app_env: Path, services: Services, fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.state.latency_ms = 10_000  # the model is slow; the page must not wait for it
    try:
        at = open_page("pages/playground.py")
        run_id = _click_run(at)
        assert services.store.get_run(run_id).status == "running"
        assert any(i.value.startswith("Running…") for i in at.info)
        assert at.button(key="playground.run").disabled, "one call at a time"
        at.button(key="playground.cancel").click().run()
        assert_clean(at)
        _poll_until_finished(at, run_id, services)
    finally:
        fake_llm.state.latency_ms = 0
    record = services.store.get_run(run_id)
    assert record.status == "cancelled"
    assert services.store.results(run_id) == [], "the call in flight was stopped, not awaited"
    assert any("Cancelled before the model answered" in i.value for i in at.info)
    assert "playground.cancel" not in [b.key for b in at.button]
    assert not at.button(key="playground.run").disabled


def test_variables_filled_from_an_uploaded_row(app_env: Path) -> None:
    at = open_page("pages/playground.py")
    at.file_uploader(key="playground.upload").set_value(
        ("chats.csv", example_samples(), "text/csv")
    ).run()
    at.selectbox(key="playground.row").set_value("c03").run()
    assert_clean(at)
    assert "logged into my account" in at.text_area(key="playground.var.chat_json").value


def test_empty_variable_is_refused_before_any_call(app_env: Path, services: Services) -> None:
    runs_before = len(services.store.list_runs())
    at = open_page("pages/playground.py")
    at.button(key="playground.run").click().run()
    assert_clean(at)
    assert any("Fill in 'chat_json'" in shown(w.value) for w in at.warning)
    assert "playground.run_id" not in at.session_state
    assert len(services.store.list_runs()) == runs_before, "no run was recorded"
