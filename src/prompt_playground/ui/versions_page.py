"""Versions & Promote: every version with labels and commit messages, diffs, a new version
editor (schema checked before saving), promotion with a confirming dialog, and label history."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from prompt_playground import comparisons
from prompt_playground.bootstrap import Services
from prompt_playground.drafts import from_version, parse_texts
from prompt_playground.errors import PlaygroundError
from prompt_playground.prompts import PromptDiff, PromptVersion, diff_versions
from prompt_playground.ui import keys
from prompt_playground.ui.identity import current_actor
from prompt_playground.ui.services import clear_prompt_cache, get_services
from prompt_playground.ui.widgets import (
    embedded_model_notice,
    plain,
    prompt_picker,
    show_error,
    sidebar_status,
    version_label,
    versions_of,
)


def render() -> None:
    services = get_services()
    sidebar_status(services)
    st.title("Versions & Promote")
    embedded_model_notice(services)
    flash = st.session_state.pop(keys.VERSIONS_FLASH, None)
    if flash:
        st.success(plain(flash))
    name = prompt_picker(services, keys.VERSIONS_PROMPT)
    if name is None:
        return
    try:
        versions = versions_of(services, name)
    except PlaygroundError as exc:
        show_error(exc)
        return
    _version_table(versions)
    tab_diff, tab_edit, tab_promote, tab_history = st.tabs(
        ["Diff", "New version", "Promote", "Label history"],
        key=keys.VERSIONS_TABS,
        on_change="rerun",
    )
    with tab_diff:
        _diff_section(versions)
    with tab_edit:
        _edit_section(services, name, versions)
    with tab_promote:
        _promote_section(services, name, versions)
    with tab_history:
        _history_section(services, name, versions)
    opened = st.session_state.get(keys.VERSIONS_PROMOTE_OPEN)
    if opened and opened[0] == name:
        _promote_dialog(services, name, int(opened[1]), str(opened[2]))


def _version_table(versions: list[PromptVersion]) -> None:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version": v.version,
                    "labels": ", ".join(v.labels),
                    "commit message": v.commit_message or "",
                    "variables": ", ".join(v.variables),
                }
                for v in versions
            ]
        ),
        hide_index=True,
        key="versions.table",
    )


def show_diff(diff: PromptDiff) -> None:
    if diff.unchanged:
        st.info(f"v{diff.old_version} and v{diff.new_version} are the same.")
        return
    for title, lines in (
        ("Messages", diff.messages),
        ("Config", diff.config),
        ("Response schema", diff.schema),
    ):
        st.markdown(f"**{title}**")
        if lines:
            st.code("\n".join(lines), language="diff")
        else:
            st.caption("unchanged")


def _by_version(versions: list[PromptVersion], number: int) -> PromptVersion:
    return next(v for v in versions if v.version == number)


def _diff_section(versions: list[PromptVersion]) -> None:
    numbers = [v.version for v in versions]
    if len(numbers) < 2:
        st.caption("Only one version: nothing to diff.")
        return
    c1, c2 = st.columns(2)
    old = c1.selectbox(
        "Old", numbers, index=1, key=keys.VERSIONS_DIFF_OLD, format_func=lambda n: f"v{n}"
    )
    new = c2.selectbox(
        "New", numbers, index=0, key=keys.VERSIONS_DIFF_NEW, format_func=lambda n: f"v{n}"
    )
    show_diff(diff_versions(_by_version(versions, old), _by_version(versions, new)))


# -- new version ---------------------------------------------------------------------------


def _edit_section(services: Services, name: str, versions: list[PromptVersion]) -> None:
    numbers = [v.version for v in versions]
    base_no = st.selectbox(
        "Start from",
        numbers,
        key=keys.VERSIONS_EDIT_BASE,
        format_func=lambda n: version_label(_by_version(versions, n)),
    )
    base = _by_version(versions, base_no)
    if st.session_state.get(keys.VERSIONS_EDIT_LOADED) != (name, base_no):
        base_config = {k: v for k, v in base.config.items() if k != "response_schema"}
        st.session_state[keys.VERSIONS_EDIT_MESSAGES] = (
            base.prompt if isinstance(base.prompt, str) else json.dumps(base.prompt, indent=2)
        )
        st.session_state[keys.VERSIONS_EDIT_CONFIG] = json.dumps(base_config, indent=2)
        st.session_state[keys.VERSIONS_EDIT_SCHEMA] = json.dumps(
            base.config.get("response_schema") or {}, indent=2
        )
        st.session_state[keys.VERSIONS_EDIT_COMMIT] = ""
        st.session_state[keys.VERSIONS_EDIT_LOADED] = (name, base_no)
    hint = "JSON list of {role, content}" if base.type == "chat" else "text"
    messages = st.text_area(f"Messages ({hint})", key=keys.VERSIONS_EDIT_MESSAGES, height=240)
    config = st.text_area("Config (JSON, without the schema)", key=keys.VERSIONS_EDIT_CONFIG)
    schema = st.text_area(
        "Response schema (JSON Schema)", key=keys.VERSIONS_EDIT_SCHEMA, height=240
    )
    commit = st.text_input("Commit message", key=keys.VERSIONS_EDIT_COMMIT)
    if st.button("Save as new version", type="primary", key=keys.VERSIONS_SAVE):
        try:
            prompt, full_config = parse_edit(base.type, messages, config, schema)
            edited = replace(
                from_version(base, "versions-editor"), prompt=prompt, config=full_config
            )
            saved = comparisons.save_draft(
                services,
                edited,
                commit_message=commit,
                actor=current_actor(services.settings),
            )
        except PlaygroundError as exc:
            show_error(exc, prefix="Not saved.")
            return
        clear_prompt_cache()
        st.session_state.pop(keys.VERSIONS_EDIT_LOADED, None)
        st.session_state[keys.VERSIONS_FLASH] = (
            f"Saved {name} v{saved.version}. Promote it when it is ready."
            if saved.created
            else f"Not saved: v{saved.version} already holds exactly this content."
        )
        st.rerun()


def parse_edit(
    type_: str, messages: str, config: str, schema: str
) -> tuple[str | list[dict[str, Any]], dict[str, Any]]:
    """Check the editor's texts; the schema must build a model before anything is saved."""
    return parse_texts(type_, messages, config, schema, where="The new version")


