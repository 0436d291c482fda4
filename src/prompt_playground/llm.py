"""The LLM port and its adapter: instructor over the Langfuse-instrumented async OpenAI client.

Every call is a Langfuse generation linked to its prompt version; an outcome never raises for a
per-call failure (timeout, HTTP error, schema violation): it comes back as an ``Extraction`` with
an ``error`` a person can act on, the attempts made and the last invalid output.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr, ValidationError

from prompt_playground.prompts import PromptVersion

# Parameters a prompt's config may pass to the chat completions API.
MODEL_PARAMETERS = frozenset(
    {
        "model",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "reasoning_effort",
        "extra_body",
    }
)
MODES = {
    "tools": "TOOLS",
    "json_schema": "JSON_SCHEMA",
    "json": "JSON",
    "md_json": "MD_JSON",
}


@dataclass(frozen=True)
class Endpoint:
    """Where calls go, and how structured output is asked for there."""

    base_url: str | None
    api_key: SecretStr | None
    model: str
    mode: str
    local: bool
    description: str
    # USD per million (input, output) tokens, by model-name prefix; see Settings.prices.
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict, compare=False)
    # The most calls this endpoint serves well at once (None: no limit known). The embedded
    # model answers no faster with more in flight, each call just waits longer.
    max_concurrency: int | None = None
    # Extra request-body fields sent with every call (server-specific sampling controls, e.g.
    # llama.cpp's DRY penalty); a prompt config's own ``extra_body`` overrides them key by key.
    extra_body: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def concurrency_for(self, requested: int) -> int:
        """``requested``, capped at what this endpoint serves best."""
        if self.max_concurrency is None:
            return max(1, requested)
        return max(1, min(requested, self.max_concurrency))

    def cost_usd(
        self, model: str | None, input_tokens: int | None, output_tokens: int | None
    ) -> float | None:
        """What a call cost, when known: free on the local model, else from the price table."""
        if self.local:
            return 0.0
        if model is None or input_tokens is None or output_tokens is None:
            return None
        matches = [prefix for prefix in self.prices if model.startswith(prefix)]
        if not matches:
            return None
        price_in, price_out = self.prices[max(matches, key=len)]
        return round((input_tokens * price_in + output_tokens * price_out) / 1_000_000, 8)

    @property
    def display(self) -> str:
        where = "local" if self.local else (self.base_url or "https://api.openai.com/v1")
        return f"{self.model} ({where})"


def default_mode(base_url: str | None) -> str:
    """Tools for OpenAI itself; JSON schema (constrained decoding) for compatible servers."""
    if base_url is None or "api.openai.com" in base_url:
        return "tools"
    return "json_schema"


@dataclass
class Extraction:
    """One call's outcome: a typed output or an error, never an exception."""

    output: dict[str, Any] | None
    raw_output: str | None
    error: str | None
    attempts: int
    latency_ms: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None


def call_parameters(config: dict[str, Any], default_model: str) -> dict[str, Any]:
    """The model parameters a prompt config sets (model, temperature, ...)."""
    params = {k: v for k, v in config.items() if k in MODEL_PARAMETERS}
    params.setdefault("model", default_model)
    return params


class LLM(Protocol):
    """What the runner needs from a model endpoint."""

    endpoint: Endpoint

    async def extract(
        self,
        messages: list[dict[str, str]],
        response_model: type[BaseModel],
        *,
        prompt: PromptVersion,
        trace_id: str | None,
        name: str,
    ) -> Extraction: ...

    async def aclose(self) -> None: ...


