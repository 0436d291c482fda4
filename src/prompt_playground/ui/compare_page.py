"""The Compare page: samples × two or more prompt variants, run in the background, side by side."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import PurePath
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from prompt_playground import comparisons, worker
from prompt_playground.bootstrap import Services, example_samples
from prompt_playground.compare import accuracy_scores
from prompt_playground.datasets import sample_set_digest
from prompt_playground.errors import PlaygroundError
from prompt_playground.export import export_filename
from prompt_playground.runner import file_hash
from prompt_playground.runstore import RunRecord
from prompt_playground.samples import SampleSet, preflight
from prompt_playground.schema import response_model_for
from prompt_playground.statistics import compare_pair, format_statistics
from prompt_playground.ui import keys
from prompt_playground.ui import services as svc
from prompt_playground.ui.identity import current_actor
from prompt_playground.ui.run_view import (
    RunView,
    build_view,
    elapsed_s,
    error_columns,
    field_columns,
)
from prompt_playground.ui.services import get_services
from prompt_playground.ui.widgets import (
    cached_variant,
    concurrency_cap_note,
    embedded_model_notice,
    keep_valid,
    plain,
    prompt_and_variants,
    show_error,
    sidebar_status,
    trace_panel,
)

PAGE_ROWS = 200
HIGHLIGHT = "background-color: #ffe08a; color: #000"
UNSTABLE = "background-color: #f4b6b6; color: #000; font-style: italic"
NO_COLUMN = "(not mapped)"


def render() -> None:
    services = get_services()
    sidebar_status(services)
    st.title("Compare prompt versions")
    embedded_model_notice(services)
    run_id: str | None = st.session_state.get(keys.COMPARE_RUN_ID)
    with st.expander("Set up a comparison", expanded=run_id is None):
        _setup(services)
    if run_id:
        _run_section(services, run_id)


# -- setup ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where the current samples come from: a file (uploaded or bundled) or a Langfuse dataset."""

    name: str  # recorded as the run's samples name
    data: bytes  # the run's samples hash is computed from these
    dataset: SampleSet | None = None  # already parsed when it came from a dataset

    @property
    def is_file(self) -> bool:
        return self.dataset is None


@dataclass(frozen=True)
class _Request:
    """What the set-up widgets chose: everything the estimate and the Run button plan from."""

    name: str
    chosen: list[str]
    sample_set: SampleSet
    source: _Source
    mapping: dict[str, str]
    concurrency: int
    repeats: int

    @cached_property
    def samples_hash(self) -> str:
        return file_hash(self.source.data)

    @property
    def inputs(self) -> tuple[Any, ...]:
        """A hashable fingerprint: the estimate is computed again when it changes."""
        return (
            self.name,
            tuple(self.chosen),
            self.samples_hash,
            tuple(sorted(self.mapping.items())),
            self.concurrency,
            self.repeats,
        )

    def plan(self, services: Services) -> comparisons.Plan:
        return comparisons.plan(
            services,
            prompt=self.name,
            variants=self.chosen,
            samples=self.sample_set,
            samples_hash=self.samples_hash,
            mapping=self.mapping,
            concurrency=self.concurrency,
            repeats=self.repeats,
        )


def _samples_source(services: Services) -> _Source | None:
    uploaded = st.file_uploader(
        "Samples file (CSV or JSONL)",
        type=["csv", "tsv", "txt", "jsonl", "ndjson", "json"],
        key=keys.COMPARE_UPLOAD,
        help="One row per sample; a column per prompt variable; expected_<field> columns are "
        "scored; a 'messages' column holds multi-turn chats.",
    )
    col_bundled, col_dataset = st.columns(2, vertical_alignment="bottom")
    with col_bundled:
        if st.button("Use the bundled sample chats", key=keys.COMPARE_USE_SAMPLE):
            st.session_state[keys.COMPARE_SAMPLE_BYTES] = example_samples()
            st.session_state[keys.COMPARE_SAMPLE_NAME] = "sample_chats.csv"
            st.session_state.pop(keys.COMPARE_DATASET_SET, None)
    with col_dataset:
        _dataset_picker(services)
    dataset: SampleSet | None = st.session_state.get(keys.COMPARE_DATASET_SET)
    if uploaded is not None:
        if dataset is not None or st.session_state.get(keys.COMPARE_SAMPLE_BYTES):
            st.caption("Using the uploaded file; remove it to use the samples chosen below it.")
        return _Source(uploaded.name, uploaded.getvalue())
    if dataset is not None:
        return _Source(dataset.filename, sample_set_digest(dataset), dataset)
    data = st.session_state.get(keys.COMPARE_SAMPLE_BYTES)
    if data:
        return _Source(st.session_state.get(keys.COMPARE_SAMPLE_NAME, "samples.csv"), data)
    return None


