"""Run langfuse-python's own e2e tests (SDK 4.14.3) against local-langfuse and print the figure.

    .venv/bin/python -m tests.support.langfuse_sdk_e2e [--workdir D] [--checkout D] [pytest args]

Clones the SDK repository at its release tag into ``DIR`` (once), makes a venv there with that
SDK and its test dependencies, starts ``prompt-playground local-langfuse`` on a free port with a
fresh database, and runs the four e2e files the issue names. Nothing of the SDK's code enters
this repository. The exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.servers import cli_command, free_port

SDK_REPO = "https://github.com/langfuse/langfuse-python"
SDK_TAG = "v4.14.3"
PACKAGES = [
    "langfuse==4.14.3",
    "pytest>=7.4,<9",
    "pytest-timeout>=2.1",
    "pytest-asyncio>=0.21.1",
    "tenacity>=8",
    "langchain-core>=0.3",
]
FILES = [
    "tests/e2e/test_prompt.py",
    "tests/e2e/test_core_sdk.py",
    "tests/e2e/test_datasets.py",
    "tests/e2e/test_experiments.py",
]
# Tests tied to Langfuse's dev seed (a fixed project id, URLs on localhost:3000): exempt.
EXEMPT = [
    "tests/e2e/test_core_sdk.py::test_get_project_id",
    "tests/e2e/test_core_sdk.py::test_generate_trace_id",
]


def _prepare(workdir: Path, checkout: Path | None) -> tuple[Path, Path]:
    venv = workdir / "venv"
    if checkout is None:
        checkout = workdir / "langfuse-python"
        if not checkout.exists():
            clone = ["git", "clone", "--quiet", "--depth", "1", "--branch", SDK_TAG, SDK_REPO]
            if subprocess.run([*clone, str(checkout)], check=False).returncode != 0:
                raise SystemExit(
                    f"Could not clone {SDK_REPO} at {SDK_TAG}; pass --checkout with a copy of "
                    "that tag (e.g. from `git archive v4.14.3`)."
                )
    if not (checkout / "tests" / "e2e").is_dir():
        raise SystemExit(f"{checkout} has no tests/e2e; it is not a langfuse-python checkout.")
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    return checkout, python


def _wait_healthy(base_url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise SystemExit(f"local-langfuse exited with {server.returncode}")
        try:
            if httpx.get(f"{base_url}/api/public/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("local-langfuse did not become healthy in 30 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lf-sdk-e2e")
    parser.add_argument("--checkout", type=Path, help=f"an existing {SDK_TAG} checkout to use")
    args, pytest_args = parser.parse_known_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    checkout, python = _prepare(args.workdir, args.checkout)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [*cli_command(), "local-langfuse", "--port", str(port), "--db", f"{data}/lf.sqlite3"],
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_healthy(base_url, server)
            env = {
                **os.environ,
                "LANGFUSE_HOST": base_url,
                "LANGFUSE_BASE_URL": base_url,
                "LANGFUSE_PUBLIC_KEY": "pk-lf-local",
                "LANGFUSE_SECRET_KEY": "sk-lf-local",
            }
            command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-o", "log_cli=false"]
            command += ["-q", "--timeout", "120", "-rfs", *FILES, *pytest_args]
            print("exempt (Langfuse dev seed):", ", ".join(t.split("::")[1] for t in EXEMPT))
            return subprocess.run(command, cwd=checkout, env=env, check=False).returncode
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
