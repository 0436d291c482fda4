"""Configuration of one local Langfuse server instance (keys, storage, limits)."""

from __future__ import annotations

import ipaddress
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
    # The address the server is bound to, and further names clients may send as ``Host``
    # (requests for any other host are refused, see ``HostCheck`` in app.py).
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_keys_for_host(config: ServerConfig, host: str) -> None:
    """Refuse the well-known default keys on an address other machines can reach."""
    if is_loopback(host):
        return
    if (
        config.public_key == DEFAULT_PUBLIC_KEY
        or config.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
    ):
        raise ValueError(
            f"Refusing to serve the default keys ({DEFAULT_PUBLIC_KEY} / {DEFAULT_SECRET_KEY}, "
            f"known to anyone) on {host}, a non-loopback address: set LANGFUSE_PUBLIC_KEY and "
            "LANGFUSE_SECRET_KEY to keys of your own."
        )
