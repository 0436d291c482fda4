"""Configuration of one local Langfuse server instance (keys, storage, limits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

DEFAULT_PUBLIC_KEY = "pk-lf-local"
DEFAULT_SECRET_KEY = "sk-lf-local"


@dataclass(frozen=True)
class ServerConfig:
    """What a server needs to start. ``db_path`` ``None`` means an in-memory-like temp file."""

    db_path: Path
    public_key: str = DEFAULT_PUBLIC_KEY
    secret_key: SecretStr = field(default_factory=lambda: SecretStr(DEFAULT_SECRET_KEY))
    project_id: str = "local-project"
    project_name: str = "Local Project"
    org_id: str = "local-org"
    org_name: str = "Local Organization"
    # Bodies larger than this get a 413 (OTLP batches of 512 spans with large I/O fit well).
    max_body_bytes: int = 32 * 1024 * 1024
    version: str = "4.16.0-local"
