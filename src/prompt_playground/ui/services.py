"""Services built once per process (``st.cache_resource``), and cached reads shared by pages.

A failure to start (bad settings, Langfuse unreachable) renders a clear error page, never a
traceback; the build is retried on the next rerun because failures are not cached.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any, NoReturn

import streamlit as st
from pydantic import ValidationError

from prompt_playground.adapters import TraceNotReadyError as TraceNotReadyError
from prompt_playground.bootstrap import ConnectionStatus, Services, build_services
from prompt_playground.errors import PlaygroundError
from prompt_playground.history import LabelHistory
from prompt_playground.prompts import PromptSummary, PromptVersion
from prompt_playground.samples import SampleLimits, SampleSet, load_samples
from prompt_playground.settings import Settings

logger = logging.getLogger(__name__)


_built: list[Services] = []


@st.cache_resource(show_spinner="Starting Langfuse and the run store…")
def _services() -> Services:
    services = build_services(Settings())
    _built.append(services)
    return services


def get_services() -> Services:
    """The process's services; on failure, an error page and ``st.stop()``.

    Every page and the router call this first.
    """
    try:
        services = _services()
        follow_upload_limit(services.settings.max_file_mb)
        return services
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        _stop(
            "The settings are invalid. Fix the environment variables and reload.",
            problems,
        )
    except PlaygroundError as exc:
        _stop(f"The playground could not start: {exc.message}", exc.details)
    except OSError as exc:
        _stop(f"The playground could not start: {exc}", None)


def follow_upload_limit(max_file_mb: float) -> None:
    """Make Streamlit's own upload cap (``server.maxUploadSize``, 200 MB by default) the samples
    file limit, so a bigger upload is refused before Streamlit holds it in memory.

    The server reads the option on every upload and ``st.file_uploader`` when it renders, so
    setting it from the first script run covers every upload. ``st.set_option`` refuses server
    options; ``streamlit.config.set_option`` is what Streamlit itself uses for CLI flags.
    """
    from streamlit import config

    megabytes = max(1, math.ceil(max_file_mb))
    if config.get_option("server.maxUploadSize") != megabytes:
        config.set_option("server.maxUploadSize", megabytes, where_defined="PLAYGROUND_MAX_FILE_MB")


def _stop(message: str, details: str | None) -> NoReturn:
    from prompt_playground.ui.widgets import plain  # widgets imports this module

    st.error(plain(message), icon=":material/block:")
    if details:
        with st.expander("Details"):
            st.code(details, language=None)
    st.stop()


def get_history(services: Services) -> LabelHistory:
    return services.history


def reset_services() -> None:
    """Close and forget the cached services (tests; a settings change)."""
    while _built:
        _built.pop().close()
    _services.clear()
    clear_prompt_cache()
    dataset_names.clear()


# -- cached reads (short TTL; cleared after writes) ----------------------------------------


@st.cache_data(ttl=10, show_spinner=False)
def list_prompts(_services: Services, cache_key: str) -> list[PromptSummary]:
    return _services.prompts.list_prompts()


@st.cache_data(ttl=10, show_spinner=False)
def prompt_versions(_services: Services, cache_key: str, name: str) -> list[PromptVersion]:
    return [_strip_client(v) for v in _services.prompts.versions(name)]


def _strip_client(version: PromptVersion) -> PromptVersion:
    return replace(version, client=None)


@st.cache_data(ttl=10, show_spinner=False)
def dataset_names(_services: Services, cache_key: str) -> list[str]:
    return _services.datasets.names()


def load_samples_cached(services: Services, data: bytes, name: str) -> SampleSet:
    """A samples file parsed once per content and limits (pages rerun on every click)."""
    return _parsed_samples(data, name, services.settings.sample_limits)


@st.cache_data(max_entries=4, show_spinner="Reading the samples…")
def _parsed_samples(data: bytes, name: str, limits: SampleLimits) -> SampleSet:
    return load_samples(data, name, limits=limits)


@st.cache_resource(ttl=600, max_entries=256, show_spinner=False)
def trace_observations(_services: Services, cache_key: str, trace_id: str) -> list[Any]:
    """A finished result's trace, read once (``TraceNotReadyError`` is not cached).

    A trace does not change once its result is stored, so reruns and the live refresh of a
    running comparison read it from here instead of from Langfuse.
    """
    return _services.traces.observations(trace_id)


def clear_prompt_cache() -> None:
    list_prompts.clear()
    prompt_versions.clear()


@st.cache_data(ttl=30, show_spinner=False)
def connection_statuses(
    _services: Services, cache_key: str, endpoint_resolved: bool
) -> list[ConnectionStatus]:
    """Cached for 30 s, and read again once the first run has started the embedded model (the
    sidebar said "starts on the first run" after it had)."""
    return [_services.langfuse_status(), _services.llm_status(), _services.store_status()]


def cache_key(services: Services) -> str:
    """A key that changes when the services object does (so caches never mix instances)."""
    return f"{id(services)}:{services.langfuse_url}"
