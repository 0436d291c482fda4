"""The CLI and the pages share one code path: a run exports the same bytes from every entry
point, and a promotion made on the command line is in the label history the app shows."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prompt_playground import comparisons
from prompt_playground.bootstrap import Services
from prompt_playground.examples import example_prompt
from prompt_playground.ui.services import clear_prompt_cache
from tests.app.helpers import assert_clean, open_page, shown
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "prompt_playground" / "examples" / "sample_chats.csv"
PROMPT = "chat-extract-feedback"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess, with the app's environment (same Langfuse, same data)."""
    return run_cli(dict(os.environ), *args)


def test_one_run_exports_the_same_csv_from_the_cli_compare_and_runs(
    app_env: Path, services: Services, tmp_path: Path
) -> None:
    out = tmp_path / "cli.csv"
    ran = cli(
        "run",
        "--prompt",
        PROMPT,
        "--label",
        "production",
        "--version",
        "2",
        "--samples",
        str(SAMPLES),
        "--out",
        str(out),
        "--quiet",
    )
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.rsplit("(run ", 1)[1].split(")", 1)[0]
    exported = tmp_path / "export.csv"
    again = cli("export", run_id, "--out", str(exported))
    assert again.returncode == 0, again.stderr

    # The pages' download buttons produce their bytes with this call (see _exports / _actions).
    page_bytes = comparisons.export_run(services, run_id, fmt="csv", shape="long")
    assert out.read_bytes() == page_bytes
    assert exported.read_bytes() == page_bytes
    header = page_bytes.decode().splitlines()[0].split(",")
    fields = list(example_prompt()["versions"][0]["config"]["response_schema"]["properties"])
    assert header[4 : 4 + len(fields)] == [f"output.{f}" for f in fields], "schema order"
    rows = page_bytes.decode().splitlines()[1:]
    assert [r.split(",")[1] for r in rows[:4]] == ["production", "v2", "production", "v2"]

    at = open_page("pages/compare.py")
    at.session_state["compare.run_id"] = run_id
    at.run()
    assert_clean(at)
    assert "compare.download.csv.long" in _download_keys(at)
    at.switch_page("pages/runs.py").run()
    at.selectbox(key="runs.selected").set_value(run_id).run()
    assert_clean(at)
    assert "runs.download" in _download_keys(at)


def _download_keys(at: AppTest) -> list[str]:
    """The user keys of the page's download buttons (their widget ids end with the key)."""
    return [str(e.proto.id).rsplit("-", 1)[-1] for e in at.get("download_button")]


def test_a_cli_promotion_is_in_the_versions_page_history_and_in_history(
    app_env: Path, services: Services
) -> None:
    name = f"history-{uuid.uuid4().hex[:8]}"
    spec = example_prompt()["versions"]
    for version in spec:
        services.prompts.create_version(
            name, type="chat", prompt=version["prompt"], config=version["config"]
        )
    promoted = cli("promote", name, "--version", "2", "--label", "staging", "--reason", "A/B won")
    assert promoted.returncode == 0, promoted.stderr
    assert "'staging' now on v2" in promoted.stdout

    listed = cli("history", name)
    assert listed.returncode == 0, listed.stderr
    line = listed.stdout.strip().splitlines()[0]
    assert "staging" in line
    assert "- → v2" in line
    assert "(cli)" in line
    assert "A/B won" in line

    clear_prompt_cache()  # the prompt list is cached for 10 s; this prompt is new
    at = open_page("pages/versions.py")
    at.selectbox(key="versions.prompt").set_value(name).run()
    assert_clean(at)
    moves = [shown(m.value) for m in at.markdown if "**staging**" in m.value]
    assert moves, [m.value for m in at.markdown]
    assert "— → v2" in moves[0]
    assert "(cli)" in moves[0]
    assert "A/B won" in moves[0]
