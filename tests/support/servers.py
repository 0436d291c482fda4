"""Servers for tests and benchmarks: free ports, the CLI, local-langfuse with test keys."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from pydantic import SecretStr

from local_langfuse import LocalLangfuseServer, ServerConfig

PUBLIC_KEY = "pk-lf-test"
SECRET_KEY = "sk-lf-test"


def start_local_langfuse(db_path: Path, **overrides: object) -> LocalLangfuseServer:
    config = ServerConfig(
        db_path=db_path,
        public_key=PUBLIC_KEY,
        secret_key=SecretStr(SECRET_KEY),
        **overrides,  # type: ignore[arg-type]
    )
    return LocalLangfuseServer(config).start()


def free_port() -> int:
    """A port nothing listens on right now (for a server started in another process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command() -> list[str]:
    """How to run ``prompt-playground`` with this interpreter's environment."""
    script = Path(sys.executable).with_name("prompt-playground")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "prompt_playground.cli"]
