"""The Playground page: edit a prompt in place as an unsaved draft, run it on one row or on the
first rows of a samples file, see typed outputs and traces, diff it against its base version,
and save it as a version when it is good.

Editing a version starts a draft (kept in the run store, autosaved on every change, never in
Langfuse until saved). Calls run in the background worker as a small run (kind "playground");
the page only polls the run store, so it never freezes while the model answers.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from prompt_playground import comparisons, worker
from prompt_playground.bootstrap import Services, example_samples
from prompt_playground.drafts import Draft, content_hash, from_version
from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Result, Variant
from prompt_playground.prompts import PromptVersion, diff_versions
from prompt_playground.runner import file_hash
from prompt_playground.runstore import RunRecord
from prompt_playground.samples import SampleSet
from prompt_playground.schema import field_specs, response_model_for
from prompt_playground.ui import keys
from prompt_playground.ui.identity import current_actor
from prompt_playground.ui.run_view import display_value, elapsed_s
from prompt_playground.ui.services import clear_prompt_cache, get_services, load_samples_cached
from prompt_playground.ui.versions_page import show_diff
from prompt_playground.ui.widgets import (
    cached_variant,
    embedded_model_notice,
    find_version,
    keep_valid,
    plain,
    prompt_and_variants,
    render_messages,
    show_error,
    sidebar_status,
    trace_panel,
    versions_of,
)

POLL_S = 0.5  # how often the page looks in the run store while the call is in flight
ONE_ROW = "One row"
FIRST_ROWS = "First rows of a samples file"
MAX_FIRST_N = 50


def render() -> None:
    services = get_services()
    sidebar_status(services)
    st.title("Playground")
    embedded_model_notice(services)
    flash = st.session_state.pop(keys.PLAY_FLASH, None)
    if flash:
        st.success(plain(flash), icon=":material/edit_note:")
    picked = prompt_and_variants(services, keys.PLAY_PROMPT, drafts=True)
    if picked is None:
        return
    name, options = picked
    current = st.session_state.get(keys.PLAY_CURRENT)
    if keys.PLAY_VARIANT not in st.session_state and current and current[0] == name:
        st.session_state[keys.PLAY_VARIANT] = current[1]  # back from another page
    keep_valid(keys.PLAY_VARIANT, options)
    choice = st.selectbox(
        "Label, version or draft",
        options,
        key=keys.PLAY_VARIANT,
        help="Edit anything below to start a draft: it is saved here as you type and runs like "
        "a version, but reaches Langfuse only when you save it as a version.",
    )
    if choice is None:
        return
    st.session_state[keys.PLAY_CURRENT] = (name, choice)
    try:
        prompt = cached_variant(services, name, choice)
    except PlaygroundError as exc:
        show_error(exc)
        return
    if prompt is None:
        st.warning(plain(f"Prompt '{name}' has no {choice} (it may have just moved); reload."))
        return
    draft = services.store.get_draft(name, prompt.draft) if prompt.draft is not None else None

    left, right = st.columns([1, 1])
    with left:
        _editor(services, name, choice, prompt, draft)
    with right:
        request = _run_panel(services, prompt)
        last = _last_run(services)
        busy = last is not None and last.status == "running"
        run = st.button("Run", type="primary", key=keys.PLAY_RUN, disabled=busy)
    if run and request is not None:
        _start(services, name, choice, request)
    if last is None:
        return
    if last.status == "running":
        _poll(services, last.id)
    elif last.prompt_name == name and choice in last.variants:
        _show_results(services, last)


# -- the editor: a version is read-only until edited, then it is a draft -------------------------


def _source_id(name: str, choice: str, prompt: PromptVersion) -> str:
    """Editor widgets are kept per source; a label's source follows the version it points at."""
    if prompt.draft is not None:
        return f"{name}|{choice}"
    return f"{name}|{choice}|v{prompt.version}"


