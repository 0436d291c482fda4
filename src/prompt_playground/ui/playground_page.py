"""The Playground page: one prompt version, one set of variables, one typed answer and its trace.

The call runs in the background worker as a one-sample run (kind "playground"); the page only
polls the run store, so it never freezes while the model answers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from prompt_playground import worker
from prompt_playground.bootstrap import Services
from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Sample, Variant
from prompt_playground.prompts import PromptVersion
from prompt_playground.runner import RunRequest, prepare_variants
from prompt_playground.runstore import RunRecord
from prompt_playground.schema import field_specs, response_model_for
from prompt_playground.ui import keys
from prompt_playground.ui.run_view import display_value, elapsed_s
from prompt_playground.ui.services import get_services, load_samples_cached
from prompt_playground.ui.widgets import (
    embedded_model_notice,
    find_version,
    keep_valid,
    prompt_and_variants,
    render_messages,
    show_error,
    sidebar_status,
    trace_panel,
    versions_of,
)

POLL_S = 0.5  # how often the page looks in the run store while the call is in flight


def render() -> None:
    services = get_services()
    sidebar_status(services)
    st.title("Playground")
    embedded_model_notice(services)
    picked = prompt_and_variants(services, keys.PLAY_PROMPT)
    if picked is None:
        return
    name, options = picked
    keep_valid(keys.PLAY_VARIANT, options)
    choice = st.selectbox("Label or version", options, key=keys.PLAY_VARIANT)
    if choice is None:
        return
    try:
        prompt = find_version(versions_of(services, name), Variant.parse(choice))
    except PlaygroundError as exc:
        show_error(exc)
        return
    if prompt is None:
        st.warning(f"Prompt '{name}' has no {choice} (it may have just moved); reload.")
        return

    left, right = st.columns([1, 1])
    with left:
        _prompt_details(services, prompt)
    with right:
        variables, chat = _variables_form(services, prompt)
        last = _last_run(services)
        busy = last is not None and last.status == "running"
        run = st.button("Run", type="primary", key=keys.PLAY_RUN, disabled=busy)
    if run:
        _start(services, name, choice, variables, chat)
    if last is None:
        return
    if last.status == "running":
        _poll(services, last.id)
    elif _ran(last, prompt):
        _show_result(services, prompt, last)


def _prompt_details(services: Services, prompt: PromptVersion) -> None:
    labels = ", ".join(prompt.labels) or "no labels"
    st.markdown(f"**{prompt.name}** v{prompt.version} · {prompt.type} · {labels}")
    if prompt.commit_message:
        st.caption(prompt.commit_message)
    tab_messages, tab_config, tab_schema = st.tabs(["Messages", "Config", "Response schema"])
    with tab_messages:
        render_messages(
            [{"role": "user", "content": prompt.prompt}]
            if isinstance(prompt.prompt, str)
            else prompt.prompt
        )
    with tab_config:
        st.json({k: v for k, v in prompt.config.items() if k != "response_schema"})
    with tab_schema:
        try:
            resolved = response_model_for(
                prompt.config, allowed_modules=services.settings.allowed_model_modules
            )
        except PlaygroundError as exc:
            show_error(exc)
            return
        st.caption(f"Source: {resolved.source} · fingerprint {resolved.fingerprint[:12]}")
        st.dataframe(_field_table(resolved.schema), hide_index=True, key="playground.fields")
        for drift in resolved.drift:
            st.warning(drift)


def _field_table(schema: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for spec in field_specs(schema):
        allowed = spec.enum_values or spec.item_enum_values
        rows.append(
            {
                "field": spec.name,
                "kind": spec.kind + (f" of {spec.item_kind}" if spec.item_kind else ""),
                "required": spec.required,
                "values": ", ".join(map(str, allowed)) if allowed else "",
                "constraints": ", ".join(f"{k}={v}" for k, v in spec.constraints.items()),
                "description": spec.description or "",
            }
        )
    return pd.DataFrame(rows)


def _variables_form(
    services: Services, prompt: PromptVersion
) -> tuple[dict[str, str], list[dict[str, str]] | None]:
    st.markdown("**Variables**")
    chat: list[dict[str, str]] | None = None
    with st.expander("Fill from a samples file"):
        uploaded = st.file_uploader(
            "Samples file (CSV or JSONL)",
            type=["csv", "tsv", "txt", "jsonl", "ndjson", "json"],
            key=keys.PLAY_UPLOAD,
        )
        if uploaded is not None:
            try:
                sample_set = load_samples_cached(services, uploaded.getvalue(), uploaded.name)
            except PlaygroundError as exc:
                show_error(exc)
            else:
                ids = [x.id for x in sample_set.samples]
                picked = st.selectbox("Row", ids, index=None, key=keys.PLAY_ROW)
                if picked is not None:
                    sample = sample_set.samples[ids.index(picked)]
                    chat = sample.messages
                    if st.session_state.get(keys.PLAY_FILLED) != (uploaded.name, picked):
                        for var in prompt.variables:
                            if var in sample.variables:
                                st.session_state[keys.PLAY_VAR_PREFIX + var] = sample.variables[var]
                        st.session_state[keys.PLAY_FILLED] = (uploaded.name, picked)
    values: dict[str, str] = {}
    if not prompt.variables:
        st.caption("This prompt has no variables.")
    for var in prompt.variables:
        values[var] = st.text_area(f"{{{{{var}}}}}", key=keys.PLAY_VAR_PREFIX + var, height=120)
    return values, chat


def _start(
    services: Services,
    name: str,
    choice: str,
    variables: dict[str, str],
    chat: list[dict[str, str]] | None,
) -> None:
    """Check everything, then hand the call to the background worker as a one-sample run."""
    empty = [k for k, v in variables.items() if not v.strip()]
    if empty:
        st.warning(f"Fill in {', '.join(map(repr, empty))} first.")
        return
    try:
        with st.spinner("Connecting to the model…"):
            endpoint = services.endpoint()
        variant = Variant.parse(choice)
        # Fetched (not taken from the cached versions) for its SDK client: the call links its
        # generation to the prompt version through it.
        prepared = prepare_variants(
            services.prompts,
            name,
            [variant],
            default_model=endpoint.model,
            allowed_modules=services.settings.allowed_model_modules,
            small_model_bounds=endpoint.local,
        )
        prepared[0].prompt.compile(variables, chat)  # a prompt that cannot be filled is refused
        request = RunRequest(
            prompt_name=name,
            variants=[variant],
            samples=[Sample(id="playground", row=1, variables=dict(variables), messages=chat)],
            concurrency=1,
            samples_name="Playground",
            kind="playground",
        )
        handle = worker.start_run(services, request, prepared)
    except PlaygroundError as exc:
        show_error(exc, prefix="Nothing was sent.")
        return
    st.session_state[keys.PLAY_RUN_ID] = handle.run_id
    st.rerun()


def _last_run(services: Services) -> RunRecord | None:
    run_id: str | None = st.session_state.get(keys.PLAY_RUN_ID)
    if not run_id:
        return None
    try:
        return services.store.get_run(run_id)
    except PlaygroundError:  # deleted on the Runs page
        st.session_state.pop(keys.PLAY_RUN_ID, None)
        return None


def _ran(record: RunRecord, prompt: PromptVersion) -> bool:
    """Whether the run tried this prompt version (results are shown next to what produced them)."""
    versions = record.meta.get("versions") or {}
    return record.prompt_name == prompt.name and prompt.version in versions.values()


@st.fragment(run_every=POLL_S)
def _poll(services: Services, run_id: str) -> None:
    """Until the call is in the store: "Running…" and Cancel; then the whole page once more."""
    record = services.store.get_run(run_id)
    if record.status != "running":
        st.rerun(scope="app")
    cancelling = st.button("Cancel", key=keys.PLAY_CANCEL)
    if cancelling and not worker.cancel_run(run_id):
        st.caption("This run is not running in this process; it cannot be cancelled from here.")
    st.info(
        "Cancelling…" if cancelling else f"Running… ({elapsed_s(record):.0f} s)",
        icon=":material/hourglass_top:",
    )


def _show_result(services: Services, prompt: PromptVersion, record: RunRecord) -> None:
    results = services.store.results(record.id)
    if not results:
        if record.status == "failed":
            st.error(f"The call failed: {record.error or 'no reason recorded'}")
        elif record.status == "cancelled":
            st.info("Cancelled before the model answered.")
        else:
            st.warning(f"The call ended {record.status} without an answer.")
        return
    result = results[0]
    out_col, trace_col = st.columns([1, 1])
    with out_col:
        st.subheader("Output")
        # Two rows: five metrics in half the page cut their values ("10 …").
        c1, c2, c3 = st.columns(3)
        c1.metric("Valid", "yes" if result.error is None else "no")
        c2.metric("Attempts", result.attempts)
        c3.metric("Latency", f"{result.latency_ms or 0:.0f} ms")
        c4, c5, _ = st.columns(3)
        c4.metric("Tokens in/out", f"{result.input_tokens or 0}/{result.output_tokens or 0}")
        c5.metric("Cost", "n/a" if result.cost_usd is None else f"${result.cost_usd:.6f}")
        if result.error:
            st.error(result.error)
            if result.raw_output:
                with st.expander("Raw output"):
                    st.code(result.raw_output, language=None)
        else:
            output = result.output or {}
            st.dataframe(
                pd.DataFrame(
                    {"field": list(output), "value": [display_value(v) for v in output.values()]}
                ),
                hide_index=True,
                key="playground.output",
            )
            with st.expander("JSON"):
                st.json(output)
        with st.expander("Sent messages"):
            _sent(services, prompt, record)
    with trace_col:
        st.subheader("Trace")
        trace_panel(services, result.trace_id, key="playground.trace")


def _sent(services: Services, prompt: PromptVersion, record: RunRecord) -> None:
    """The messages as compiled from the run's stored sample, and the call's parameters."""
    samples = services.store.samples(record.id)
    if samples:
        try:
            render_messages(prompt.compile(samples[0].variables, samples[0].messages))
        except PlaygroundError as exc:
            show_error(exc)
    params = record.meta.get("parameters") or {}
    st.json(params.get(record.variants[0], {}) if record.variants else {})
