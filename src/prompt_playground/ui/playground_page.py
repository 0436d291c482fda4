"""The Playground page: one prompt version, one set of variables, one typed answer and its trace."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st
from langfuse import Langfuse

from prompt_playground.bootstrap import Services
from prompt_playground.errors import PlaygroundError
from prompt_playground.llm import Extraction, call_parameters
from prompt_playground.models import Variant
from prompt_playground.prompts import PromptVersion
from prompt_playground.samples import SampleLimits, load_samples
from prompt_playground.schema import field_specs, response_model_for
from prompt_playground.ui import keys
from prompt_playground.ui.services import get_services
from prompt_playground.ui.widgets import (
    prompt_picker,
    render_messages,
    show_error,
    sidebar_status,
    trace_panel,
    variant_options,
)


def render() -> None:
    services = get_services()
    sidebar_status(services)
    st.title("Playground")
    name = prompt_picker(services, keys.PLAY_PROMPT)
    if name is None:
        return
    try:
        options = variant_options(services, name)
    except PlaygroundError as exc:
        show_error(exc)
        return
    if st.session_state.get(keys.PLAY_VARIANT) not in options:
        st.session_state.pop(keys.PLAY_VARIANT, None)
    choice = st.selectbox("Label or version", options, key=keys.PLAY_VARIANT)
    if choice is None:
        return
    try:
        prompt = services.prompts.get(name, Variant.parse(choice))
    except PlaygroundError as exc:
        show_error(exc)
        return

    left, right = st.columns([1, 1])
    with left:
        _prompt_details(services, prompt)
    with right:
        variables, chat = _variables_form(services, prompt)
        run = st.button("Run", type="primary", key=keys.PLAY_RUN)
    if run:
        _run(services, prompt, variables, chat)
    last = st.session_state.get(keys.PLAY_LAST)
    if last and last.get("prompt") == (prompt.name, prompt.version):
        _show_result(services, last)


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
            s = services.settings
            try:
                sample_set = load_samples(
                    uploaded.getvalue(),
                    uploaded.name,
                    limits=SampleLimits(
                        max_bytes=int(s.max_file_mb * 1024 * 1024), max_rows=s.max_rows
                    ),
                )
            except PlaygroundError as exc:
                show_error(exc)
            else:
                ids = [x.id for x in sample_set.samples]
                picked = st.selectbox("Row", ids, index=None, key=keys.PLAY_ROW)
                if picked is not None:
                    sample = sample_set.samples[ids.index(picked)]
                    chat = sample.messages
                    if st.session_state.get("playground.filled") != (uploaded.name, picked):
                        for var in prompt.variables:
                            if var in sample.variables:
                                st.session_state[keys.PLAY_VAR_PREFIX + var] = sample.variables[var]
                        st.session_state["playground.filled"] = (uploaded.name, picked)
    values: dict[str, str] = {}
    if not prompt.variables:
        st.caption("This prompt has no variables.")
    for var in prompt.variables:
        values[var] = st.text_area(f"{{{{{var}}}}}", key=keys.PLAY_VAR_PREFIX + var, height=120)
    return values, chat


def _run(
    services: Services,
    prompt: PromptVersion,
    variables: dict[str, str],
    chat: list[dict[str, str]] | None,
) -> None:
    empty = [k for k, v in variables.items() if not v.strip()]
    if empty:
        st.warning(f"Fill in {', '.join(map(repr, empty))} first.")
        return
    try:
        with st.spinner("Connecting to the model…"):
            endpoint = services.endpoint()
        resolved = response_model_for(
            prompt.config,
            allowed_modules=services.settings.allowed_model_modules,
            small_model_bounds=endpoint.local,
        )
        messages = prompt.compile(variables, chat)
    except PlaygroundError as exc:
        show_error(exc, prefix="Nothing was sent.")
        return
    trace_id = Langfuse.create_trace_id()

    async def call() -> Extraction:
        llm = services.llm()
        try:
            return await llm.extract(
                messages,
                resolved.model,
                prompt=prompt,
                trace_id=trace_id,
                name=f"playground · {prompt.name} v{prompt.version}",
            )
        finally:
            await llm.aclose()

    with st.spinner(f"Calling {endpoint.display}…"):
        extraction = asyncio.run(call())
    st.session_state[keys.PLAY_LAST] = {
        "prompt": (prompt.name, prompt.version),
        "extraction": asdict(extraction),
        "trace_id": trace_id,
        "messages": messages,
        "params": call_parameters(prompt.config, endpoint.model),
    }


def _show_result(services: Services, last: dict[str, Any]) -> None:
    ex = last["extraction"]
    out_col, trace_col = st.columns([1, 1])
    with out_col:
        st.subheader("Output")
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Valid", "yes" if ex["error"] is None else "no")
        c2.metric("Attempts", ex["attempts"])
        c3.metric("Latency", f"{ex['latency_ms']:.0f} ms")
        c4.metric("Tokens in/out", f"{ex['input_tokens'] or 0}/{ex['output_tokens'] or 0}")
        if ex["error"]:
            st.error(ex["error"])
            if ex["raw_output"]:
                with st.expander("Raw output"):
                    st.code(ex["raw_output"], language=None)
        else:
            output = ex["output"] or {}
            st.dataframe(
                pd.DataFrame({"field": list(output), "value": [_text(v) for v in output.values()]}),
                hide_index=True,
                key="playground.output",
            )
            with st.expander("JSON"):
                st.json(output)
        with st.expander("Sent messages"):
            render_messages(last["messages"])
            st.json(last["params"])
    with trace_col:
        st.subheader("Trace")
        trace_panel(services, last["trace_id"], key="playground.trace")


def _text(value: Any) -> str:
    """A cell as Compare shows it: JSON's true/false, lists comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(_text, value))
    return "" if value is None else str(value)