def _editor(
    services: Services, name: str, choice: str, prompt: PromptVersion, draft: Draft | None
) -> None:
    src = _source_id(name, choice, prompt)
    if draft is None:
        labels = ", ".join(prompt.labels) or "no labels"
        st.markdown(f"**{plain(prompt.name)}** v{prompt.version} · {prompt.type} · {plain(labels)}")
        if prompt.commit_message:
            st.caption(plain(prompt.commit_message))
        st.caption("Edit anything below to start a draft of this version (saved as you type).")
    else:
        base = f"based on v{draft.base_version}" if draft.base_version else "from a file"
        saved = f" · saved as v{draft.saved_version}" if draft.saved_version else " · unsaved"
        st.markdown(f"**Draft {plain(draft.name)}** of {plain(prompt.name)} · {base}{saved}")
        st.caption(f"Autosaved {draft.updated_at.replace('T', ' ')[:19]} UTC")
        rename_key = f"{keys.PLAY_RENAME_PREFIX}{src}"
        _init(rename_key, draft.name)
        st.text_input(
            "Draft name",
            key=rename_key,
            on_change=_on_rename,
            args=(services, draft, rename_key),
            help="Compare lists it as draft:<name>.",
        )
    for problem in st.session_state.get(keys.PLAY_EDIT_ERRORS, {}).get(src, []):
        st.error(plain(problem), icon=":material/edit_off:")
    args = (services, name, choice, src, prompt)
    tab_names = ["Messages", "Config", "Response schema"]
    if draft is not None:
        tab_names.append(f"Diff vs v{draft.base_version}" if draft.base_version else "Diff")
    tabs = st.tabs(tab_names)
    with tabs[0]:
        _messages_editor(src, prompt, args)
    with tabs[1]:
        _init(f"{keys.PLAY_EDIT_PREFIX}{src}.config", _config_text(prompt))
        st.text_area(
            "Config (JSON: model parameters, instructor_mode; the schema has its own tab)",
            key=f"{keys.PLAY_EDIT_PREFIX}{src}.config",
            height=200,
            on_change=_on_edit,
            args=args,
        )
    with tabs[2]:
        _schema_editor(services, src, prompt, args)
    if draft is not None:
        with tabs[3]:
            _diff(services, name, draft, prompt)
        with st.expander("Save as a new version", icon=":material/save:", key=keys.PLAY_SAVE_OPEN):
            _save_form(services, draft)


def _init(key: str, value: str) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _config_text(prompt: PromptVersion) -> str:
    config = {k: v for k, v in prompt.config.items() if k != "response_schema"}
    return json.dumps(config, indent=2, ensure_ascii=False)


def _schema_text(prompt: PromptVersion) -> str:
    return json.dumps(prompt.config.get("response_schema") or {}, indent=2, ensure_ascii=False)


def _messages_editor(src: str, prompt: PromptVersion, args: tuple[Any, ...]) -> None:
    if isinstance(prompt.prompt, str):
        key = f"{keys.PLAY_EDIT_PREFIX}{src}.text"
        _init(key, prompt.prompt)
        st.text_area("Prompt text", key=key, height=240, on_change=_on_edit, args=args)
        return
    for i, message in enumerate(prompt.prompt):
        if message.get("type") == "placeholder":
            st.caption(plain(f"placeholder: {message.get('name')} (a sample's chat turns go here)"))
            continue
        key = f"{keys.PLAY_EDIT_PREFIX}{src}.msg.{i}"
        _init(key, str(message.get("content", "")))
        role = str(message.get("role", "user"))
        st.text_area(
            f"{role} message" if role != "system" else "System message",
            key=key,
            height=200 if role == "system" else 100,
            on_change=_on_edit,
            args=args,
        )


def _schema_editor(
    services: Services, src: str, prompt: PromptVersion, args: tuple[Any, ...]
) -> None:
    key = f"{keys.PLAY_EDIT_PREFIX}{src}.schema"
    _init(key, _schema_text(prompt))
    st.text_area(
        "Response schema (JSON Schema)", key=key, height=240, on_change=_on_edit, args=args
    )
    try:
        resolved = response_model_for(
            prompt.config, allowed_modules=services.settings.allowed_model_modules
        )
    except PlaygroundError as exc:
        show_error(exc, prefix="This schema cannot run:")
        return
    st.caption(f"Source: {resolved.source} · fingerprint {resolved.fingerprint[:12]}")
    st.dataframe(_field_table(resolved.schema), hide_index=True, key="playground.fields")
    for drift in resolved.drift:
        st.warning(plain(drift))


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