# -- promote -------------------------------------------------------------------------------


def _promote_section(services: Services, name: str, versions: list[PromptVersion]) -> None:
    numbers = [v.version for v in versions]
    version = st.selectbox(
        "Version to promote",
        numbers,
        key=keys.VERSIONS_PROMOTE_VERSION,
        format_func=lambda n: version_label(_by_version(versions, n)),
    )
    label = st.text_input(
        "Label", value="production", key=keys.VERSIONS_PROMOTE_LABEL, help="e.g. production"
    ).strip()
    if st.button("Promote…", key="versions.promote", disabled=not label):
        st.session_state[keys.VERSIONS_PROMOTE_OPEN] = (name, version, label)
        st.session_state.pop(keys.VERSIONS_PROMOTE_CONFIRM_TEXT, None)


def _close_dialog() -> None:
    st.session_state.pop(keys.VERSIONS_PROMOTE_OPEN, None)


@st.dialog("Promote a version", width="large", on_dismiss=_close_dialog)
def _promote_dialog(services: Services, name: str, version: int, label: str) -> None:
    protected = label in services.settings.protected_labels
    try:
        versions = versions_of(services, name)
        target = _by_version(versions, version)
        holder = next((v for v in versions if label in v.labels), None)
    except (PlaygroundError, StopIteration) as exc:
        show_error(exc if isinstance(exc, PlaygroundError) else PlaygroundError("Reload."))
        return
    if holder is None:
        st.markdown(f"Label **{plain(label)}** is new: it will point at **v{version}**.")
    elif holder.version == version:
        st.info(f"v{version} already holds '{plain(label)}'. Nothing to do.")
    else:
        st.markdown(
            f"Move **{plain(label)}** of **{plain(name)}**: v{holder.version} → **v{version}**"
        )
        show_diff(diff_versions(holder, target))
    evidence = _evidence(services, name, version, label)
    refusal = comparisons.promotion_refusal(
        services, label=label, actor=current_actor(services.settings)
    )
    blocked = evidence is not None and evidence.failed and protected
    reason = st.text_area(
        "Reason (required to override a failing gate on a protected label)"
        if blocked
        else "Reason (optional, kept in the label history)",
        key=keys.VERSIONS_PROMOTE_REASON,
    ).strip()
    confirmed = not blocked or bool(reason)
    if protected:
        typed = st.text_input(
            f"'{label}' is protected: type the label to confirm",
            key=keys.VERSIONS_PROMOTE_CONFIRM_TEXT,
        )
        confirmed = confirmed and typed.strip() == label
    if refusal is not None:
        st.error(plain(refusal), icon=":material/lock:")
    c1, c2 = st.columns(2)
    if c1.button(
        f"Promote v{version} to {label}",
        type="primary",
        key=keys.VERSIONS_PROMOTE_CONFIRM,
        disabled=not confirmed or refusal is not None,
        help=refusal,
    ) and promote(services, name, version, label, reason or None, evidence):
        _close_dialog()
        st.rerun()
    if c2.button("Cancel", key="versions.promote_cancel"):
        _close_dialog()
        st.rerun()


