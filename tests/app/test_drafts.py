"""Drafts on the Playground: editing a version starts a draft kept in the run store (autosaved,
there after a reload), it runs on the first rows of a file, Compare offers it as a variant, and
saving it creates exactly one version — none when that content already is a version."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prompt_playground import worker
from prompt_playground.bootstrap import Services
from prompt_playground.examples import example_prompt
from prompt_playground.ui.services import clear_prompt_cache
from tests.app.helpers import assert_clean, frame_with, open_page, shown

EXTRA = " Keep the summary under ten words."


def _new_prompt(services: Services) -> str:
    """A prompt of its own (v1 production, v2 staging), so saving versions disturbs no test."""
    name = f"drafts-{uuid.uuid4().hex[:8]}"
    for version in example_prompt()["versions"]:
        services.prompts.create_version(
            name,
            type="chat",
            prompt=version["prompt"],
            config=version["config"],
            labels=version["labels"],
        )
    clear_prompt_cache()
    return name


def _open(name: str, choice: str) -> AppTest:
    at = open_page("pages/playground.py")
    at.selectbox(key="playground.prompt").set_value(name).run()
    at.selectbox(key="playground.variant").set_value(choice).run()
    assert_clean(at)
    return at


def _wait(at: AppTest, services: Services, run_id: str) -> None:
    handle = worker.get_handle(run_id)
    assert handle is not None
    assert handle.wait(60)
    at.run()
    assert_clean(at)
    assert services.store.get_run(run_id).status == "completed"


def test_editing_a_version_starts_a_draft_that_survives_a_reload(
    app_env: Path, services: Services
) -> None:
    name = _new_prompt(services)
    versions_before = len(services.prompts.versions(name))
    at = _open(name, "production")
    system = at.text_area(key=f"playground.edit.{name}|production|v1.msg.0")
    system.set_value(system.value + EXTRA).run()
    assert_clean(at)
    assert at.session_state["playground.variant"] == "draft:production-edit"
    draft = services.store.get_draft(name, "production-edit")
    assert draft.base_version == 1
    assert isinstance(draft.prompt, list)
    assert draft.prompt[0]["content"].endswith(EXTRA)
    assert len(services.prompts.versions(name)) == versions_before, "nothing sent to Langfuse"

    # A later edit updates the same draft (autosave); the diff shows the change.
    config_key = f"playground.edit.{name}|draft:production-edit.config"
    config = json.loads(at.text_area(key=config_key).value)
    at.text_area(key=config_key).set_value(json.dumps({**config, "temperature": 0.2})).run()
    assert_clean(at)
    assert services.store.get_draft(name, "production-edit").config["temperature"] == 0.2
    assert any(c.language == "diff" and EXTRA.strip() in c.value for c in at.code)

    reloaded = _open(name, "draft:production-edit")
    text = reloaded.text_area(key=f"playground.edit.{name}|draft:production-edit.msg.0").value
    assert text.endswith(EXTRA)
    assert len(services.store.drafts(name)) == 1


def test_a_schema_error_is_shown_and_nothing_runs(app_env: Path, services: Services) -> None:
    name = _new_prompt(services)
    at = _open(name, "staging")
    runs_before = len(services.store.list_runs())
    bad = {"type": "object", "properties": {"x": {"type": "strnig"}}}
    at.text_area(key=f"playground.edit.{name}|staging|v2.schema").set_value(json.dumps(bad)).run()
    assert not at.exception
    assert any("cannot run" in e.value for e in at.error), [e.value for e in at.error]
    at.text_area(key="playground.var.chat_json").set_value('[{"role": "user", "content": "hi"}]')
    at.button(key="playground.run").click().run()
    assert not at.exception
    assert any("Nothing was sent" in e.value for e in at.error)
    assert len(services.store.list_runs()) == runs_before


def test_a_draft_runs_on_the_first_rows_then_saves_as_one_version_once(
    app_env: Path, services: Services
) -> None:
    name = _new_prompt(services)
    at = _open(name, "production")
    system = at.text_area(key=f"playground.edit.{name}|production|v1.msg.0")
    system.set_value(system.value + EXTRA).run()
    draft = services.store.get_draft(name, "production-edit")

    at.radio(key="playground.mode").set_value("First rows of a samples file").run()
    at.button(key="playground.use_sample").click().run()
    at.number_input(key="playground.first_n").set_value(3).run()
    at.button(key="playground.run").click().run()
    assert_clean(at)
    run_id = at.session_state["playground.run_id"]
    _wait(at, services, run_id)
    record = services.store.get_run(run_id)
    assert (record.variants, record.total, record.done) == (["draft:production-edit"], 3, 3)
    ran = record.meta["drafts"]["draft:production-edit"]
    assert ran["content_hash"] == draft.content_hash
    assert ran["prompt"] == draft.prompt, "the run keeps the draft's full content"
    assert {r.prompt_version for r in services.store.results(run_id)} == {None}
    outputs = frame_with(at, "error")
    assert outputs["sample_id"].tolist() == ["c01", "c02", "c03"]

    before = len(services.prompts.versions(name))
    at.text_input(key="playground.save_commit").input("Shorter summaries")
    at.button(key="playground.save").click().run()
    assert_clean(at)
    versions = services.prompts.versions(name)
    assert len(versions) == before + 1
    assert versions[0].commit_message == "Shorter summaries"
    assert versions[0].prompt == draft.prompt
    assert any(f"as v{versions[0].version}" in s.value for s in at.success)
    linked = services.store.get_run(run_id).meta["drafts"]["draft:production-edit"]
    assert linked["saved_version"] == versions[0].version

    at.button(key="playground.save").click().run()
    assert_clean(at)
    assert len(services.prompts.versions(name)) == before + 1, "saving again creates none"
    assert any("No new version" in s.value for s in at.success)


def test_compare_offers_drafts_as_variants(app_env: Path, services: Services) -> None:
    name = _new_prompt(services)
    at = _open(name, "production")
    system = at.text_area(key=f"playground.edit.{name}|production|v1.msg.0")
    system.set_value(system.value + EXTRA).run()

    at.switch_page("pages/compare.py").run()
    at.selectbox(key="compare.prompt").set_value(name).run()
    at.button(key="compare.use_sample").click().run()
    assert "draft:production-edit" in at.multiselect(key="compare.variants").options
    at.multiselect(key="compare.variants").set_value(["production", "draft:production-edit"])
    at.run()
    assert_clean(at)
    at.button(key="compare.run").click().run()
    assert_clean(at)
    run_id = at.session_state["compare.run_id"]
    _wait(at, services, run_id)
    table = at.dataframe(key="compare.table").value
    assert "sentiment [draft:production-edit]" in table.columns
    assert any("draft:production-edit (unsaved)" in shown(c.value) for c in at.caption)


def test_a_draft_can_be_renamed_and_a_bad_name_is_refused(
    app_env: Path, services: Services
) -> None:
    name = _new_prompt(services)
    at = _open(name, "production")
    system = at.text_area(key=f"playground.edit.{name}|production|v1.msg.0")
    system.set_value(system.value + EXTRA).run()
    rename = f"playground.rename.{name}|draft:production-edit"
    at.text_input(key=rename).input("has space").run()
    assert not at.exception
    assert any("cannot name a draft" in e.value for e in at.error)
    assert [d.name for d in services.store.drafts(name)] == ["production-edit"]

    at.text_input(key=rename).input("terse").run()
    assert_clean(at)
    assert at.session_state["playground.variant"] == "draft:terse"
    assert [d.name for d in services.store.drafts(name)] == ["terse"]
    assert services.store.get_draft(name, "terse").prompt[0]["content"].endswith(EXTRA)
