"""Run the app with uvicorn: in a background thread on a free port, or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from local_langfuse.app import create_app
from local_langfuse.config import ServerConfig

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


class LocalLangfuseServer:
    """A server in a daemon thread of this process. Use as a context manager or start()/stop().

    ``base_url`` is ready once :meth:`start` returns.
    """

    def __init__(self, config: ServerConfig, host: str = LOOPBACK, port: int = 0) -> None:
        self.config = config
        self.host = host
        self._socket = bind_socket(host, port)
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app: FastAPI | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalLangfuseServer:
        app = self._app = create_app(self.config)
        uv_config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(uv_config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[self._socket]),
            name="local-langfuse",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("local-langfuse failed to start; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError(f"local-langfuse did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        if self._app is not None:
            self._app.state.ingest_pool.close()
            self._app.state.db.close()

    def __enter__(self) -> LocalLangfuseServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(config: ServerConfig, host: str = LOOPBACK, port: int = 3999) -> None:
    """Serve in the foreground until interrupted (the CLI's ``local-langfuse``)."""
    app = create_app(config)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    finally:
        app.state.ingest_pool.close()