def _dataset_picker(services: Services) -> None:
    """The third source: a dataset saved in Langfuse, loaded on a click."""
    try:
        names = svc.dataset_names(services, svc.cache_key(services))
    except PlaygroundError as exc:
        show_error(exc)
        return
    if not names:
        st.caption("No Langfuse datasets yet: load a file, then save it as one below.")
        return
    keep_valid(keys.COMPARE_DATASET, names)
    name: str | None = st.selectbox(
        "Langfuse dataset",
        names,
        index=None,
        key=keys.COMPARE_DATASET,
        placeholder="Choose a dataset",
    )
    clicked = st.button(
        "Use a Langfuse dataset", key=keys.COMPARE_LOAD_DATASET, disabled=name is None
    )
    if clicked and name is not None:
        try:
            with st.spinner(f"Reading dataset '{plain(name)}'…"):
                sample_set = services.datasets.sample_set(name)
        except PlaygroundError as exc:
            show_error(exc)
            return
        st.session_state[keys.COMPARE_DATASET_SET] = sample_set
        st.session_state.pop(keys.COMPARE_SAMPLE_BYTES, None)


def _save_as_dataset(services: Services, source: _Source, sample_set: SampleSet) -> None:
    """A small form that keeps the loaded file's samples as a Langfuse dataset."""
    if st.session_state.get(keys.COMPARE_SAVE_FOR) != source.name:
        st.session_state[keys.COMPARE_SAVE_FOR] = source.name
        st.session_state[keys.COMPARE_SAVE_NAME] = PurePath(source.name).stem
    flash = st.session_state.pop(keys.COMPARE_SAVE_FLASH, None)
    if flash:
        st.success(flash, icon=":material/dataset:")
    with st.form(keys.COMPARE_SAVE_FORM):
        st.markdown("**Save these samples as a Langfuse dataset**")
        name = st.text_input(
            "Dataset name",
            key=keys.COMPARE_SAVE_NAME,
            help="Saving under the same name again updates its items instead of duplicating them.",
        )
        submitted = st.form_submit_button("Save", key=keys.COMPARE_SAVE_DATASET)
    if not submitted:
        return
    try:
        with st.spinner("Saving the dataset…"):
            saved = services.datasets.save(
                name,
                sample_set.samples,
                description=f"Samples from {source.name}, saved by Prompt Playground.",
            )
    except PlaygroundError as exc:
        show_error(exc, prefix="The dataset was not saved.")
        return
    skipped = f"; {saved.skipped} rows with errors were not saved" if saved.skipped else ""
    st.session_state[keys.COMPARE_SAVE_FLASH] = (
        f"Saved {saved.items} items to dataset '{saved.name}'{skipped}."
    )
    svc.dataset_names.clear()
    st.rerun()


def _preview(sample_set: SampleSet) -> None:
    rows = [
        {"id": s.id, **s.variables, **{f"expected_{k}": v for k, v in s.expected.items()}}
        | ({"error": s.error} if s.error else {})
        for s in sample_set.samples[:20]
    ]
    st.caption(plain(f"{sample_set.filename}: {sample_set.describe()}"))
    frame = pd.DataFrame(rows).map(lambda v: v if isinstance(v, str) or v is None else str(v))
    st.dataframe(frame, hide_index=True, key="compare.preview", height=200)


def _setup(services: Services) -> None:
    """Samples source, variant pickers, repeats and concurrency, pre-flight, then Run."""
    source, sample_set = _samples_step(services)
    picked = _variants_step(services)
    if picked is None:
        return
    name, chosen = picked
    concurrency, repeats = _run_options_step(services)
    if sample_set is None or source is None:
        st.info(
            "Upload a samples file, use the bundled sample chats or a Langfuse dataset, "
            "to run a comparison."
        )
        return
    if len(chosen) < 2:
        st.info("Choose at least two labels or versions to compare.")
        return
    mapping, ready = _preflight_step(services, name, chosen, sample_set, repeats)
    request = _Request(name, chosen, sample_set, source, mapping, concurrency, repeats)
    _run_step(services, request, ready=ready)


