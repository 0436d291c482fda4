"""``prompt-playground serve``: an extraction endpoint that follows a prompt label.

``POST /extract`` fills the version a label points to *now*, read through the langfuse SDK's prompt
cache (so a promotion takes effect within the cache TTL, without a restart), calls the
Langfuse-instrumented instructor client with that version's config and response model, and answers
with the typed output, the version served and the trace id. The response model is versioned with
the prompt (``config.response_schema`` / ``config.response_model``), so it switches with it.

One trace per request: ``@observe`` sits *under* ``@app.post`` (above it, FastAPI would register
the undecorated function and nothing would be traced); the session id comes from ``X-Session-Id``
or is new per request; the generation is linked to the prompt version; the served version is in the
trace metadata. While Langfuse is unreachable the cached version keeps serving, marked stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from langfuse import Langfuse, observe, propagate_attributes
from langfuse.model import PromptClient

from prompt_playground.errors import PlaygroundError, PromptNotFoundError, SchemaError
from prompt_playground.llm import LLM, Extraction
from prompt_playground.prompts import PromptVersion, translate_sdk_errors, version_from_client
from prompt_playground.schema import ResolvedModel, response_model_for

if TYPE_CHECKING:
    from prompt_playground.bootstrap import Services

__all__ = [
    "STALE_GRACE_S",
    "ExtractInput",
    "LabelFollower",
    "RequestError",
    "ServedVersion",
    "create_app",
    "extract",
    "parse_body",
    "run_server",
]

logger = logging.getLogger(__name__)

#: A version counts as stale once it was fetched more than TTL + this long ago: the SDK stores
#: expiry in whole seconds (up to 1 s late) and refreshes in the background with retries and a
#: timeout, so a healthy Langfuse replaces it well within this grace.
STALE_GRACE_S = 10.0
#: How often the service touches the SDK's cache on its own, so the background refresh runs
#: after the TTL even when no request comes (a first request after an idle hour is not stale).
KEEP_WARM_S = 1.0
#: Retries of one prompt fetch (the SDK's own default is 2, with 1 s waits between tries).
FETCH_RETRIES = 1
FETCH_TIMEOUT_S = 5
_SESSION_HEADER = "x-session-id"


class RequestError(PlaygroundError):
    """The request cannot be served as sent (HTTP 422): a bad body or a missing variable."""


@dataclass(frozen=True)
class ServedVersion:
    """The version a label pointed to at one moment, its response model, and how fresh it is."""

    prompt: PromptVersion
    model: ResolvedModel
    label: str
    age_s: float
    stale: bool

    def describe(self) -> dict[str, Any]:
        return {"name": self.prompt.name, "version": self.prompt.version, "label": self.label}


class LabelFollower:
    """The version ``label`` points to, read through the SDK's prompt cache (``cache_ttl_s``).

    Each successful fetch gives a new SDK prompt object, so an object still returned long past
    its TTL is one the SDK could not refresh (Langfuse unreachable): it is served, marked stale.
    Response models are built once per version (versions are immutable in Langfuse).
    """

    def __init__(
        self,
        langfuse: Langfuse,
        *,
        name: str,
        label: str,
        cache_ttl_s: int,
        allowed_modules: list[str],
        small_model_bounds: bool,
        base_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.label = label
        self.cache_ttl_s = cache_ttl_s
        self._lf = langfuse
        self._allowed = allowed_modules
        self._small = small_model_bounds
        self._base_url = base_url
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[PromptClient, float] | None = None
        self._prepared: dict[int, tuple[PromptVersion, ResolvedModel]] = {}
        self.last: ServedVersion | None = None

    def current(self) -> ServedVersion:
        """The version to serve now (blocking: a cache miss fetches from Langfuse).

        Raises:
            PromptStoreError: Langfuse is unreachable or refused, and nothing is cached.
            PromptNotFoundError: no version holds the label.
            SchemaError: the version has no usable response model.
        """
        try:
            with translate_sdk_errors(f"get prompt '{self.name}' ({self.label})", self._base_url):
                client = self._lf.get_prompt(
                    self.name,
                    label=self.label,
                    cache_ttl_seconds=self.cache_ttl_s,
                    max_retries=FETCH_RETRIES,
                    fetch_timeout_seconds=FETCH_TIMEOUT_S,
                )
        except PromptNotFoundError as exc:
            raise PromptNotFoundError(
                f"Prompt '{self.name}' has no version labelled '{self.label}' in Langfuse (or no "
                f"prompt has that name). Promote a version to '{self.label}', or start the "
                "service with another --label."
            ) from exc
        now = self._clock()
        with self._lock:
            if self._seen is None or self._seen[0] is not client:
                self._seen = (client, now)
            age = now - self._seen[1]
            prepared = self._prepared.get(client.version)
        if prepared is None:
            prompt = version_from_client(client)
            try:
                model = response_model_for(
                    prompt.config, allowed_modules=self._allowed, small_model_bounds=self._small
                )
            except SchemaError as exc:
                raise SchemaError(
                    f"Prompt '{self.name}' v{client.version} (label '{self.label}') cannot be "
                    f"served: {exc.message}",
                    details=exc.details,
                ) from exc
            prepared = (prompt, model)
            with self._lock:
                self._prepared[client.version] = prepared
        stale = self.cache_ttl_s > 0 and age > self.cache_ttl_s + STALE_GRACE_S
        served = ServedVersion(prepared[0], prepared[1], self.label, round(age, 1), stale)
        with self._lock:  # requests run this in worker threads; one report per transition
            self._report(served)
        return served

    def _report(self, served: ServedVersion) -> None:
        previous, self.last = self.last, served
        if previous is None or previous.prompt.version != served.prompt.version:
            logger.warning(
                "Serving '%s' v%s (label '%s').", self.name, served.prompt.version, self.label
            )
        if served.stale and not (previous and previous.stale):
            logger.warning(
                "Langfuse has not answered for %.0f s; serving the cached v%s, marked stale.",
                served.age_s,
                served.prompt.version,
            )
        elif previous is not None and previous.stale and not served.stale:
            logger.warning("Langfuse answers again; v%s is fresh.", served.prompt.version)


@dataclass(frozen=True)
class ExtractInput:
    """A request body: the prompt's variables (as a samples row holds them) and/or a chat."""

    variables: dict[str, Any]
    messages: list[dict[str, str]] | None = None