class InstructorLLM:
    """instructor.from_openai around ``langfuse.openai.AsyncOpenAI``.

    Create it inside the event loop that will use it (an async client is bound to its loop).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout_s: float,
        http_retries: int,
        validation_retries: int,
        langfuse_public_key: str | None = None,
    ) -> None:
        """``langfuse_public_key`` names the Langfuse client that records the generations, so
        tracing works even when the process holds clients for several projects (with more than
        one, the SDK's default client is disabled)."""
        # Imported here: importing langfuse.openai patches the OpenAI classes process-wide.
        import instructor
        from langfuse.openai import AsyncOpenAI  # type: ignore[attr-defined]

        self.endpoint = endpoint
        self._langfuse_public_key = langfuse_public_key
        self._validation_retries = validation_retries
        self._timeout_s = timeout_s
        self._client = AsyncOpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key.get_secret_value() if endpoint.api_key else "not-needed",
            timeout=timeout_s,
            max_retries=http_retries,
        )
        self._instructor = instructor
        self._clients: dict[str, Any] = {}
        self._ready_models: dict[type[BaseModel], type[BaseModel]] = {}

    def _client_for(self, mode: str) -> Any:
        if mode not in MODES:
            raise ValueError(f"Unknown instructor mode {mode!r}; use one of {', '.join(MODES)}")
        if mode not in self._clients:
            self._clients[mode] = self._instructor.from_openai(
                self._client, mode=getattr(self._instructor.Mode, MODES[mode])
            )
        return self._clients[mode]

    def _instructor_model(self, model: type[BaseModel]) -> type[BaseModel]:
        """The response model made ready for instructor once per model, not once per call.

        instructor wraps a plain model in a new ``ResponseSchema`` subclass (pydantic
        ``create_model``) on every call unless it already is one, then regenerates its JSON
        schema for the request: ~0.6 ms of CPU and a new class per call. Here the wrap is done
        once (instructor's public ``response_schema``) and the schema is generated once; the
        request and the parsed fields are the same.
        """
        ready = self._ready_models.get(model)
        if ready is None:
            instructor = self._instructor
            wrapped = model
            if not issubclass(model, instructor.ResponseSchema):
                wrapped = instructor.response_schema(model)
            ready = self._ready_models[model] = _with_cached_schema(wrapped)
        return ready

    async def extract(
        self,
        messages: list[dict[str, str]],
        response_model: type[BaseModel],
        *,
        prompt: PromptVersion,
        trace_id: str | None,
        name: str,
    ) -> Extraction:
        from instructor.v2.core.hooks import HookName, Hooks

        mode = str(prompt.config.get("instructor_mode") or self.endpoint.mode)
        params = call_parameters(prompt.config, self.endpoint.model)
        extra_body = {**self.endpoint.extra_body, **(params.pop("extra_body", None) or {})}
        if extra_body:
            params["extra_body"] = extra_body
        responses = 0
        last_raw: list[str | None] = [None]

        def on_response(response: Any) -> None:
            nonlocal responses
            responses += 1
            last_raw[0] = raw_text(response)

        hooks = Hooks()
        hooks.on(HookName.COMPLETION_RESPONSE, on_response)
        extra: dict[str, Any] = {"name": name}
        if prompt.client is not None and not prompt.client.is_fallback:
            extra["langfuse_prompt"] = prompt.client
        if trace_id is not None:
            extra["trace_id"] = trace_id
        if self._langfuse_public_key is not None:
            extra["langfuse_public_key"] = self._langfuse_public_key
        started = time.perf_counter()
        try:
            client = self._client_for(mode)
            parsed, completion = await client.chat.completions.create_with_completion(
                messages=messages,
                response_model=self._instructor_model(response_model),
                max_retries=self._validation_retries,  # retries after the first attempt
                hooks=hooks,
                **params,
                **extra,
            )
        except Exception as exc:  # noqa: BLE001 - per-call boundary: recorded on the row
            latency = (time.perf_counter() - started) * 1000
            return Extraction(
                output=None,
                raw_output=last_raw[0],
                error=describe_failure(exc, self.endpoint, self._timeout_s),
                attempts=max(responses, _attempts_of(exc)),
                latency_ms=latency,
            )
        latency = (time.perf_counter() - started) * 1000
        usage = getattr(completion, "usage", None)
        return Extraction(
            output=parsed.model_dump(mode="json"),
            raw_output=None,
            error=None,
            attempts=max(responses, 1),
            latency_ms=latency,
            input_tokens=getattr(usage, "prompt_tokens", None),
            output_tokens=getattr(usage, "completion_tokens", None),
            model=getattr(completion, "model", None),
        )

    async def aclose(self) -> None:
        await self._client.close()


def _with_cached_schema(model: type[BaseModel]) -> type[BaseModel]:
    """A subclass whose default ``model_json_schema()`` is computed once (a copy per call)."""
    schema = model.model_json_schema()

    def model_json_schema(cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs or cls is not cached:
            parent: Any = super(cached, cls)
            fresh: dict[str, Any] = parent.model_json_schema(*args, **kwargs)
            return fresh
        return copy.deepcopy(schema)

    namespace = {
        "__doc__": model.__doc__,
        "__module__": model.__module__,
        "model_json_schema": classmethod(model_json_schema),
    }
    cached: type[BaseModel] = type(model.__name__, (model,), namespace)
    return cached


def _attempts_of(exc: BaseException) -> int:
    return int(getattr(exc, "n_attempts", 0) or 0)


def raw_text(response: Any) -> str | None:
    """The text or tool-call arguments a chat completion carried."""
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError, TypeError):
        return None
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        return "\n".join(str(call.function.arguments) for call in calls)
    content = getattr(message, "content", None)
    return str(content) if content is not None else None


def describe_failure(exc: BaseException, endpoint: Endpoint, timeout_s: float) -> str:
    """A message a person can act on for one failed call (no secrets, no traceback)."""
    import openai

    cause: BaseException = exc
    while cause.__cause__ is not None and not isinstance(cause, openai.APIError):
        cause = cause.__cause__
    where = endpoint.base_url or "OpenAI"
    if isinstance(cause, openai.APITimeoutError):
        return f"The model did not answer within {timeout_s:g} s ({where}). Raise the timeout."
    if isinstance(cause, openai.APIConnectionError):
        return f"Cannot reach the LLM endpoint at {where}. Is it running? Check OPENAI_BASE_URL."
    if isinstance(cause, openai.AuthenticationError):
        return f"The LLM endpoint at {where} refused the API key (HTTP 401). Check OPENAI_API_KEY."
    if isinstance(cause, openai.RateLimitError):
        return f"Rate limited by {where} (HTTP 429) after retries. Lower the concurrency."
    if isinstance(cause, openai.NotFoundError):
        return (
            f"The LLM endpoint at {where} answered 404: {_api_message(cause)} Check the model name."
        )
    if isinstance(cause, openai.APIStatusError):
        return (
            f"The LLM endpoint at {where} answered HTTP {cause.status_code}: {_api_message(cause)}"
        )
    if isinstance(cause, ValidationError | json.JSONDecodeError) or _attempts_of(exc):
        attempts = _attempts_of(exc)
        detail = _validation_summary(cause)
        return f"The output did not match the response schema after {attempts} attempt(s): {detail}"
    return f"{type(cause).__name__}: {str(cause)[:300]}"


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body
        if isinstance(message, dict):
            message = message.get("message", message)
        return str(message)[:300]
    return str(getattr(exc, "message", "") or exc)[:300]


def _validation_summary(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors()[:5]:
            loc = ".".join(str(p) for p in error.get("loc", ())) or "output"
            parts.append(f"{loc}: {error.get('msg')}")
        return "; ".join(parts)
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
