"""Versions & Promote: diff, a new version validated before saving, promotion through the
dialog (protected label typed to confirm), label history and rollback."""

from __future__ import annotations

import json
from pathlib import Path

from prompt_playground.bootstrap import Services
from tests.app.helpers import assert_clean, frame_with, open_page, shown

PROMPT = "chat-extract-feedback"


def _holder(services: Services, label: str) -> int:
    return int(services.langfuse.get_prompt(PROMPT, label=label, cache_ttl_seconds=0).version)


def test_versions_page_lists_versions_and_diffs(app_env: Path) -> None:
    at = open_page("pages/versions.py")
    table = frame_with(at, "commit message")
    assert {1, 2} <= set(table["version"])
    assert any(c.language == "diff" for c in at.code)


def test_invalid_schema_is_refused_before_saving(app_env: Path, services: Services) -> None:
    before = len(services.prompts.versions(PROMPT))
    at = open_page("pages/versions.py")
    at.text_area(key="versions.edit_schema").set_value(
        json.dumps({"type": "object", "properties": {"x": {"type": "strnig"}}})
    )
    at.button(key="versions.save").click().run()
    assert not at.exception
    assert any("Not saved" in e.value for e in at.error)
    assert len(services.prompts.versions(PROMPT)) == before


def test_save_then_promote_protected_label_moves_it_and_rolls_back(
    app_env: Path, services: Services
) -> None:
    at = open_page("pages/versions.py")
    at.text_input(key="versions.edit_commit").set_value("app test: new version")
    at.button(key="versions.save").click().run()
    assert_clean(at)
    newest = max(v.version for v in services.prompts.versions(PROMPT))
    assert any(f"v{newest}" in s.value for s in at.success)
    previous = _holder(services, "production")

    at.selectbox(key="versions.promote_version").set_value(newest)
    at.text_input(key="versions.promote_label").set_value("production")
    at.button(key="versions.promote").click().run()
    assert_clean(at)
    confirm = at.button(key="versions.promote_confirm")
    assert confirm.disabled, "a protected label needs the label typed first"
    # earlier tests may have left a comparison that fails the gate: a reason covers that
    at.text_area(key="versions.promote_reason").set_value("app test")
    at.text_input(key="versions.promote_confirm_text").set_value("production").run()
    assert not at.button(key="versions.promote_confirm").disabled
    at.button(key="versions.promote_confirm").click().run()
    assert_clean(at)
    assert _holder(services, "production") == newest
    assert any(f"v{previous} → v{newest}" in s.value for s in at.success)

    rollback = f"Roll back to v{previous}"
    button = next(b for b in at.button if b.label == rollback)
    button.click().run()
    at.text_area(key="versions.promote_reason").set_value("app test: roll back")
    at.text_input(key="versions.promote_confirm_text").set_value("production").run()
    at.button(key="versions.promote_confirm").click().run()
    assert_clean(at)
    assert _holder(services, "production") == previous


def test_saving_an_unchanged_version_creates_none(app_env: Path, services: Services) -> None:
    before = len(services.prompts.versions(PROMPT))
    at = open_page("pages/versions.py")
    at.button(key="versions.save").click().run()
    assert_clean(at)
    assert len(services.prompts.versions(PROMPT)) == before
    assert any("already holds exactly this content" in s.value for s in at.success)


def _record_comparison(services: Services, baseline: int, candidate: int) -> str:
    """A completed comparison where the candidate version is wrong on every sample."""
    from prompt_playground.models import Result, Sample
    from prompt_playground.runstore import RunRecord

    schema = {"type": "object", "properties": {"sentiment": {"type": "string"}}}
    keys = {"base": baseline, "cand": candidate}
    samples = [Sample(id=f"s{i}", row=i + 1, expected={"sentiment": "positive"}) for i in range(25)]
    run_id = f"run-evidence-{baseline}-{candidate}"
    services.store.create_run(
        RunRecord(
            id=run_id,
            prompt_name=PROMPT,
            variants=list(keys),
            total=50,
            meta={"versions": keys, "schemas": {k: schema for k in keys}},
        ),
        samples,
    )
    services.store.add_results(
        [
            Result(
                run_id=run_id,
                sample_id=s.id,
                variant=key,
                prompt_name=PROMPT,
                prompt_version=version,
                output={"sentiment": "positive" if key == "base" else "negative"},
                attempts=1,
                expected={"sentiment": "positive"},
            )
            for s in samples
            for key, version in keys.items()
        ]
    )
    services.store.finish_run(run_id, "completed")
    return run_id


def test_a_failing_gate_blocks_a_protected_label_until_a_reason_is_given(
    app_env: Path, services: Services
) -> None:
    holder = _holder(services, "production")
    candidate = max(v.version for v in services.prompts.versions(PROMPT) if v.version != holder)
    run_id = _record_comparison(services, holder, candidate)
    at = open_page("pages/versions.py")
    at.selectbox(key="versions.promote_version").set_value(candidate)
    at.text_input(key="versions.promote_label").set_value("production")
    at.button(key="versions.promote").click().run()
    assert_clean(at)
    assert any("Promotion gate FAILS" in w.value and run_id in shown(w.value) for w in at.warning)
    assert any("no_field_worse" in m.value for m in at.markdown)
    at.text_input(key="versions.promote_confirm_text").set_value("production").run()
    assert at.button(key="versions.promote_confirm").disabled, "a failing gate needs a reason"
    at.text_area(key="versions.promote_reason").set_value("hotfix approved by Ana").run()
    assert not at.button(key="versions.promote_confirm").disabled
    at.button(key="versions.promote_confirm").click().run()
    assert_clean(at)
    assert _holder(services, "production") == candidate
    [move, *_] = services.history.moves(PROMPT)
    assert move.note == f"gate FAILED on run {run_id}; override: hotfix approved by Ana"