def parse_body(raw: bytes) -> ExtractInput:
    """Read a JSON object of variables, optionally with ``messages`` (a list of role/content)."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"The body is not valid JSON ({exc}).") from exc
    if not isinstance(body, dict):
        raise RequestError(
            'The body must be a JSON object of the prompt\'s variables, e.g. {"chat_json": '
            '"[...]"}, or hold a "messages" list of {"role", "content"} objects.'
        )
    variables = dict(body)
    messages = variables.pop("messages", None)
    if messages is None:
        return ExtractInput(variables)
    if not isinstance(messages, list) or not messages:
        raise RequestError('"messages" must be a non-empty list of {"role", "content"} objects.')
    checked = []
    for index, message in enumerate(messages):
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            raise RequestError(
                f'messages[{index}] must be an object with string "role" and "content".'
            )
        checked.append({"role": message["role"], "content": message["content"]})
    return ExtractInput(variables, checked)


async def extract(served: ServedVersion, llm: LLM, request: ExtractInput) -> Extraction:
    """One extraction with the served version: compile, call, validate (the service's use case).

    The generation joins the current trace (the caller's span) and is linked to the version.

    Raises:
        RequestError: a variable the version needs is not in the request (before any model call).
    """
    prompt = served.prompt
    missing = [v for v in prompt.variables if v not in request.variables]
    if missing:
        given = ", ".join(sorted(request.variables)) or "none"
        raise RequestError(
            f"Prompt '{prompt.name}' v{prompt.version} needs {', '.join(map(repr, missing))}; "
            f"the body has {given}. Send each as a field of the JSON object."
        )
    messages = prompt.compile(request.variables, request.messages)
    return await llm.extract(
        messages,
        served.model.model,
        prompt=prompt,
        trace_id=None,
        name=f"serve · {prompt.name} v{prompt.version}"[:200],
    )


def _error(status: int, message: str, **context: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **context}, status_code=status)


def _session_id(request: Request) -> str:
    given = request.headers.get(_SESSION_HEADER)
    if given is None:
        return f"serve-{uuid.uuid4().hex[:16]}"
    if not given or len(given) > 200 or not given.isascii():
        raise RequestError("X-Session-Id must be 1-200 ASCII characters.")
    return given


def create_app(
    langfuse: Langfuse, follower: LabelFollower, llm_factory: Callable[[], LLM]
) -> FastAPI:
    """The service: ``POST /extract``, ``GET /schema``, ``GET /health``.

    ``llm_factory`` is called once inside the server's event loop (async clients are bound to it).
    """
    state: dict[str, LLM] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["llm"] = llm_factory()
        warm = asyncio.create_task(_keep_warm(follower))
        try:
            yield
        finally:
            warm.cancel()
            await state["llm"].aclose()
            await asyncio.to_thread(langfuse.flush)

    app = FastAPI(title=f"prompt-playground serve: {follower.name}", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        last = follower.last
        return {
            "status": "ok",
            "prompt": follower.name,
            "label": follower.label,
            "served": last.describe() if last else None,
            "stale": last.stale if last else None,
        }

    @app.get("/schema")
    async def schema() -> JSONResponse:
        try:
            served = await asyncio.to_thread(follower.current)
        except PlaygroundError as exc:
            return _error(503, exc.message)
        return JSONResponse(
            {
                "prompt": served.describe(),
                "schema": served.model.schema,
                "fingerprint": served.model.fingerprint,
                "source": served.model.source,
                "stale": served.stale,
            }
        )

    @app.post("/extract")
    @observe(name="POST /extract", capture_input=False, capture_output=False)
    async def extract_endpoint(request: Request) -> JSONResponse:
        return await _handle(request, langfuse, follower, state["llm"])

    return app


async def _handle(
    request: Request, langfuse: Langfuse, follower: LabelFollower, llm: LLM
) -> JSONResponse:
    """The body of ``POST /extract``, inside the request's trace (its root span)."""
    trace_id = langfuse.get_current_trace_id()

    def fail(status: int, message: str, **context: Any) -> JSONResponse:
        langfuse.update_current_span(level="ERROR", status_message=message[:500])
        return _error(status, message, trace_id=trace_id, **context)

    try:
        session_id = _session_id(request)
    except RequestError as exc:
        return fail(422, exc.message)
    # Propagated values must be US-ASCII of at most 200 characters, or the SDK drops them.
    trace_name = f"serve:{follower.name}".encode("ascii", "replace").decode()[:200]
    with propagate_attributes(session_id=session_id, trace_name=trace_name, tags=["serve"]):
        try:
            body = parse_body(await request.body())
        except RequestError as exc:
            return fail(422, exc.message)
        langfuse.update_current_span(input=_input_of(body))
        try:
            served = await asyncio.to_thread(follower.current)
        except PlaygroundError as exc:
            return fail(503, exc.message)
        with propagate_attributes(metadata=_metadata(served)):
            try:
                outcome = await extract(served, llm, body)
            except RequestError as exc:
                return fail(422, exc.message, prompt=served.describe(), stale=served.stale)
            if outcome.error is not None:
                return fail(
                    502,
                    outcome.error,
                    prompt=served.describe(),
                    stale=served.stale,
                    attempts=outcome.attempts,
                )
            langfuse.update_current_span(output=outcome.output)
    return JSONResponse(
        {
            "output": outcome.output,
            "prompt": served.describe(),
            "trace_id": trace_id,
            "session_id": session_id,
            "stale": served.stale,
        }
    )


def _input_of(body: ExtractInput) -> dict[str, Any]:
    shown: dict[str, Any] = dict(body.variables)
    if body.messages is not None:
        shown["messages"] = body.messages
    return shown


def _metadata(served: ServedVersion) -> dict[str, str]:
    return {
        "prompt_name": served.prompt.name[:150],
        "prompt_version": str(served.prompt.version),
        "label": served.label[:150],
        "stale": "true" if served.stale else "false",
        "schema_fingerprint": served.model.fingerprint,
    }


async def _keep_warm(follower: LabelFollower) -> None:
    """Fetch at start, then touch the SDK's cache every second so its background refresh runs
    after the TTL without traffic. A failure is logged when it starts or changes, not each time."""
    failing: str | None = None
    while True:
        try:
            await asyncio.to_thread(follower.current)
            failing = None
        except PlaygroundError as exc:
            if exc.message != failing:
                logger.warning("%s", exc.message)
            failing = exc.message
        if follower.cache_ttl_s == 0 and failing is None:
            return  # nothing is cached, so there is nothing to keep warm
        await asyncio.sleep(KEEP_WARM_S)


def run_server(
    services: Services,
    *,
    prompt: str,
    label: str,
    host: str,
    port: int,
    cache_ttl_s: int,
) -> None:
    """Serve until interrupted, on the wired services (embedded or real Langfuse and model)."""
    import uvicorn

    endpoint = services.endpoint()  # the embedded model starts here, not on the first request
    follower = LabelFollower(
        services.langfuse,
        name=prompt,
        label=label,
        cache_ttl_s=cache_ttl_s,
        allowed_modules=list(services.settings.allowed_model_modules),
        small_model_bounds=endpoint.local,
        base_url=services.langfuse_url,
    )
    app = create_app(services.langfuse, follower, services.llm)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
