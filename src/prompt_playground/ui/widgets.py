"""Widgets every page shares: connection status, error display, prompt/variant pickers, traces."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

from prompt_playground.bootstrap import Services
from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Variant
from prompt_playground.prompts import PromptVersion
from prompt_playground.ui import services as svc

logger = logging.getLogger(__name__)

# Everything Markdown (and Streamlit's directives: :red[...], :material/...:, $LaTeX$) gives a
# meaning to; a backslash before any ASCII punctuation shows it as itself (CommonMark).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^&\"'])")
# GFM turns bare URLs (http://…, www.…) and e-mail addresses into links after escapes are
# resolved; an invisible WORD JOINER inside each trigger keeps them text.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)|(?<=@)")


def plain(text: object) -> str:
    """``text`` as Markdown that shows it exactly as written: no link, image, emphasis, heading,
    HTML, colour, icon or formula.

    Use it for everything remote or model-written (prompt names, commit messages, labels,
    errors, file, dataset and observation names, outputs) that goes into ``st.markdown``,
    ``st.caption``, ``st.error``/``warning``/``info``/``success``, ``st.spinner`` or a widget
    label, all of which render Markdown; a shared Langfuse project or a model could otherwise
    inject ``![x](http://attacker/pixel.png)`` or ``[click](javascript:...)``. Where no Markdown
    is wanted around it, ``st.text``/``st.code``/``st.json`` and dataframes are plain already.
    Bare URLs and e-mail addresses get an invisible word joiner so they are not auto-linked.
    """
    unlinked = _AUTOLINK.sub("\u2060", str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked).replace("\n", "  \n")


def show_error(exc: BaseException, *, prefix: str | None = None) -> None:
    """An error as a message a person can act on, with details in an expander (no traceback)."""
    if isinstance(exc, PlaygroundError):
        message, details = exc.message, exc.details
    else:
        logger.error("Unexpected error shown to the user", exc_info=exc)
        message = f"Something went wrong: {type(exc).__name__}: {exc}"
        details = "This is a bug in the playground; the server log has the traceback."
    shown = plain(message)
    st.error(f"{prefix} {shown}" if prefix else shown, icon=":material/warning:")
    if details:
        with st.expander("Details"):
            st.code(details, language=None)


def sidebar_status(services: Services) -> None:
    """Where the playground is connected (Langfuse, LLM, run store) and whether it answers; no
    secrets."""
    with st.sidebar:
        st.subheader("Connections")
        for status in svc.connection_statuses(
            services, svc.cache_key(services), services.endpoint_resolved
        ):
            where = "embedded" if status.embedded else "remote"
            icon = ":green[:material/check_circle:]" if status.ok else ":red[:material/error:]"
            st.markdown(f"{icon} **{plain(status.name)}** · {where}")
            st.caption(f"{plain(status.target)} — {plain(status.message)}")
        if st.button("Recheck", key="sidebar.recheck"):
            svc.connection_statuses.clear()
            st.rerun()


CONNECT_MODEL_HELP = """\
Set these before `make run` (or `streamlit run app.py`), then restart the app:

**OpenAI**
```bash
export OPENAI_API_KEY=sk-...
export PLAYGROUND_MODEL=gpt-4o-mini   # optional; a prompt's config.model wins
```

**Any OpenAI-compatible server** (Ollama, vLLM, LM Studio, llama.cpp, a gateway)
```bash
export OPENAI_BASE_URL=http://localhost:11434/v1
export OPENAI_API_KEY=anything-the-server-accepts
export PLAYGROUND_MODEL=llama3.1:8b
```

Details: README → "Connecting a real model".
"""


def embedded_model_notice(services: Services) -> None:
    """When the embedded model answers: it is for trying the app, not for judging prompts; one
    click shows how to connect a real one."""
    settings = services.settings
    if not settings.embedded_model:
        return
    what = (
        "SmolLM2-135M, a 135M-parameter model running on this machine"
        if settings.local_model_path is None
        else f"the local model {settings.local_model_path.name}"
    )
    text, action = st.columns([3, 1], vertical_alignment="center")
    with text:
        st.info(
            f"Answers come from {what}: enough to try the app, not to judge a prompt.",
            icon=":material/info:",
        )
    with action, st.popover("Connect a real model", icon=":material/link:"):
        st.markdown(CONNECT_MODEL_HELP)


def concurrency_cap_note(services: Services, requested: int) -> None:
    """Say so when a run will use fewer calls in flight than asked (the embedded model serves
    best at its own number; more would only make each call wait longer)."""
    if not services.settings.embedded_model:
        return
    from prompt_playground.local_model import DEFAULT_PARALLEL

    if requested > DEFAULT_PARALLEL:
        st.caption(
            f":material/speed: The embedded model answers {DEFAULT_PARALLEL} call(s) at once "
            f"fastest, so this run uses {DEFAULT_PARALLEL} instead of {requested}."
        )


def keep_valid(key: str, options: Sequence[Any]) -> None:
    """Forget a widget's remembered choice that is no longer among its options."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)


def prompt_picker(services: Services, key: str) -> str | None:
    """A selectbox of the prompts in Langfuse (None when there are none)."""
    try:
        prompts = svc.list_prompts(services, svc.cache_key(services))
    except PlaygroundError as exc:
        show_error(exc)
        return None
    names = [p.name for p in prompts]
    if not names:
        st.info(
            "There are no prompts in Langfuse yet. Create one in Langfuse or with "
            "`prompt-playground sync FILE`."
        )
        return None
    keep_valid(key, names)
    chosen: str | None = st.selectbox("Prompt", names, key=key)
    return chosen


def prompt_and_variants(
    services: Services, key: str, *, drafts: bool = False
) -> tuple[str, list[str]] | None:
    """The prompt picker, then that prompt's label/version options (None: nothing to pick);
    with ``drafts``, its unsaved drafts too (``draft:<name>``)."""
    name = prompt_picker(services, key)
    if name is None:
        return None
    try:
        options = variant_options(services, name)
        if drafts:
            options += [d.key for d in services.store.drafts(name)]
        return name, options
    except PlaygroundError as exc:
        show_error(exc)
        return None


def cached_variant(services: Services, name: str, key: str) -> PromptVersion | None:
    """What a variant key names now: a draft from the run store, or a version from the cached
    versions (None: not there). For previews; runs resolve through ``comparisons.plan``."""
    variant = Variant.parse(key)
    if variant.draft is not None:
        if not services.store.has_draft(name, variant.draft):
            return None
        return services.store.get_draft(name, variant.draft).as_prompt_version()
    return find_version(versions_of(services, name), variant)


def variant_options(services: Services, name: str) -> list[str]:
    """Labels first (production, staging, …, latest), then every version as ``v3``."""
    versions = versions_of(services, name)
    labels: list[str] = []
    for v in versions:
        for label in v.labels:
            if label not in labels:
                labels.append(label)
    labels.sort(key=lambda lbl: (lbl == "latest", lbl != "production", lbl))
    return labels + [f"v{v.version}" for v in versions]


def versions_of(services: Services, name: str) -> list[PromptVersion]:
    return svc.prompt_versions(services, svc.cache_key(services), name)


def find_version(versions: Sequence[PromptVersion], variant: Variant) -> PromptVersion | None:
    """The version a label or version number picks out of ``versions`` (None: not there)."""
    return next(
        (
            v
            for v in versions
            if (variant.version is not None and v.version == variant.version)
            or (variant.label is not None and variant.label in v.labels)
        ),
        None,
    )


def version_label(version: PromptVersion) -> str:
    labels = f" [{', '.join(version.labels)}]" if version.labels else ""
    return f"v{version.version}{labels}"


def render_messages(messages: Sequence[dict[str, Any]]) -> None:
    for m in messages:
        if m.get("type") == "placeholder":
            st.caption(f"placeholder: {plain(m.get('name'))}")
            continue
        role = str(m.get("role", "user"))
        with st.chat_message("assistant" if role == "assistant" else "user"):
            st.caption(plain(role))
            st.text(str(m.get("content", "")))


# -- traces --------------------------------------------------------------------------------


def trace_panel(services: Services, trace_id: str | None, *, key: str) -> None:
    """The observation tree of one trace (timings, input/output, model, usage), or a link."""
    if not trace_id:
        st.caption("No trace for this result.")
        return
    url = services.trace_url(trace_id)
    if url:
        st.link_button("Open in Langfuse", url, key=f"{key}.link")
    try:
        observations = svc.trace_observations(services, svc.cache_key(services), trace_id)
    except svc.TraceNotReadyError:
        st.caption(f"Trace {plain(trace_id)} has no observations yet (still being sent?).")
        return
    except PlaygroundError as exc:
        show_error(exc)
        return
    by_parent: dict[str | None, list[Any]] = {}
    ids = {o.id for o in observations}
    for o in observations:
        parent = o.parent_observation_id if o.parent_observation_id in ids else None
        by_parent.setdefault(parent, []).append(o)
    for children in by_parent.values():
        children.sort(key=lambda o: o.start_time or 0)
    st.caption(f"Trace {plain(trace_id)} · {len(observations)} observation(s)")

    def show(obs: Any, depth: int) -> None:
        duration = ""
        if obs.start_time and obs.end_time:
            duration = f" · {(obs.end_time - obs.start_time).total_seconds() * 1000:.0f} ms"
        model = f" · {plain(obs.model)}" if getattr(obs, "model", None) else ""
        indent = "↳ " * depth
        title = f"{indent}{plain(obs.type)} **{plain(obs.name or obs.id)}**{model}{duration}"
        st.markdown(title)
        with st.expander("input / output / usage", expanded=False):
            usage = getattr(obs, "usage_details", None)
            if usage:
                st.caption(plain("usage: " + ", ".join(f"{k}={v}" for k, v in usage.items())))
            if obs.level and str(obs.level) not in ("DEFAULT", "ObservationLevel.DEFAULT"):
                st.caption(plain(f"level: {obs.level} {obs.status_message or ''}"))
            st.markdown("**input**")
            st.code(_pretty(obs.input), language="json")
            st.markdown("**output**")
            st.code(_pretty(obs.output), language="json")
        for child in by_parent.get(obs.id, []):
            show(child, depth + 1)

    for root in by_parent.get(None, []):
        show(root, 0)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value[:5000])
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)[:5000]
