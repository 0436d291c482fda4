"""The ``prompt-playground`` command in a subprocess, as a person runs it, for the CLI tests: an
environment holding only what the test gives it, prompts synced from a spec, and the run id read
back from ``run``'s output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_RUN_ID = re.compile(r"\(run (run-[\w-]+)\)")


def fake_model_env(data_dir: Path, base_url: str, *, concurrency: int) -> dict[str, str]:
    """This process's environment without its Langfuse, OpenAI and Playground settings: embedded
    Langfuse (not seeded) in ``data_dir`` and the OpenAI-compatible test server at ``base_url``."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OPENAI_", "PLAYGROUND_"))
    }
    environment.update(
        PLAYGROUND_DATA_DIR=str(data_dir),
        PLAYGROUND_SEED_EXAMPLES="false",
        PLAYGROUND_CONCURRENCY=str(concurrency),
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-test",
    )
    return environment


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``prompt-playground ARGS``; whatever its exit code, it never prints a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "prompt_playground.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def chat_version(
    system: str, labels: list[str], properties: dict[str, Any], **config: Any
) -> dict[str, Any]:
    """One version of a sync file: a system message, the ``{{text}}`` user turn, and a response
    schema requiring every one of ``properties``; ``config`` goes before the schema."""
    return {
        "labels": labels,
        "prompt": [
            {"role": "system", "content": system},
            {"role": "user", "content": "{{text}}"},
        ],
        "config": {
            **config,
            "response_schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
        },
    }


def sync_prompt(env: dict[str, str], folder: Path, spec: dict[str, Any]) -> None:
    """Write ``spec`` as ``folder/prompts.yaml`` and sync it; the sync must succeed."""
    path = folder / "prompts.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    synced = run_cli(env, "sync", str(path))
    assert synced.returncode == 0, synced.stderr


def run_id_of(ran: subprocess.CompletedProcess[str]) -> str:
    """The run id ``run`` printed on its last line."""
    found = _RUN_ID.search(ran.stdout)
    assert found, ran.stdout
    return found.group(1)
