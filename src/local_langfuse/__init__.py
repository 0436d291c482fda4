"""A local server that speaks enough of the Langfuse public API for the unmodified SDK.

It keeps prompts, traces, scores and datasets in SQLite, and imports nothing from
``prompt_playground``: it is the embedded default and the high-fidelity test double.
"""

from local_langfuse.app import create_app
from local_langfuse.config import ServerConfig
from local_langfuse.server import LocalLangfuseServer

__all__ = ["LocalLangfuseServer", "ServerConfig", "create_app"]
