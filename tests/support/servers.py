"""Start real servers for tests: local-langfuse on a free port, with fixed test keys."""

from __future__ import annotations

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