def _samples_step(services: Services) -> tuple[_Source | None, SampleSet | None]:
    """The samples source, parsed and previewed; a file can be saved as a Langfuse dataset."""
    source = _samples_source(services)
    if source is None:
        return None, None
    sample_set: SampleSet | None = None
    try:
        sample_set = source.dataset or svc.load_samples_cached(services, source.data, source.name)
    except PlaygroundError as exc:
        show_error(exc)
    if sample_set is not None:
        _preview(sample_set)
        if source.is_file:
            _save_as_dataset(services, source, sample_set)
    return source, sample_set


def _variants_step(services: Services) -> tuple[str, list[str]] | None:
    """The prompt and the labels / versions / drafts to compare (production and staging first)."""
    picked = prompt_and_variants(services, keys.COMPARE_PROMPT, drafts=True)
    if picked is None:
        return None
    name, options = picked
    defaults = [o for o in ("production", "staging") if o in options] or options[:2]
    if keys.COMPARE_VARIANTS in st.session_state:
        st.session_state[keys.COMPARE_VARIANTS] = [
            o for o in st.session_state[keys.COMPARE_VARIANTS] if o in options
        ]
    chosen: list[str] = st.multiselect(
        "Labels / versions to compare",
        options,
        default=defaults if keys.COMPARE_VARIANTS not in st.session_state else None,
        key=keys.COMPARE_VARIANTS,
        help="Pick two or more: labels (production, staging), versions (v3) or unsaved drafts "
        "from the Playground (draft:<name>).",
    )
    return name, chosen


def _run_options_step(services: Services) -> tuple[int, int]:
    """Concurrency and repeats per sample, side by side."""
    col_conc, col_rep = st.columns(2)
    with col_conc:
        concurrency = int(
            st.number_input(
                "Concurrency (calls in flight)",
                min_value=1,
                max_value=64,
                value=services.settings.concurrency,
                key=keys.COMPARE_CONCURRENCY,
            )
        )
    with col_rep:
        repeats = int(
            st.number_input(
                "Repeats per sample",
                min_value=comparisons.MIN_REPEATS,
                max_value=comparisons.MAX_REPEATS,
                value=1,
                key=keys.COMPARE_REPEATS,
                help="Call each (sample, variant) this many times, each its own trace, to see "
                "whether a variant agrees with itself (self-consistency).",
            )
        )
    concurrency_cap_note(services, concurrency)
    return concurrency, repeats


def _preflight_step(
    services: Services, name: str, chosen: list[str], sample_set: SampleSet, repeats: int
) -> tuple[dict[str, str], bool]:
    """Schemas, the variable mapping and the pre-flight report; returns the mapping and whether
    the comparison may run."""
    variables, schema_problems = _variables_and_schemas(services, name, chosen)
    for problem in schema_problems:
        st.error(plain(problem))
    mapping = _mapping(sample_set, variables)
    report = preflight(sample_set, variables=variables, mapping=mapping)
    if report.ok:
        st.success(
            f"Pre-flight OK: {report.runnable_count} of {report.sample_count} rows runnable × "
            f"{len(chosen)} variants"
            + (f" × {repeats} repeats" if repeats > 1 else "")
            + f" = {report.sample_count * len(chosen) * repeats} calls."
        )
    else:
        st.error(f"Pre-flight failed; nothing would be sent. {plain(report.summary())}")
    if report.errors or report.warnings:
        with st.expander(f"Pre-flight details ({len(report.problems)})"):
            for p in report.problems[:200]:
                (st.error if p.severity == "error" else st.warning)(plain(p.message))
    return mapping, report.ok and not schema_problems


def _run_step(services: Services, request: _Request, *, ready: bool) -> None:
    """The cost limit and the estimate beside the Run button; a click starts the run."""
    col_run, col_estimate = st.columns([1, 2])
    with col_estimate:
        max_cost = st.number_input(
            "Cost limit (USD, optional)",
            min_value=0.0,
            value=None,
            step=0.5,
            format="%.4f",
            key=keys.COMPARE_MAX_COST,
            help="Refuse to start when the upper cost estimate is above this.",
        )
        if ready:
            _estimate(services, request)
    with col_run:
        clicked = st.button(
            "Run comparison", type="primary", key=keys.COMPARE_RUN, disabled=not ready
        )
    if clicked:
        _start(services, request, max_cost)