def _read_editor(src: str, prompt: PromptVersion) -> tuple[Any, dict[str, Any], list[str]]:
    """The editor's content; parts that are not valid JSON keep their last value (and say so)."""
    state = st.session_state
    problems: list[str] = []
    if isinstance(prompt.prompt, str):
        content: Any = state.get(f"{keys.PLAY_EDIT_PREFIX}{src}.text", prompt.prompt)
    else:
        content = []
        for i, message in enumerate(prompt.prompt):
            key = f"{keys.PLAY_EDIT_PREFIX}{src}.msg.{i}"
            if message.get("type") == "placeholder" or key not in state:
                content.append(dict(message))
            else:
                content.append({**message, "content": state[key]})
    config = dict(prompt.config)
    config_text = state.get(f"{keys.PLAY_EDIT_PREFIX}{src}.config")
    if config_text is not None:
        try:
            parsed = json.loads(config_text or "{}")
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            problems.append(f"Config is not a JSON object ({exc}); the draft keeps the last one.")
        else:
            config = {**parsed, **{k: v for k, v in config.items() if k == "response_schema"}}
    schema_text = state.get(f"{keys.PLAY_EDIT_PREFIX}{src}.schema")
    if schema_text is not None:
        try:
            schema = json.loads(schema_text or "{}")
        except ValueError as exc:
            problems.append(
                f"The response schema is not valid JSON ({exc}); the draft keeps the last one."
            )
        else:
            if schema:
                config["response_schema"] = schema
            else:
                config.pop("response_schema", None)
    return content, config, problems


def _on_edit(services: Services, name: str, choice: str, src: str, prompt: PromptVersion) -> None:
    """Autosave: the first edit of a version starts a draft, later edits update it."""
    content, config, problems = _read_editor(src, prompt)
    errors = dict(st.session_state.get(keys.PLAY_EDIT_ERRORS, {}))
    if not problems and content_hash(content, config) == content_hash(prompt.prompt, prompt.config):
        # Nothing changed (the browser may report a text back with its whitespace normalised,
        # which fires on_change): no draft is started for that.
        return
    variant = Variant.parse(choice)
    try:
        if variant.draft is None:
            draft_name = comparisons.unique_draft_name(services, name, f"{choice}-edit")
            started = replace(from_version(prompt, draft_name), prompt=content, config=config)
            services.store.save_draft(replace(started, actor=_who(services)))
            # The version's editor shows the version again; the draft has the edit.
            for key in [k for k in st.session_state if str(k).startswith(_prefix(src))]:
                del st.session_state[key]
            errors[_source_id(name, started.key, started.as_prompt_version())] = problems
            st.session_state[keys.PLAY_VARIANT] = started.key
            st.session_state[keys.PLAY_FLASH] = (
                f"Started draft '{draft_name}' from {choice}. It is saved as you edit; "
                "Langfuse gets a version only when you save it as one."
            )
        else:
            current = services.store.get_draft(name, variant.draft)
            services.store.save_draft(
                replace(current, prompt=content, config=config, actor=_who(services))
            )
            errors[src] = problems
    except PlaygroundError as exc:
        errors[src] = [f"Not saved: {exc.message}"]
    st.session_state[keys.PLAY_EDIT_ERRORS] = errors


def _on_rename(services: Services, draft: Draft, key: str) -> None:
    """Rename a draft (runs already made keep the name they ran under)."""
    errors = dict(st.session_state.get(keys.PLAY_EDIT_ERRORS, {}))
    src = f"{draft.prompt_name}|{draft.key}"
    try:
        renamed = comparisons.rename_draft(services, draft, str(st.session_state.get(key, "")))
    except PlaygroundError as exc:
        errors[src] = [f"Not renamed: {exc.message}"]
        st.session_state[keys.PLAY_EDIT_ERRORS] = errors
        st.session_state[key] = draft.name
        return
    errors.pop(src, None)
    st.session_state[keys.PLAY_EDIT_ERRORS] = errors
    st.session_state[keys.PLAY_VARIANT] = renamed.key
    st.session_state[keys.PLAY_FLASH] = f"Renamed draft '{draft.name}' to '{renamed.name}'."


