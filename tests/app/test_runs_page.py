"""Runs page: a stored run is listed, reopens on Compare, and is deleted only after confirming."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from prompt_playground.bootstrap import Services
from prompt_playground.models import Result, Sample
from prompt_playground.runstore import RunRecord, RunStore
from tests.app.helpers import assert_clean, frame_with, open_page


def _insert_run(services: Services) -> str:
    run_id = f"run-apptest-{uuid.uuid4().hex[:6]}"
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    services.store.create_run(
        RunRecord(
            id=run_id,
            prompt_name="chat-extract-feedback",
            variants=["production", "staging"],
            total=4,
            status="completed",
            meta={
                "versions": {"production": 1, "staging": 2},
                "schemas": {"production": schema, "staging": schema},
            },
        ),
        [Sample(id="a", row=1), Sample(id="b", row=2)],
    )
    services.store.add_results(
        [
            Result(run_id, sid, v, "chat-extract-feedback", n, output={"label": out})
            for sid, outs in (("a", ("x", "x")), ("b", ("x", "y")))
            for (v, n), out in zip((("production", 1), ("staging", 2)), outs, strict=True)
        ]
    )
    return run_id


def test_runs_page_reopens_a_run_on_compare(app_env: Path, services: Services) -> None:
    run_id = _insert_run(services)
    at = open_page("pages/runs.py")
    assert run_id in list(frame_with(at, "status")["run"])
    at.selectbox(key="runs.selected").set_value(run_id).run()
    at.button(key="runs.reopen").click().run()
    assert_clean(at)
    assert at.session_state["compare.run_id"] == run_id
    table = at.dataframe(key="compare.table").value
    assert list(table["sample_id"]) == ["a", "b"]
    at.switch_page("pages/compare.py")  # AppTest keeps the page it was asked for
    at.toggle(key="compare.only_diff").set_value(True).run()
    assert list(at.dataframe(key="compare.table").value["sample_id"]) == ["b"]


def test_delete_needs_confirmation(app_env: Path, services: Services) -> None:
    run_id = _insert_run(services)
    at = open_page("pages/runs.py")
    at.selectbox(key="runs.selected").set_value(run_id).run()
    at.button(key="runs.delete").click().run()
    assert_clean(at)
    assert run_id in [r.id for r in services.store.list_runs()], "not deleted before confirming"
    at.button(key="runs.delete_confirm").click().run()
    assert_clean(at)
    assert run_id not in [r.id for r in services.store.list_runs()]
    assert any(f"Deleted {run_id}" in s.value for s in at.success)


def test_playground_runs_are_hidden_until_asked_for_and_marked(
    app_env: Path, services: Services
) -> None:
    batch = _insert_run(services)
    playground = f"run-apptest-play-{uuid.uuid4().hex[:6]}"
    services.store.create_run(
        RunRecord(
            id=playground,
            prompt_name="chat-extract-feedback",
            variants=["staging"],
            total=1,
            status="completed",
            meta={"kind": "playground", "versions": {"staging": 2}},
        ),
        [Sample(id="playground", row=1, variables={"chat_json": "[]"})],
    )
    at = open_page("pages/runs.py")
    listed = frame_with(at, "status")
    assert batch in list(listed["run"])
    assert playground not in list(listed["run"])
    assert playground not in at.selectbox(key="runs.selected").options

    at.toggle(key="runs.hide_playground").set_value(False).run()
    assert_clean(at)
    listed = frame_with(at, "status").set_index("run")
    assert listed.loc[playground, "kind"] == "Playground"
    assert listed.loc[batch, "kind"] == "batch"


def test_a_run_going_on_another_replica_shows_live_and_cannot_be_deleted_here(
    app_env: Path, services: Services
) -> None:
    """Another replica (another host) writes to the same store while this page shows it."""
    replica = RunStore(services.store.path, host="replica-b")
    run_id = f"run-apptest-elsewhere-{uuid.uuid4().hex[:6]}"
    replica.create_run(
        RunRecord(
            id=run_id,
            prompt_name="chat-extract-feedback",
            variants=["production"],
            total=2,
            meta={"pid": 1, "versions": {"production": 1}},  # pid 1 here means nothing there
        ),
        [Sample(id="a", row=1), Sample(id="b", row=2)],
    )
    replica.add_result(Result(run_id, "a", "production", "chat-extract-feedback", 1, output={}))
    try:
        at = open_page("pages/runs.py")
        listed = frame_with(at, "status").set_index("run")
        assert (listed.loc[run_id, "status"], listed.loc[run_id, "done"]) == ("running", "1/2")
        assert any("progress refreshes" in c.value for c in at.caption)
        at.selectbox(key="runs.selected").set_value(run_id).run()
        assert_clean(at)
        assert not _has_button(at, "runs.delete")
        assert any("another process" in c.value for c in at.caption)
    finally:
        replica.finish_run(run_id, "completed")


def _has_button(at: Any, key: str) -> bool:
    return any(b.key == key for b in at.button)
