"""The FastAPI app factory: auth, limits, error shapes, routers, and 501 for the rest."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import ApiError, ValidationApiError
from local_langfuse.http import dumps, error_response, json_response
from local_langfuse.ingest_pool import IngestPool
from local_langfuse.prompts import PromptStore
from local_langfuse.routes import ROUTERS

logger = logging.getLogger(__name__)

PUBLIC_PREFIX = "/api/public/"
PROMPTS_PREFIX = "/api/public/v2/prompts"
SCORES_PATH = "/api/public/scores"
NO_AUTH_PATHS = frozenset({"/api/public/health"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
INVALID_CREDENTIALS = "Invalid credentials. Confirm that you've configured the correct host."


class _BodyTooLarge(Exception):
    pass


class GatewayMiddleware:
    """Host check, path normalisation (``//api`` from SDK base URLs with a trailing slash),
    auth and the body limit.

    A plain ASGI middleware: it runs on every request, so it avoids per-request allocations.
    """

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.max_body = config.max_body_bytes
        token = f"{config.public_key}:{config.secret_key.get_secret_value()}".encode()
        self._expected = b"Basic " + base64.b64encode(token)
        self._bearer = b"Bearer " + config.public_key.encode()
        self._hosts = HostCheck(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not self._hosts.allows(host):
            await _send_json(send, 400, self._hosts.refusal(host))
            return
        path: str = scope["path"]
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
            raw: bytes = scope.get("raw_path") or path.encode()
            scope = {**scope, "path": path, "raw_path": b"/" + raw.lstrip(b"/")}
        if path.startswith(PUBLIC_PREFIX) and path not in NO_AUTH_PATHS:
            refusal = self._auth_refusal(scope, path)
            if refusal is not None:
                await _send_json(send, *refusal)
                return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_json(send, 400, {"message": "Invalid Content-Length header"})
                return
            if declared > self.max_body:
                await _send_json(send, 413, _too_large(self.max_body))
                return
        elif _header(scope, b"transfer-encoding") is None:
            # No body can follow (the usual GET): nothing to count, no wrappers to pay for.
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 413, _too_large(self.max_body))

    def _auth_refusal(self, scope: Scope, path: str) -> tuple[int, dict[str, str]] | None:
        """``None`` when the request may pass, else the status and body that refuse it.

        As in Langfuse's ``apiAuth.ts``: Basic with both keys has the project's full scope;
        ``Bearer <public key>`` only the scores scope (``POST /api/public/scores``), so it is a
        403 elsewhere. Every failed credential check gets the same 401 message, which tells
        nobody whether the public key exists.
        """
        header = _header(scope, b"authorization")
        if header is None:
            return 401, _unauthorized(
                "No authorization header; use HTTP Basic with your public and secret key."
            )
        if hmac.compare_digest(header, self._expected):
            return None
        if header.startswith(b"Bearer ") and hmac.compare_digest(header, self._bearer):
            if scope["method"] == "POST" and path == SCORES_PATH:
                return None
            what = "prompts" if path.startswith(PROMPTS_PREFIX) else "this endpoint"
            return 403, {
                "message": f"Access denied - need to use basic auth with secret key to "
                f"{scope['method']} {what}",
                "error": "ForbiddenError",
            }
        return 401, _unauthorized(INVALID_CREDENTIALS)


class HostCheck:
    """Which ``Host`` headers a server answers: a guard against DNS rebinding.

    A web page on an attacker's domain that resolves to 127.0.0.1 reaches the fixed port
    with the browser's ``Host: attacker.example``; answering only the bound address,
    ``localhost``, IP literals (when bound to all interfaces) and configured names shuts it out.
    """

    def __init__(self, config: ServerConfig) -> None:
        names = {"localhost", "127.0.0.1", "::1", config.host.lower(), *config.allowed_hosts}
        self._names = frozenset(name.lower().strip("[]") for name in names)
        self._any_ip = config.host in WILDCARD_HOSTS
        self._known: set[bytes] = set()  # headers already allowed: the per-request fast path

    def allows(self, header: bytes | None) -> bool:
        if header in self._known:
            return True
        if header is None or not self._allows(header):
            return False
        if len(self._known) < 64:
            self._known.add(header)
        return True

    def _allows(self, header: bytes) -> bool:
        name = _host_name(header)
        if name in self._names:
            return True
        if self._any_ip:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    @staticmethod
    def refusal(header: bytes | None) -> dict[str, str]:
        shown = "(none)" if header is None else repr(header.decode("latin-1")[:100])
        return {
            "message": f"Host header {shown} is not allowed: local-langfuse answers only its "
            "bound address, localhost and the names given with --allowed-host (a guard "
            "against DNS rebinding).",
            "error": "InvalidHostError",
        }


def _host_name(header: bytes) -> str:
    """``example.com:3999`` → ``example.com``; ``[::1]:3999`` → ``::1``."""
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        return text.partition(":")[0]
    return text


def _unauthorized(message: str) -> dict[str, str]:
    return {"message": message, "error": "UnauthorizedError"}


def _too_large(limit: int) -> dict[str, str]:
    return {
        "message": f"Request body exceeds the limit of {limit} bytes.",
        "error": "PayloadTooLarge",
    }


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def create_app(config: ServerConfig, db: Database | None = None) -> FastAPI:
    """Build the app around one SQLite file (opened and migrated here)."""
    database = db if db is not None else Database(config.db_path)
    app = FastAPI(
        title="local-langfuse",
        version=config.version,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # FastAPI's native OpenTelemetry: a span per request as soon as the process has a
        # tracer provider, as it has when local-langfuse runs embedded beside a Langfuse client
        # (the app, the CLI). The server is the tracing backend, not a service to trace: those
        # spans cost ~0.3 ms per request and Langfuse's exporter drops them anyway. Off, the
        # per-request check of the global providers is skipped too.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.config = config
    app.state.db = database
    app.state.prompts = PromptStore(database, config.project_id)
    # Started on the first large OTLP export; whoever runs the app closes it (see server.py).
    app.state.ingest_pool = IngestPool()

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        if isinstance(exc, ValidationApiError):
            return json_response({"message": exc.message, "error": exc.issues}, exc.status_code)
        return error_response(exc.status_code, exc.message, exc.error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        return error_response(400, f"Invalid request: {problems}", "InvalidRequestError")

    for router in ROUTERS:
        # Routes join the app directly: an included router is matched through an extra layer
        # (about 15 % of a prompt GET's server time in a profile).
        app.router.routes.extend(router.routes)

    async def _not_implemented(request: Request) -> Response:
        return error_response(
            501,
            f"{request.method} {request.url.path} is not implemented by local-langfuse. "
            "Point LANGFUSE_BASE_URL at a real Langfuse server for this feature.",
            "NotImplementedError",
        )

    app.add_api_route(
        "/{path:path}",
        _not_implemented,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
    app.add_middleware(GatewayMiddleware, config=config)
    return app
