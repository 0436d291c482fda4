"""The ``prompt-playground`` command line."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

app = typer.Typer(
    name="prompt-playground",
    help="Test Langfuse prompt versions on sample chats with typed outputs.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _commands() -> None:
    """Test Langfuse prompt versions on sample chats with typed outputs."""
    # A callback keeps `local-langfuse` a sub-command even while it is the only command.


@app.command("local-langfuse")
def local_langfuse(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3999,
    db: Annotated[
        Path, typer.Option(help="SQLite file that keeps prompts, traces, scores, datasets.")
    ] = Path("data/local-langfuse.sqlite3"),
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow binding an address other than loopback.")
    ] = False,
) -> None:
    """Serve the embedded Langfuse-API-compatible server.

    Keys come from LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY (default pk-lf-local / sk-lf-local).
    """
    from local_langfuse.config import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY, ServerConfig
    from local_langfuse.server import serve_forever

    loopback = host in {"127.0.0.1", "localhost", "::1"}
    if not loopback and not allow_remote:
        typer.echo(
            f"Refusing to bind {host}: local-langfuse binds 127.0.0.1 unless you pass "
            "--allow-remote (anyone who can reach the port and knows the keys can read your data).",
            err=True,
        )
        raise typer.Exit(2)
    if not loopback:
        typer.echo(
            f"WARNING: binding {host}; the server is reachable from other machines.", err=True
        )
    config = ServerConfig(
        db_path=db,
        public_key=os.environ.get("LANGFUSE_PUBLIC_KEY") or DEFAULT_PUBLIC_KEY,
        secret_key=SecretStr(os.environ.get("LANGFUSE_SECRET_KEY") or DEFAULT_SECRET_KEY),
    )
    typer.echo(f"local-langfuse on http://{host}:{port} (data: {db})", err=True)
    serve_forever(config, host=host, port=port)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
