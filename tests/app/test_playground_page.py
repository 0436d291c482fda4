"""Playground page: pick a label, fill the variable, run → typed output and its trace."""

from __future__ import annotations

import json
from pathlib import Path

from prompt_playground.bootstrap import example_samples
from tests.app.helpers import assert_clean, frame_with, open_page


def test_playground_shows_prompt_config_and_schema_fields(app_env: Path) -> None:
    at = open_page("pages/playground.py")
    assert at.selectbox(key="playground.prompt").value == "chat-extract-feedback"
    fields = frame_with(at, "kind")
    assert "sentiment" in list(fields["field"])
    assert at.text_area(key="playground.var.chat_json")


def test_pick_label_run_shows_typed_output_and_trace(app_env: Path) -> None:
    at = open_page("pages/playground.py")
    at.selectbox(key="playground.variant").set_value("staging").run()
    chat = [{"role": "user", "content": "My parcel never arrived and I want a refund."}]
    at.text_area(key="playground.var.chat_json").set_value(json.dumps(chat))
    at.button(key="playground.run").click().run(timeout=90)
    assert_clean(at)
    assert at.session_state["playground.last"]["extraction"]["error"] is None
    output = frame_with(at, "value")
    assert "sentiment" in list(output["field"])
    assert [m.value for m in at.metric if m.label == "Valid"] == ["yes"]
    assert any(m.value.startswith("GENERATION") for m in at.markdown), "trace tree shown"


def test_variables_filled_from_an_uploaded_row(app_env: Path) -> None:
    at = open_page("pages/playground.py")
    at.file_uploader(key="playground.upload").set_value(
        ("chats.csv", example_samples(), "text/csv")
    ).run()
    at.selectbox(key="playground.row").set_value("c03").run()
    assert_clean(at)
    assert "logged into my account" in at.text_area(key="playground.var.chat_json").value


def test_empty_variable_is_refused_before_any_call(app_env: Path) -> None:
    at = open_page("pages/playground.py")
    at.button(key="playground.run").click().run()
    assert_clean(at)
    assert any("Fill in 'chat_json'" in w.value for w in at.warning)
    assert "playground.last" not in at.session_state