def _prefix(src: str) -> str:
    return f"{keys.PLAY_EDIT_PREFIX}{src}."


def _diff(services: Services, name: str, draft: Draft, prompt: PromptVersion) -> None:
    base = None
    if draft.base_version is not None:
        base = find_version(versions_of(services, name), Variant(version=draft.base_version))
    if base is None:
        st.caption("This draft has no base version to compare with.")
        return
    diff = diff_versions(base, prompt)
    if diff.unchanged:
        st.info(f"The draft still equals v{base.version}.")
        return
    st.caption(f"What the draft changes against v{base.version}, its base version.")
    show_diff(diff)


def _save_form(services: Services, draft: Draft) -> None:
    protected = services.settings.protected_labels
    with st.form(keys.PLAY_SAVE_FORM):
        commit = st.text_input("Commit message", key=keys.PLAY_SAVE_COMMIT)
        labels_text = st.text_input(
            "Labels (optional, comma-separated)",
            key=keys.PLAY_SAVE_LABELS,
            help=f"e.g. staging. Protected labels ({', '.join(protected)}) are moved on "
            "Versions & Promote, which asks for confirmation.",
        )
        submitted = st.form_submit_button("Save as new version", key=keys.PLAY_SAVE)
        discard = st.form_submit_button("Discard draft", key=keys.PLAY_DISCARD)
    if discard:
        services.store.delete_draft(draft.prompt_name, draft.name)
        st.session_state[keys.PLAY_FLASH] = f"Discarded draft '{draft.name}'."
        st.rerun()
    if not submitted:
        return
    labels = [lbl.strip() for lbl in labels_text.split(",") if lbl.strip()]
    blocked = [lbl for lbl in labels if lbl in protected]
    if blocked:
        st.error(
            f"'{plain(blocked[0])}' is protected: save without it, then promote the new version on "
            "Versions & Promote."
        )
        return
    try:
        with st.spinner("Saving…"):
            saved = comparisons.save_draft(
                services,
                draft,
                commit_message=commit,
                labels=labels,
                actor=current_actor(services.settings),
            )
    except PlaygroundError as exc:
        show_error(exc, prefix="Not saved.")
        return
    clear_prompt_cache()
    moved = f"; labels {', '.join(labels)} now on v{saved.version}" if labels else ""
    st.session_state[keys.PLAY_FLASH] = (
        f"Saved draft '{draft.name}' as v{saved.version}{moved}."
        if saved.created
        else f"No new version: v{saved.version} already holds exactly this content{moved}."
    )
    st.rerun()


# -- what to run it on -----------------------------------------------------------------------


def _samples(services: Services) -> tuple[SampleSet | None, bytes]:
    """A samples file: uploaded, or the bundled sample chats."""
    uploaded = st.file_uploader(
        "Samples file (CSV or JSONL)",
        type=["csv", "tsv", "txt", "jsonl", "ndjson", "json"],
        key=keys.PLAY_UPLOAD,
    )
    if st.button("Use the bundled sample chats", key=keys.PLAY_USE_SAMPLE):
        st.session_state[keys.PLAY_SAMPLE_BYTES] = example_samples()
        st.session_state[keys.PLAY_SAMPLE_NAME] = "sample_chats.csv"
    if uploaded is not None:
        data, name = uploaded.getvalue(), uploaded.name
    elif st.session_state.get(keys.PLAY_SAMPLE_BYTES):
        data = st.session_state[keys.PLAY_SAMPLE_BYTES]
        name = st.session_state.get(keys.PLAY_SAMPLE_NAME, "samples.csv")
    else:
        return None, b""
    try:
        sample_set = load_samples_cached(services, data, name)
    except PlaygroundError as exc:
        show_error(exc)
        return None, b""
    st.caption(plain(f"{sample_set.filename}: {sample_set.describe()}"))
    return sample_set, data


