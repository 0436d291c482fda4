"""The composition root: settings in, wired services out (the only place that starts things).

With no Langfuse URL it starts the embedded local-langfuse on a free loopback port (data under
``settings.data_dir``) and seeds the example prompt; with no OpenAI key or base URL it uses the
embedded local model, started on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from langfuse import Langfuse
from pydantic import SecretStr

from prompt_playground.adapters import (
    LangfuseDatasetRuns,
    LangfuseDatasets,
    LangfuseScores,
    LangfuseTraces,
)
from prompt_playground.errors import ConfigurationError, PlaygroundError
from prompt_playground.examples import example_prompt as example_prompt_spec
from prompt_playground.examples import example_samples_bytes as example_samples
from prompt_playground.history import LabelHistory
from prompt_playground.llm import LLM, Endpoint, InstructorLLM, default_mode
from prompt_playground.prompts import LangfusePromptStore
from prompt_playground.runner import Runner
from prompt_playground.runstore import RunStore
from prompt_playground.settings import Settings
from prompt_playground.sqlite import private_dir

__all__ = [
    "ConnectionStatus",
    "Services",
    "build_services",
    "example_prompt_spec",
    "example_samples",
    "local_endpoint",
    "resolve_endpoint",
    "seed_examples",
]

if TYPE_CHECKING:
    from prompt_playground.local_model import LocalModelServer

logger = logging.getLogger(__name__)

DEFAULT_REMOTE_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class ConnectionStatus:
    """What the sidebar shows: where we are connected, and whether it answers."""

    name: str
    target: str
    embedded: bool
    ok: bool
    message: str


@dataclass
class Services:
    """Everything the pages and the CLI use, built once per process."""

    settings: Settings
    langfuse: Langfuse
    langfuse_url: str
    prompts: LangfusePromptStore
    store: RunStore
    _endpoint_factory: Callable[[], Endpoint]
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _endpoint: Endpoint | None = None
    _history: LabelHistory | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def history(self) -> LabelHistory:
        """Label moves recorded by every entry point (opened on first use)."""
        with self._lock:
            if self._history is None:
                self._history = LabelHistory(self.settings.history_target)
            return self._history

    @property
    def datasets(self) -> LangfuseDatasets:
        return LangfuseDatasets(self.langfuse, base_url=self.langfuse_url)

    @property
    def dataset_runs(self) -> LangfuseDatasetRuns:
        public_key, secret_key = self.langfuse_keys()
        return LangfuseDatasetRuns(
            base_url=self.langfuse_url, public_key=public_key, secret_key=secret_key
        )

    @property
    def scores(self) -> LangfuseScores:
        return LangfuseScores(self.langfuse, base_url=self.langfuse_url)

    @property
    def traces(self) -> LangfuseTraces:
        return LangfuseTraces(self.langfuse, base_url=self.langfuse_url)

    @property
    def embedded_langfuse(self) -> bool:
        return self.settings.embedded_langfuse

    @property
    def endpoint_resolved(self) -> bool:
        """Whether the endpoint is known yet (the embedded model starts on the first run)."""
        return self._endpoint is not None

    def endpoint(self) -> Endpoint:
        """The LLM endpoint (starting the embedded local model on first use)."""
        with self._lock:
            if self._endpoint is None:
                self._endpoint = self._endpoint_factory()
            return self._endpoint

    def llm(self) -> LLM:
        """A new client for the current event loop."""
        s = self.settings
        return InstructorLLM(
            self.endpoint(),
            timeout_s=s.timeout_s,
            http_retries=s.http_retries,
            validation_retries=s.validation_retries,
            langfuse_public_key=self.langfuse_keys()[0],
        )

    def runner(self) -> Runner:
        return Runner(
            store=self.store,
            llm_factory=self.llm,
            trace_url=self.trace_url,
            new_trace_id=Langfuse.create_trace_id,
            flush=self.langfuse.flush,
        )

    def trace_url(self, trace_id: str) -> str | None:
        """A link into the Langfuse UI; the embedded server has no UI (the app renders traces)."""
        if self.embedded_langfuse:
            return None
        try:
            return self.traces.url(trace_id)
        except Exception:  # noqa: BLE001 - a missing link must not fail a row
            logger.warning("Could not build a trace URL for %s", trace_id)
            return None

    def langfuse_status(self) -> ConnectionStatus:
        target = "embedded local-langfuse" if self.embedded_langfuse else self.langfuse_url
        try:
            response = httpx.get(
                f"{self.langfuse_url}/api/public/projects",
                auth=_basic(self.langfuse_keys()),
                timeout=5,
            )
        except httpx.HTTPError as exc:
            return ConnectionStatus(
                "Langfuse", target, self.embedded_langfuse, False, f"unreachable ({exc})"
            )
        if response.status_code in (401, 403):
            return ConnectionStatus(
                "Langfuse",
                target,
                self.embedded_langfuse,
                False,
                "keys refused: check LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY",
            )
        if response.status_code >= 400:
            return ConnectionStatus(
                "Langfuse", target, self.embedded_langfuse, False, f"HTTP {response.status_code}"
            )
        return ConnectionStatus("Langfuse", target, self.embedded_langfuse, True, "connected")

    def llm_status(self) -> ConnectionStatus:
        """Where calls go; the embedded model is not started just to report on it."""
        if self.settings.embedded_model and self._endpoint is None:
            return ConnectionStatus(
                "LLM",
                "embedded local model",
                True,
                True,
                "starts on the first run (SmolLM2 via llama.cpp on 127.0.0.1)",
            )
        try:
            endpoint = self.endpoint()
        except PlaygroundError as exc:
            return ConnectionStatus("LLM", "local model", True, False, exc.message)
        return ConnectionStatus("LLM", endpoint.display, endpoint.local, True, endpoint.description)

    def store_status(self) -> ConnectionStatus:
        """Where runs, drafts and label history live (a URL shown without its password)."""
        shared = self.settings.database_url is not None
        try:
            self.store.run_states(limit=1)
        except PlaygroundError as exc:
            return ConnectionStatus("Run store", self.store.where, not shared, False, exc.message)
        message = "shared by every replica and CLI run" if shared else "SQLite file"
        return ConnectionStatus("Run store", self.store.where, not shared, True, message)

    def langfuse_keys(self) -> tuple[str, SecretStr]:
        return _langfuse_keys(self.settings)

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                logger.exception("Error while shutting down")
        self._closers.clear()


def _basic(keys: tuple[str, SecretStr]) -> tuple[str, str]:
    return keys[0], keys[1].get_secret_value()


def _langfuse_keys(settings: Settings) -> tuple[str, SecretStr]:
    from local_langfuse.config import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY

    if settings.embedded_langfuse:
        return (
            settings.langfuse_public_key or DEFAULT_PUBLIC_KEY,
            settings.langfuse_secret_key or SecretStr(DEFAULT_SECRET_KEY),
        )
    if not settings.langfuse_public_key or settings.langfuse_secret_key is None:
        raise ConfigurationError(
            f"LANGFUSE_BASE_URL is {settings.langfuse_base_url}, but LANGFUSE_PUBLIC_KEY and "
            "LANGFUSE_SECRET_KEY are not both set. Copy them from the project's settings in "
            "Langfuse, or unset LANGFUSE_BASE_URL to use the embedded server."
        )
    return settings.langfuse_public_key, settings.langfuse_secret_key


def build_services(settings: Settings | None = None) -> Services:
    """Wire everything from settings (read from the environment when not given)."""
    settings = settings or Settings()
    closers: list[Callable[[], None]] = []
    public_key, secret_key = _langfuse_keys(settings)
    try:  # first, so that no component creates the data directory world-readable
        private_dir(settings.data_dir)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the data directory {settings.data_dir}: {exc}. "
            "Set PLAYGROUND_DATA_DIR to a writable place."
        ) from exc
    if settings.embedded_langfuse:
        from local_langfuse import LocalLangfuseServer, ServerConfig

        server = LocalLangfuseServer(
            ServerConfig(
                db_path=settings.local_langfuse_db_path,
                public_key=public_key,
                secret_key=secret_key,
            )
        ).start()
        closers.append(server.stop)
        base_url = server.base_url
    else:
        assert settings.langfuse_base_url is not None
        base_url = settings.langfuse_base_url
    langfuse = Langfuse(
        public_key=public_key,
        secret_key=secret_key.get_secret_value(),
        base_url=base_url,
    )
    # Flush, not shutdown: the SDK shares one client per public key across the process (and
    # shuts it down itself at exit), so shutting it here would silence any other user of it.
    closers.append(langfuse.flush)
    store = RunStore(settings.run_store_target)
    store.mark_interrupted()
    services = Services(
        settings=settings,
        langfuse=langfuse,
        langfuse_url=base_url,
        prompts=LangfusePromptStore(langfuse, base_url=base_url),
        store=store,
        _endpoint_factory=lambda: resolve_endpoint(settings),
        _closers=closers,
    )
    if settings.embedded_langfuse and settings.seed_examples:
        seed_examples(services.prompts)
    return services


def resolve_endpoint(settings: Settings) -> Endpoint:
    """The remote endpoint from settings, or the embedded local model (started here)."""
    if not settings.embedded_model:
        mode = settings.instructor_mode or default_mode(settings.openai_base_url)
        return Endpoint(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.model or DEFAULT_REMOTE_MODEL,
            mode=mode,
            local=False,
            description=f"remote endpoint, instructor mode {mode}",
            prices=settings.prices,
        )
    from prompt_playground.local_model import get_local_model

    return local_endpoint(settings, get_local_model(settings.local_model_path))


def local_endpoint(settings: Settings, server: LocalModelServer) -> Endpoint:
    """The endpoint of a running embedded model: its slots bound the concurrency, and its
    sampling controls (against loops and repeated items) go with every call."""
    from prompt_playground.local_model import LOCAL_SAMPLING, layout_token_bias

    return Endpoint(
        base_url=server.base_url,
        api_key=None,
        model=settings.model or server.model_id,
        mode=settings.instructor_mode or "json_schema",
        local=True,
        description=f"{server.model_name}, embedded llama.cpp on 127.0.0.1",
        max_concurrency=server.parallel,
        extra_body={**LOCAL_SAMPLING, "logit_bias": layout_token_bias(server.model_path)},
    )


def seed_examples(prompts: LangfusePromptStore) -> None:
    """Create the example prompt's versions once (nothing when it already exists)."""
    spec = example_prompt_spec()
    if prompts.exists(spec["name"]):
        return
    for version in spec["versions"]:
        prompts.create_version(
            spec["name"],
            type=spec.get("type", "chat"),
            prompt=version["prompt"],
            config=version.get("config") or {},
            labels=version.get("labels") or [],
            tags=spec.get("tags"),
            commit_message=version.get("commit_message"),
        )
