"""Run the app with uvicorn: in a background thread on a free port, or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from local_langfuse.app import create_app
from local_langfuse.config import ServerConfig, check_keys_for_host

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ThreadedUvicorn:
    """An ASGI app served by uvicorn in a daemon thread of this process, on a bound socket.

    Subclasses say which app (:meth:`build_app`) and may tune :meth:`uvicorn_config` and
    :meth:`on_stopped`. Use as a context manager or ``start()``/``stop()``.
    """

    name = "server"

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self._socket = bind_socket(host, port)
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def build_app(self) -> ASGIApp:
        raise NotImplementedError

    def uvicorn_config(self, app: ASGIApp) -> uvicorn.Config:
        return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")

    def on_stopped(self) -> None:
        """Release what the app holds, once the server has stopped."""

    def start(self, timeout: float = 30.0) -> Self:
        self._server = server = uvicorn.Server(self.uvicorn_config(self.build_app()))
        self._thread = thread = threading.Thread(
            target=lambda: server.run(sockets=[self._socket]), name=self.name, daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        self.on_stopped()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalLangfuseServer(ThreadedUvicorn):
    """local-langfuse in a daemon thread of this process; ``base_url`` is ready after start()."""

    name = "local-langfuse"

    def __init__(self, config: ServerConfig, host: str = LOOPBACK, port: int = 0) -> None:
        check_keys_for_host(config, host)
        super().__init__(host, port)
        self.config = replace(config, host=host)
        self._app: FastAPI | None = None

    @property
    def base_url(self) -> str:
        return self.root_url

    def build_app(self) -> ASGIApp:
        self._app = create_app(self.config)
        return self._app

    def on_stopped(self) -> None:
        if self._app is not None:
            self._app.state.ingest_pool.close()
            self._app.state.db.close()


def serve_forever(config: ServerConfig, host: str = LOOPBACK, port: int = 3999) -> None:
    """Serve in the foreground until interrupted (the CLI's ``local-langfuse``)."""
    check_keys_for_host(config, host)
    app = create_app(replace(config, host=host))
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    finally:
        app.state.ingest_pool.close()