def _run_panel(services: Services, prompt: PromptVersion) -> dict[str, Any] | None:
    """The run's input: hand-filled variables (one row) or the first N rows of a file."""
    mode = st.radio("Run on", [ONE_ROW, FIRST_ROWS], key=keys.PLAY_MODE, horizontal=True)
    with st.expander("Samples file", expanded=mode == FIRST_ROWS):
        sample_set, data = _samples(services)
        if mode == ONE_ROW and sample_set is not None:
            _fill_from_row(sample_set, prompt)
    if mode == FIRST_ROWS:
        if sample_set is None:
            st.info("Upload a samples file or use the bundled sample chats.")
            return None
        first = int(
            st.number_input(
                "Rows (from the top of the file)",
                min_value=1,
                max_value=min(MAX_FIRST_N, max(1, len(sample_set.samples))),
                value=min(3, max(1, len(sample_set.samples))),
                key=keys.PLAY_FIRST_N,
            )
        )
        return {"samples": sample_set, "hash": file_hash(data), "first": first}
    values: dict[str, str] = {}
    if not prompt.variables:
        st.caption("This prompt has no variables.")
    for var in prompt.variables:
        values[var] = st.text_area(f"{{{{{var}}}}}", key=keys.PLAY_VAR_PREFIX + var, height=120)
    chat = st.session_state.get(keys.PLAY_FILLED_CHAT)
    return {"variables": values, "chat": chat}


def _fill_from_row(sample_set: SampleSet, prompt: PromptVersion) -> None:
    ids = [x.id for x in sample_set.samples]
    picked = st.selectbox("Fill the variables from row", ids, index=None, key=keys.PLAY_ROW)
    if picked is None:
        return
    sample = sample_set.samples[ids.index(picked)]
    st.session_state[keys.PLAY_FILLED_CHAT] = sample.messages
    if st.session_state.get(keys.PLAY_FILLED) != (sample_set.filename, picked):
        for var in prompt.variables:
            if var in sample.variables:
                st.session_state[keys.PLAY_VAR_PREFIX + var] = sample.variables[var]
        st.session_state[keys.PLAY_FILLED] = (sample_set.filename, picked)


def _start(services: Services, name: str, choice: str, request: dict[str, Any]) -> None:
    """Plan (pre-flight on exactly what runs), then hand it to the background worker."""
    if "variables" in request:
        variables: dict[str, str] = request["variables"]
        empty = [k for k, v in variables.items() if not v.strip()]
        if empty:
            st.warning(plain(f"Fill in {', '.join(map(repr, empty))} first."))
            return
        samples = comparisons.one_sample(variables, request["chat"])
        options: dict[str, Any] = {}
    else:
        samples = request["samples"]
        options = {"samples_hash": request["hash"], "first": request["first"]}
    try:
        with st.spinner("Connecting to the model…"):
            planned = comparisons.plan(
                services,
                prompt=name,
                variants=[choice],
                samples=samples,
                concurrency=min(services.settings.concurrency, len(samples.samples)),
                kind="playground",
                estimate=False,
                **options,
            )
            record = comparisons.start(
                services, planned, background=True, actor=current_actor(services.settings)
            )
    except PlaygroundError as exc:
        show_error(exc, prefix="Nothing was sent.")
        return
    st.session_state[keys.PLAY_RUN_ID] = record.id
    st.session_state.pop(keys.PLAY_INSPECT, None)
    st.rerun()


# -- results ---------------------------------------------------------------------------------


def _last_run(services: Services) -> RunRecord | None:
    run_id: str | None = st.session_state.get(keys.PLAY_RUN_ID)
    if not run_id:
        return None
    try:
        return services.store.get_run(run_id)
    except PlaygroundError:  # deleted on the Runs page
        st.session_state.pop(keys.PLAY_RUN_ID, None)
        return None