def _evidence(
    services: Services, name: str, version: int, label: str
) -> comparisons.PromotionEvidence | None:
    """The gate on the latest comparison with the label's holder: each rule with its numbers
    and a link to the run."""
    try:
        evidence = comparisons.promotion_evidence(
            services, prompt=name, version=version, label=label
        )
    except PlaygroundError as exc:
        show_error(exc, prefix="The evidence could not be checked.")
        return None
    if not evidence.needed:
        return evidence
    gate = evidence.gate
    if gate is None:
        st.warning(
            f"No evidence: no completed comparison of v{version} with v{evidence.holder} (the "
            f"holder of '{plain(label)}'). Compare them first on the Compare page."
        )
        return evidence
    head = "passes" if gate.passed else "FAILS"
    (st.success if gate.passed else st.warning)(
        f"Promotion gate {head}: {plain(gate.candidate)} over {plain(gate.baseline)} on run "
        f"{plain(gate.run_id)} ({gate.n_samples} samples"
        + (f" × {gate.repeats} repeats" if gate.repeats > 1 else "")
        + ")"
    )
    for rule in gate.rules:
        mark = ":green[✓]" if rule.passed else ":red[✗]"
        st.markdown(f"{mark} **{rule.rule}** — {plain(rule.detail)}")
    if st.button(f"Open run {gate.run_id}", key=keys.VERSIONS_PROMOTE_OPEN_RUN):
        st.session_state[keys.COMPARE_RUN_ID] = gate.run_id
        _close_dialog()
        st.switch_page("pages/compare.py")
    return evidence


def promote(
    services: Services,
    name: str,
    version: int,
    label: str,
    note: str | None = None,
    evidence: comparisons.PromotionEvidence | None = None,
) -> bool:
    """Move the label and record the move; the outcome is flashed on the next run."""
    try:
        promotion = comparisons.promote(
            services,
            prompt=name,
            version=version,
            label=label,
            actor=current_actor(services.settings),
            reason=note,
            evidence=evidence,
        )
    except PlaygroundError as exc:
        show_error(exc, prefix="Not promoted.")
        return False
    clear_prompt_cache()
    if promotion.changed:
        before = f"v{promotion.previous_version}" if promotion.previous_version else "nowhere"
        st.session_state[keys.VERSIONS_FLASH] = f"'{label}' moved: {before} → v{version}."
    else:
        st.session_state[keys.VERSIONS_FLASH] = f"v{version} already held '{label}'."
    return True


# -- history -------------------------------------------------------------------------------


def _history_section(services: Services, name: str, versions: list[PromptVersion]) -> None:
    try:
        moves = comparisons.history(services, name)
    except PlaygroundError as exc:
        show_error(exc)
        return
    if not moves:
        st.caption("No label moves recorded by this playground yet.")
        return
    existing = {v.version for v in versions}
    for move in moves:
        c1, c2 = st.columns([4, 1])
        before = f"v{move.from_version}" if move.from_version is not None else "—"
        note = f" · {plain(move.note)}" if move.note else ""
        who = f" · by {plain(move.actor)}" if move.actor else ""
        c1.markdown(
            f"`{move.at}` **{plain(move.label)}**: {before} → v{move.to_version}{who}{note}"
        )
        if (
            move.from_version is not None
            and move.from_version in existing
            and c2.button(
                f"Roll back to v{move.from_version}",
                key=f"{keys.VERSIONS_ROLLBACK_PREFIX}{move.id}",
            )
        ):
            st.session_state[keys.VERSIONS_PROMOTE_OPEN] = (
                name,
                move.from_version,
                move.label,
            )
            st.rerun()