def _estimate(services: Services, request: _Request) -> None:
    """The pre-run estimate next to Run, computed again whenever an input changes."""
    inputs = request.inputs
    cached = st.session_state.get(keys.COMPARE_ESTIMATE)
    if cached is None or cached[0] != inputs:
        try:
            planned = request.plan(services)
        except PlaygroundError as exc:
            st.caption(f"No estimate: {plain(exc.message)}")
            return
        cached = (inputs, planned.estimate)
        st.session_state[keys.COMPARE_ESTIMATE] = cached
    estimate = cached[1]
    if estimate is None:
        return
    lines = estimate.lines()
    st.markdown("**Estimate before running**  \n" + "  \n".join(plain(x) for x in lines[:5]))
    with st.expander("Estimate details"):
        for line in lines[5:]:
            st.caption(plain(line.strip()))


def _variables_and_schemas(
    services: Services, name: str, chosen: list[str]
) -> tuple[list[str], list[str]]:
    """A preview from the cached versions; the Run button plans (and checks) for real."""
    variables: list[str] = []
    problems: list[str] = []
    for key in chosen:
        match = cached_variant(services, name, key)
        if match is None:
            problems.append(f"Prompt '{name}' has no {key} (it may have just moved); reload.")
            continue
        for var in match.variables:
            if var not in variables:
                variables.append(var)
        try:
            response_model_for(
                match.config, allowed_modules=services.settings.allowed_model_modules
            )
        except PlaygroundError as exc:
            problems.append(f"{key} ({match.display}): {exc.message}")
    return variables, problems


def _mapping(sample_set: SampleSet, variables: list[str]) -> dict[str, str]:
    if not variables:
        return {}
    st.markdown("**Column mapping** (prompt variable → samples column)")
    candidates = [
        c for c in sample_set.columns if not c.lower().startswith("expected_") and c != "messages"
    ]
    options = [NO_COLUMN, *candidates]
    mapping: dict[str, str] = {}
    cols = st.columns(min(3, len(variables)))
    for i, var in enumerate(variables):
        default = options.index(var) if var in options else 0
        with cols[i % len(cols)]:
            column = st.selectbox(
                f"{{{{{var}}}}}", options, index=default, key=keys.COMPARE_MAPPING_PREFIX + var
            )
        if column != NO_COLUMN and column != var:
            mapping[var] = column
    return mapping


def _start(services: Services, request: _Request, max_cost: float | None = None) -> None:
    try:
        with st.spinner("Resolving the variants and connecting to the model…"):
            planned = request.plan(services)
            record = comparisons.start(
                services,
                planned,
                background=True,
                max_cost_usd=max_cost,
                actor=current_actor(services.settings),
            )
    except PlaygroundError as exc:
        show_error(exc, prefix="The run did not start.")
        return
    st.session_state[keys.COMPARE_RUN_ID] = record.id
    st.session_state.pop(keys.COMPARE_INSPECT, None)
    st.rerun()


# -- the run -------------------------------------------------------------------------------


def _run_section(services: Services, run_id: str) -> None:
    try:
        record = services.store.get_run(run_id)
    except PlaygroundError as exc:
        show_error(exc)
        st.session_state.pop(keys.COMPARE_RUN_ID, None)
        return
    if record.status != "running":
        _finished(services, run_id)
    elif services.endpoint_resolved and services.endpoint().local:
        _live_beside_local_model(services, run_id)
    else:
        _live(services, run_id)


LIVE_REFRESH_LOCAL_S = 3.0
"""The embedded model shares this machine's cores with the page: redrawing the table every
second (server and browser) made the bundled comparison take 95-137 s in the browser instead of
77-84 s at 3 s (README → Performance)."""


@st.fragment(run_every=1.0)
def _live(services: Services, run_id: str) -> None:
    """A running comparison, refreshed every second; the whole page once when it ends."""
    _live_frame(services, run_id)