@st.fragment(run_every=POLL_S)
def _poll(services: Services, run_id: str) -> None:
    """Until the calls are in the store: "Running…" and Cancel; then the whole page once more."""
    record = services.store.get_run(run_id)
    if record.status != "running":
        st.rerun(scope="app")
    cancelling = st.button("Cancel", key=keys.PLAY_CANCEL)
    if cancelling and not worker.cancel_run(run_id):
        st.caption("This run is not running in this process; it cannot be cancelled from here.")
    progress = f"{record.done}/{record.total}, " if record.total > 1 else ""
    st.info(
        "Cancelling…" if cancelling else f"Running… ({progress}{elapsed_s(record):.0f} s)",
        icon=":material/hourglass_top:",
    )


def _show_results(services: Services, record: RunRecord) -> None:
    results = comparisons.ordered_results(services, record)
    if not results:
        if record.status == "failed":
            st.error(f"The call failed: {plain(record.error or 'no reason recorded')}")
        elif record.status == "cancelled":
            st.info("Cancelled before the model answered.")
        else:
            st.warning(f"The call ended {record.status} without an answer.")
        return
    result = results[0]
    if len(results) > 1:
        st.subheader(f"Outputs ({len(results)} rows, {sum(not r.ok for r in results)} errors)")
        st.dataframe(_outputs_table(results), hide_index=True, key="playground.outputs")
        ids = [r.sample_id for r in results]
        keep_valid(keys.PLAY_INSPECT, ids)
        picked = st.selectbox("Row to inspect", ids, key=keys.PLAY_INSPECT)
        result = results[ids.index(picked)] if picked in ids else result
    _show_one(services, record, result)


def _outputs_table(results: list[Result]) -> pd.DataFrame:
    fields: dict[str, None] = {}
    for r in results:
        fields.update(dict.fromkeys(r.output or {}))
    return pd.DataFrame(
        [
            {
                "sample_id": r.sample_id,
                **{f: display_value((r.output or {}).get(f)) for f in fields},
                "error": r.error or "",
            }
            for r in results
        ]
    )


def _show_one(services: Services, record: RunRecord, result: Result) -> None:
    st.subheader(f"Output · {result.sample_id}" if record.total > 1 else "Output")
    # Across the whole page: in half of it the values are cut ("914 …").
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Valid", "yes" if result.error is None else "no")
    c2.metric("Attempts", result.attempts)
    c3.metric("Latency", f"{result.latency_ms or 0:.0f} ms")
    c4.metric("Tokens in/out", f"{result.input_tokens or 0}/{result.output_tokens or 0}")
    c5.metric("Cost", "n/a" if result.cost_usd is None else f"${result.cost_usd:.6f}")
    out_col, trace_col = st.columns([1, 1])
    with out_col:
        if result.error:
            st.error(plain(result.error))
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
            _sent(services, record, result)
    with trace_col:
        st.subheader("Trace")
        trace_panel(services, result.trace_id, key="playground.trace")


def _ran_prompt(services: Services, record: RunRecord) -> PromptVersion | None:
    """What the run ran: a draft's content from the run's meta, or the version it used."""
    key = record.variants[0] if record.variants else ""
    drafted = (record.meta.get("drafts") or {}).get(key)
    if isinstance(drafted, dict):
        return PromptVersion(
            name=record.prompt_name,
            version=int(drafted.get("base_version") or 0),
            type="chat" if drafted.get("type") == "chat" else "text",
            prompt=drafted.get("prompt") or "",
            config=dict(drafted.get("config") or {}),
            labels=[],
            tags=[],
            commit_message=None,
            draft=str(drafted.get("name")),
        )
    version = (record.meta.get("versions") or {}).get(key)
    if version is None:
        return None
    return find_version(versions_of(services, record.prompt_name), Variant(version=int(version)))


def _sent(services: Services, record: RunRecord, result: Result) -> None:
    """The messages as compiled from the run's stored sample, and the call's parameters."""
    prompt = _ran_prompt(services, record)
    sample = next((s for s in services.store.samples(record.id) if s.id == result.sample_id), None)
    if prompt is not None and sample is not None:
        try:
            render_messages(prompt.compile(sample.variables, sample.messages))
        except PlaygroundError as exc:
            show_error(exc)
    params = record.meta.get("parameters") or {}
    st.json(params.get(record.variants[0], {}) if record.variants else {})


def _who(services: Services) -> str:
    """What a draft records as its last editor."""
    return str(current_actor(services.settings))
