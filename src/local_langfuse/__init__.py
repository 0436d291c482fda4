"""A local server that speaks enough of the Langfuse public API for the unmodified SDK.

It keeps prompts, traces, scores and datasets in SQLite, and imports nothing from
``prompt_playground``: it is the embedded default and the high-fidelity test double.

The public names load on first use, so that a submodule (the ingestion worker process runs
``python -m local_langfuse.ingest_worker``) starts without importing FastAPI and uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_langfuse.app import create_app
    from local_langfuse.config import ServerConfig
    from local_langfuse.server import LocalLangfuseServer

__all__ = ["LocalLangfuseServer", "ServerConfig", "create_app"]

_HOMES = {
    "create_app": "local_langfuse.app",
    "ServerConfig": "local_langfuse.config",
    "LocalLangfuseServer": "local_langfuse.server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'local_langfuse' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