@st.fragment(run_every=LIVE_REFRESH_LOCAL_S)
def _live_beside_local_model(services: Services, run_id: str) -> None:
    """The same, every few seconds, while the embedded model answers on this machine."""
    _live_frame(services, run_id)


def _live_frame(services: Services, run_id: str) -> None:
    current = services.store.get_run(run_id)
    if current.status != "running":
        st.rerun(scope="app")
    _show_run(services, current)


@st.fragment
def _finished(services: Services, run_id: str) -> None:
    """A finished comparison: a fragment of its own, so its widgets rerun only it, and a late
    tick of the live fragment (a different fragment) finds nothing to redraw."""
    _show_run(services, services.store.get_run(run_id))


def _show_run(services: Services, record: RunRecord) -> None:
    _header(record)
    view = build_view(services.store, record)
    _results(services, view, record)


def _header(record: RunRecord) -> None:
    versions = record.meta.get("versions") or {}
    ran = record.meta.get("drafts") or {}

    def described_variant(v: str) -> str:
        if v in versions:
            return f"{v} (v{versions[v]})"
        saved = (ran.get(v) or {}).get("saved_version")
        return f"{v} (unsaved)" if saved is None else f"{v} (saved as v{saved})"

    described = ", ".join(described_variant(v) for v in record.variants)
    st.subheader(f"Run {record.id}")
    st.caption(
        f"{plain(record.prompt_name)}: {plain(described)} · samples "
        f"{plain(record.samples_name or '?')} · "
        f"status **{record.status}**"
        + (f" · started by {plain(record.actor)}" if record.actor else "")
    )
    fraction = record.done / record.total if record.total else 1.0
    elapsed = elapsed_s(record)
    eta = ""
    if record.status == "running" and 0 < record.done < record.total:
        eta = f" · ETA {elapsed / record.done * (record.total - record.done):.0f}s"
    st.progress(
        min(1.0, fraction),
        text=f"{record.done}/{record.total} done · {record.errors} errors · {elapsed:.0f}s{eta}",
    )
    if record.status == "running":
        handle = worker.get_handle(record.id)
        if handle is not None and handle.running:
            if st.button("Cancel run", key=keys.COMPARE_CANCEL):
                handle.cancel()
                st.toast("Cancelling… finished rows are kept.")
        else:
            st.caption("This run is being executed elsewhere (another process).")
    elif record.error:
        st.warning(plain(record.error))
    _dataset_runs_note(record)
    if record.meta.get("drift"):
        with st.expander("Schema drift between code models and stored schemas"):
            st.json(record.meta["drift"])


def _dataset_runs_note(record: RunRecord) -> None:
    """Where the run is in Langfuse's own dataset-run views (runs on a Langfuse dataset)."""
    recorded = record.meta.get("dataset_runs")
    dataset = (record.meta.get("dataset") or {}).get("name")
    if not isinstance(recorded, dict):
        return
    if recorded.get("names"):
        st.caption(
            f":material/dataset: Recorded in Langfuse as dataset runs of "
            f"'{plain(dataset)}': " + ", ".join(plain(n) for n in recorded["names"])
        )
    elif recorded.get("error"):
        st.warning(f"Not recorded as Langfuse dataset runs: {plain(recorded['error'])}")


def _styled(page: pd.DataFrame, mask: pd.DataFrame, unstable: pd.DataFrame | None = None) -> Any:
    """Differing cells yellow; with repeats, cells whose repeats disagree red and italic."""
    styles = mask.loc[page.index, page.columns].replace({True: HIGHLIGHT, False: ""})
    if unstable is not None:
        shaky = unstable.loc[page.index, page.columns].astype(bool)
        styles = styles.mask(shaky, UNSTABLE)
    return page.style.apply(lambda _frame: styles, axis=None)


def _results(services: Services, view: RunView, record: RunRecord) -> None:
    if view.problem:
        st.warning(plain(view.problem))
    if not view.results:
        st.info("No results yet; they appear here as they finish.")
        return
    tab_table, tab_metrics, tab_export = st.tabs(["Side by side", "Metrics", "Export"])
    with tab_table:
        _side_by_side(services, view)
    with tab_metrics:
        _metrics(view)
        if record.status != "running":
            _significance(view, record)
        if not view.accuracy.empty and record.status != "running":
            _post_accuracy(services, view, record)
    with tab_export:
        _exports(services, record)


