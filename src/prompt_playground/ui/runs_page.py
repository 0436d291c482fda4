"""The Runs page: every comparison run; reopen one on Compare, export it, or delete it.

Playground calls are stored as one-sample runs too; they are hidden by default so the comparison
history stays readable.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from prompt_playground import comparisons, worker
from prompt_playground.bootstrap import Services
from prompt_playground.errors import PlaygroundError
from prompt_playground.export import export_filename
from prompt_playground.runstore import RunRecord
from prompt_playground.ui import keys
from prompt_playground.ui.services import get_services
from prompt_playground.ui.widgets import (
    embedded_model_notice,
    keep_valid,
    show_error,
    sidebar_status,
)

COMPARE_PAGE = "pages/compare.py"
LIVE_REFRESH_S = 2.0  # while a run is going: its progress
WATCH_S = 5.0  # otherwise: a run started by another replica or a CLI job


def render() -> None:
    services = get_services()
    sidebar_status(services)
    st.title("Runs")
    embedded_model_notice(services)
    flash = st.session_state.pop(keys.RUNS_FLASH, None)
    if flash:
        st.success(flash)
    try:
        # Runs whose process died (here, or on a replica silent for long) stop showing as going.
        services.store.mark_interrupted()
        runs = services.store.list_runs()
    except PlaygroundError as exc:
        show_error(exc)
        return
    if not any(r.status == "running" for r in runs):
        _watch(services, tuple((r.id, r.status) for r in runs))
    if not runs:
        st.info("No runs yet. Start one on the Compare page.")
        return
    playground = sum(_is_playground(r) for r in runs)
    hide = st.toggle(
        f"Hide Playground runs ({playground})",
        value=True,
        key=keys.RUNS_HIDE_PLAYGROUND,
        help="Each Run on the Playground page is stored as a one-call run.",
    )
    if hide:
        runs = [r for r in runs if not _is_playground(r)]
    if not runs:
        st.info("Only Playground runs so far. Show them above, or start a comparison on Compare.")
        return
    if any(r.status == "running" for r in runs):
        _live_table(services, hide)
    else:
        st.dataframe(_table(runs), hide_index=True, key="runs.table")
    ids = [r.id for r in runs]
    keep_valid(keys.RUNS_SELECTED, ids)
    run_id = st.selectbox("Run", ids, key=keys.RUNS_SELECTED)
    record = next(r for r in runs if r.id == run_id)
    _actions(services, record)


@st.fragment(run_every=WATCH_S)
def _watch(services: Services, shown: tuple[tuple[str, str], ...]) -> None:
    """Rerun the page when the store's runs differ from the ones shown (a cheap query)."""
    try:
        current = services.store.run_states()
    except PlaygroundError:
        return  # the next full rerun shows the error
    if tuple(current) != shown:
        st.rerun(scope="app")


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_table(services: Services, hide: bool) -> None:
    """The table while a run is going, read from the store every few seconds: progress of runs
    started here, on another replica or by the CLI alike. The whole page once none is going."""
    try:
        runs = services.store.list_runs()
    except PlaygroundError as exc:
        show_error(exc)
        return
    if hide:
        runs = [r for r in runs if not _is_playground(r)]
    if not any(r.status == "running" for r in runs):
        st.rerun(scope="app")
    st.dataframe(_table(runs), hide_index=True, key="runs.table")
    st.caption(f"A run is going: progress refreshes every {LIVE_REFRESH_S:g} s.")


def _is_playground(record: RunRecord) -> bool:
    return record.meta.get("kind") == "playground"


def _table(runs: list[RunRecord]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run": r.id,
                "kind": "Playground" if _is_playground(r) else "batch",
                "status": r.status,
                "prompt": r.prompt_name,
                "variants": ", ".join(r.variants),
                "done": f"{r.done}/{r.total}",
                "errors": r.errors,
                "samples": r.samples_name or "",
                "created": r.created_at,
                "by": r.actor or "",
            }
            for r in runs
        ]
    )


def _actions(services: Services, record: RunRecord) -> None:
    c1, c2, c3 = st.columns(3)
    if c1.button("Reopen in Compare", key=keys.RUNS_REOPEN, type="primary"):
        st.session_state[keys.COMPARE_RUN_ID] = record.id
        st.session_state.pop(keys.COMPARE_INSPECT, None)
        st.switch_page(COMPARE_PAGE)
    with c2:
        fmt = st.selectbox(
            "Export format", ["csv", "parquet", "jsonl"], key=keys.RUNS_EXPORT_FORMAT
        )
        shape = st.radio("Shape", ["long", "wide"], horizontal=True, key="runs.export_shape")

        def data() -> bytes:
            return comparisons.export_run(services, record.id, fmt=fmt, shape=shape)  # type: ignore[arg-type]

        st.download_button(
            "Download",
            data=data,
            file_name=export_filename(record.id, fmt, shape),  # type: ignore[arg-type]
            key="runs.download",
            on_click="ignore",
        )
    with c3:
        live = worker.get_handle(record.id)
        if live is not None and live.running:
            where = "the Playground" if _is_playground(record) else "Compare"
            st.caption(f"This run is still going; cancel it on {where} before deleting it.")
        elif record.status == "running":
            st.caption(
                "This run is still going in another process (another replica or a CLI run);"
                " it can be deleted once it ends."
            )
        elif st.button("Delete run…", key=keys.RUNS_DELETE):
            st.session_state[keys.RUNS_CONFIRM_FOR] = record.id
        if st.session_state.get(keys.RUNS_CONFIRM_FOR) == record.id:
            st.warning(f"Delete {record.id} and its {record.done} results? This cannot be undone.")
            if st.button("Yes, delete", key=keys.RUNS_DELETE_CONFIRM, type="primary"):
                try:
                    services.store.delete_run(record.id)
                except PlaygroundError as exc:
                    show_error(exc)
                    return
                st.session_state.pop(keys.RUNS_CONFIRM_FOR, None)
                if st.session_state.get(keys.COMPARE_RUN_ID) == record.id:
                    st.session_state.pop(keys.COMPARE_RUN_ID, None)
                st.session_state.pop(keys.RUNS_SELECTED, None)
                st.session_state[keys.RUNS_FLASH] = f"Deleted {record.id}."
                st.rerun()