def _side_by_side(services: Services, view: RunView) -> None:
    table = view.table
    n_differ = int(table["differs"].sum())
    only_diff = st.toggle(
        f"Only rows that differ ({n_differ} of {len(table)})", key=keys.COMPARE_ONLY_DIFF
    )
    shown = table[table["differs"]] if only_diff else table
    if view.repeats > 1:
        st.caption(
            f"{view.repeats} repeats per sample: each cell shows the majority answer and how "
            f"many repeats gave it. Unstable cells (repeats disagree): {view.n_unstable}, "
            "marked red."
        )
    pages = max(1, -(-len(shown) // PAGE_ROWS))
    page_no = 1
    if pages > 1:
        page_no = int(
            st.number_input(
                f"Page (of {pages}, {PAGE_ROWS} rows each)",
                min_value=1,
                max_value=pages,
                value=1,
                key="compare.page",
            )
        )
    page = shown.iloc[(page_no - 1) * PAGE_ROWS : page_no * PAGE_ROWS]
    errors = [c for c in error_columns(view) if (page[c] != "").any()]
    columns = ["sample_id", *field_columns(view), *errors]
    st.session_state[keys.COMPARE_PAGE_IDS] = page["sample_id"].tolist()
    st.dataframe(
        _styled(page[columns], view.mask, view.unstable),
        hide_index=True,
        key=keys.COMPARE_TABLE,
        on_select=_on_select,
        selection_mode="single-row",
        height=min(600, 38 + 35 * len(page)),
    )
    ids = shown["sample_id"].tolist()
    keep_valid(keys.COMPARE_INSPECT, ids)
    sample_id = st.selectbox(
        "Inspect sample",
        ids,
        index=None,
        key=keys.COMPARE_INSPECT,
        placeholder="Select a row in the table, or pick a sample id",
    )
    if sample_id:
        _inspect(services, view, sample_id)


def _on_select() -> None:
    state = st.session_state.get(keys.COMPARE_TABLE)
    rows = list(getattr(getattr(state, "selection", None), "rows", []) or [])
    ids = st.session_state.get(keys.COMPARE_PAGE_IDS) or []
    if rows and rows[0] < len(ids):
        st.session_state[keys.COMPARE_INSPECT] = ids[rows[0]]


def _inspect(services: Services, view: RunView, sample_id: str) -> None:
    variants = view.record.variants
    cols = st.columns(len(variants))
    for col, variant in zip(cols, variants, strict=True):
        result = view.by_key.get((sample_id, variant))
        with col:
            st.markdown(f"#### {plain(variant)}")
            if result is None:
                st.caption("No result yet.")
                continue
            version = "draft" if result.prompt_version is None else f"v{result.prompt_version}"
            st.caption(
                f"{version} · {result.attempts} attempt(s) · "
                f"{result.latency_ms or 0:.0f} ms · tokens {result.input_tokens or 0}/"
                f"{result.output_tokens or 0}"
            )
            if result.error:
                st.error(plain(result.error))
                if result.raw_output:
                    with st.expander("Raw output"):
                        st.code(result.raw_output, language=None)
            else:
                st.json(result.output or {})
            if result.expected:
                st.caption(
                    "expected: "
                    + plain(
                        ", ".join(
                            f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                            for k, v in result.expected.items()
                        )
                    )
                )
            trace_panel(services, result.trace_id, key=f"compare.trace.{variant}")


def _metrics(view: RunView) -> None:
    if view.metrics.empty:
        st.info("No metrics (the schemas could not be compared).")
        return
    comparison = view.comparison
    if comparison is not None and comparison.agreement_rate is not None:
        st.metric(
            "Samples where every field agrees",
            f"{comparison.agreement_rate:.0%}",
            help=f"over {comparison.n_samples_compared} samples with two or more valid outputs",
        )
    st.markdown("**Per variant**")
    st.dataframe(
        view.metrics,
        hide_index=True,
        key="compare.metrics",
        column_config={
            # Good news is green: "auto" colours a bar green above 50 %, red below.
            "valid_rate": st.column_config.ProgressColumn("valid", format="percent", color="auto"),
            "error_rate": st.column_config.NumberColumn("errors", format="percent"),
        },
    )
    st.altair_chart(_chart(view), key="compare.chart")
    st.markdown("**Per-field agreement**")
    st.dataframe(
        view.agreement,
        hide_index=True,
        key="compare.agreement",
        column_config={
            "agreement": st.column_config.ProgressColumn(format="percent", color="auto")
        },
    )
    if not view.accuracy.empty:
        st.markdown("**Accuracy against expected values**")
        st.dataframe(
            view.accuracy,
            hide_index=True,
            key="compare.accuracy",
            column_config={
                "accuracy": st.column_config.ProgressColumn(format="percent", color="auto")
            },
        )


def _significance(view: RunView, record: RunRecord) -> None:
    """Each variant against the first (the baseline): is the difference more than noise?"""
    if len(record.variants) < 2:
        return
    schemas = record.meta.get("schemas") or {}
    baseline = record.variants[0]
    rows: list[dict[str, Any]] = []
    consistency: list[dict[str, Any]] = []
    texts: list[str] = []
    for candidate in record.variants[1:]:
        try:
            stats = compare_pair(view.results, schemas, baseline=baseline, candidate=candidate)
        except PlaygroundError as exc:
            st.warning(plain(exc.message))
            continue
        texts.append(format_statistics(stats))
        for name, fs in stats.fields.items():
            t = fs.test
            rows.append(
                {
                    "comparison": f"{candidate} vs {baseline}",
                    "field": name,
                    "baseline": t.baseline,
                    "candidate": t.candidate,
                    "difference": t.difference,
                    "ci_low": t.ci95[0],
                    "ci_high": t.ci95[1],
                    "p": t.p_value,
                    "p (Holm)": fs.p_adjusted,
                    "verdict": fs.verdict,
                    "samples to detect": t.n_needed,
                }
            )
        for variant, per_field in stats.self_consistency.items():
            for name, prop in per_field.items():
                consistency.append(
                    {"variant": variant, "field": name, "self-consistency": prop.rate}
                )
    if not rows and not consistency:
        return
    st.markdown(f"**Is it real? Paired statistics against {plain(baseline)}**")
    if rows:
        frame = pd.DataFrame(rows)
        st.dataframe(
            frame,
            hide_index=True,
            key="compare.significance",
            column_config={
                "baseline": st.column_config.NumberColumn(format="percent"),
                "candidate": st.column_config.NumberColumn(format="percent"),
                "difference": st.column_config.NumberColumn(format="%+.3f"),
                "ci_low": st.column_config.NumberColumn("95% CI low", format="%+.3f"),
                "ci_high": st.column_config.NumberColumn("95% CI high", format="%+.3f"),
                "p": st.column_config.NumberColumn(format="%.4f"),
                "p (Holm)": st.column_config.NumberColumn(format="%.4f"),
            },
        )
        st.altair_chart(_forest(frame), key="compare.forest")
        st.caption(
            "Forest plot: each field's accuracy difference (candidate − baseline) with its 95% "
            "interval; an interval that does not cross 0 is a difference beyond noise."
        )
    if consistency:
        st.markdown("**Self-consistency** (share of samples whose repeats all agree)")
        st.dataframe(
            pd.DataFrame(consistency),
            hide_index=True,
            key="compare.consistency",
            column_config={"self-consistency": st.column_config.ProgressColumn(format="percent")},
        )
    with st.expander("As text (what the CLI prints)"):
        st.code("\n\n".join(texts), language=None)


def _forest(frame: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    data = frame.assign(row=frame["field"] + " · " + frame["comparison"])
    base = alt.Chart(data).encode(y=alt.Y("row:N", title=None))
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="difference in accuracy (95% CI)"),
        x2="ci_high:Q",
        color=alt.Color("verdict:N", legend=alt.Legend(orient="bottom")),
    )
    point = base.mark_point(filled=True, size=80).encode(
        x="difference:Q",
        color="verdict:N",
        tooltip=[
            "comparison",
            "field",
            alt.Tooltip("difference:Q", format="+.3f"),
            alt.Tooltip("ci_low:Q", format="+.3f"),
            alt.Tooltip("ci_high:Q", format="+.3f"),
            alt.Tooltip("p (Holm):Q", format=".4f"),
            "verdict",
        ],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return alt.layer(zero, interval, point, title="Forest plot")


def _post_accuracy(services: Services, view: RunView, record: RunRecord) -> None:
    """Per-field accuracy as scores on each result's trace, so Langfuse shows them too.

    ``record`` is read fresh each rerun (the view is cached), so the label follows the meta.
    """
    posted = record.meta.get("scores_posted")
    label = "Post accuracy to Langfuse as scores"
    if isinstance(posted, dict):
        label = f"Scores posted ({posted.get('count', 0)}) — post again"
    flash = st.session_state.pop(keys.COMPARE_SCORES_FLASH, None)
    if flash:
        st.success(flash, icon=":material/scoreboard:")
    clicked = st.button(
        label,
        key=keys.COMPARE_POST_SCORES,
        help="accuracy.<field> (1 = matches the expected value) and their mean 'accuracy' on "
        "each result's trace; posting again adds another set.",
    )
    if not clicked:
        return
    scores = accuracy_scores(view.results, record.meta.get("schemas") or {})
    try:
        with st.spinner(f"Posting {len(scores)} scores…"):
            count = services.scores.post(scores)
        latest = services.store.get_run(record.id)
        services.store.update_meta(
            record.id,
            {
                **latest.meta,
                "scores_posted": {"count": count, "at": datetime.now(UTC).isoformat()},
            },
        )
    except PlaygroundError as exc:
        show_error(exc, prefix="The scores were not posted.")
        return
    st.session_state[keys.COMPARE_SCORES_FLASH] = (
        f"Posted {count} scores to Langfuse, on {len({s.trace_id for s in scores})} traces."
    )
    st.rerun()


def _chart(view: RunView) -> alt.HConcatChart:
    metrics = view.metrics
    rates = metrics.melt(
        id_vars="variant", value_vars=["valid_rate", "error_rate"], var_name="metric"
    )
    if not view.accuracy.empty:
        acc = view.accuracy.groupby("variant", as_index=False)["accuracy"].mean()
        acc = acc.assign(metric="accuracy").rename(columns={"accuracy": "value"})
        rates = pd.concat([rates, acc[["variant", "metric", "value"]]], ignore_index=True)
    latency = metrics.melt(
        id_vars="variant", value_vars=["latency_p50_ms", "latency_p95_ms"], var_name="metric"
    )
    # Short names, written level: the columns' names, rotated, were cut off under the bars.
    names = {
        "valid_rate": "valid",
        "error_rate": "errors",
        "latency_p50_ms": "p50",
        "latency_p95_ms": "p95",
    }
    rates = rates.assign(metric=rates["metric"].replace(names))
    latency = latency.assign(metric=latency["metric"].replace(names))
    level = alt.Axis(labelAngle=0, labelLimit=0)
    rate_chart = (
        alt.Chart(rates.dropna())
        .mark_bar()
        .encode(
            x=alt.X("metric:N", title=None, axis=level, sort=["valid", "errors", "accuracy"]),
            xOffset="variant:N",
            y=alt.Y("value:Q", title="rate", scale=alt.Scale(domain=[0, 1])),
            color="variant:N",
            tooltip=["variant", "metric", alt.Tooltip("value:Q", format=".1%")],
        )
        .properties(title="Rates", width=260)
    )
    latency_chart = (
        alt.Chart(latency.dropna())
        .mark_bar()
        .encode(
            x=alt.X("metric:N", title=None, axis=level),
            xOffset="variant:N",
            y=alt.Y("value:Q", title="ms"),
            color="variant:N",
            tooltip=["variant", "metric", alt.Tooltip("value:Q", format=".0f")],
        )
        .properties(title="Latency", width=200)
    )
    return alt.hconcat(rate_chart, latency_chart)


def _exports(services: Services, record: RunRecord) -> None:
    st.caption("Long: one row per sample and variant. Wide: one row per sample.")
    cols = st.columns(4)
    for i, (fmt, shape) in enumerate(
        [("csv", "long"), ("csv", "wide"), ("parquet", "long"), ("parquet", "wide")]
    ):

        def data(fmt: Any = fmt, shape: Any = shape) -> bytes:
            return comparisons.export_run(services, record.id, fmt=fmt, shape=shape)

        with cols[i]:
            st.download_button(
                f"{fmt.upper()} ({shape})",
                data=data,
                file_name=export_filename(record.id, fmt, shape),  # type: ignore[arg-type]
                mime="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
                key=f"compare.download.{fmt}.{shape}",
                on_click="ignore",
            )
