"""The command line end to end, in subprocesses: embedded local-langfuse, the fake OpenAI server in
its own process, the real example prompt and samples."""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prompt_playground.db import dispose_engine
from prompt_playground.examples import example_prompt
from prompt_playground.export import long_columns
from prompt_playground.runstore import RunStore
from prompt_playground.samples import load_samples
from tests.support.postgres import PostgresCluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "src" / "prompt_playground" / "examples"
PROMPT_FILE = EXAMPLES / "chat_extract_feedback.yaml"
SAMPLES_FILE = EXAMPLES / "sample_chats.csv"
NAME = "chat-extract-feedback"


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai", "--port", "0", "--no-history"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY "), line
    yield line.split()[1]
    proc.terminate()
    proc.wait(timeout=10)


def base_env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OPENAI_", "PLAYGROUND_"))
    }
    env["PLAYGROUND_DATA_DIR"] = str(data_dir)
    return env


def cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "prompt_playground.cli", *args],
        env=env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc


@pytest.fixture(scope="module")
def env(fake_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Embedded Langfuse (not seeded, so sync creates the versions), the fake model."""
    environment = base_env(tmp_path_factory.mktemp("cli-data"))
    environment.update(
        OPENAI_BASE_URL=fake_url,
        OPENAI_API_KEY="sk-test",
        PLAYGROUND_SEED_EXAMPLES="false",
        PLAYGROUND_CONCURRENCY="4",
    )
    return environment


@pytest.fixture(scope="module")
def seeded_env(fake_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Embedded Langfuse seeded with the example prompt at start (v1 production, v2 staging)."""
    environment = base_env(tmp_path_factory.mktemp("cli-seeded"))
    environment.update(OPENAI_BASE_URL=fake_url, OPENAI_API_KEY="sk-test")
    return environment


def test_sync_run_promote_versions(env: dict[str, str], tmp_path: Path) -> None:
    synced = cli(env, "sync", str(PROMPT_FILE))
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.splitlines() == [f"{NAME}: created v1", f"{NAME}: created v2"]

    again = cli(env, "sync", str(PROMPT_FILE))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"{NAME}: unchanged (v1)", f"{NAME}: unchanged (v2)"]

    out = tmp_path / "out.csv"
    ran = cli(
        env,
        "run",
        "--prompt",
        NAME,
        "--label",
        "production",
        "--label",
        "staging",
        "--samples",
        str(SAMPLES_FILE),
        "--out",
        str(out),
    )
    assert ran.returncode == 0, ran.stderr
    sample_set = load_samples(SAMPLES_FILE.read_bytes(), SAMPLES_FILE.name)
    n = len(sample_set.samples)
    assert n >= 10
    assert "production=v1" in ran.stderr
    assert "staging=v2" in ran.stderr
    assert f": completed, {2 * n}/{2 * n} results" in ran.stdout
    assert "Agreement per field:" in ran.stdout
    assert "Accuracy vs expected:" in ran.stdout
    assert f"Results: {out}" in ran.stdout
    for variant in ("production", "staging"):
        assert any(line.startswith(variant) for line in ran.stdout.splitlines())

    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    versions = example_prompt()["versions"]
    fields = list(
        dict.fromkeys(f for v in versions for f in v["config"]["response_schema"]["properties"])
    )
    assert header == long_columns(fields, sample_set.expected_fields)
    assert len(rows) == 2 * n
    records = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    per_sample: dict[str, list[str]] = {}
    for record in records:
        per_sample.setdefault(record["sample_id"], []).append(record["variant"])
        assert record["error"] == "", record["error"]
        assert record["output.sentiment"] in {"positive", "neutral", "negative", "mixed"}
    assert {s: sorted(v) for s, v in per_sample.items()} == {
        s.id: ["production", "staging"] for s in sample_set.samples
    }
    assert {r["prompt_version"] for r in records if r["variant"] == "staging"} == {"2"}

    promoted = cli(env, "promote", NAME, "--version", "2", "--label", "production")
    assert promoted.returncode == 0, promoted.stderr
    assert "'production' moved v1 → v2" in promoted.stdout

    same = cli(env, "promote", NAME, "--version", "2", "--label", "production")
    assert same.returncode == 0, same.stderr
    assert "nothing changed" in same.stdout

    listed = cli(env, "versions", NAME)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("v2")
    assert "production" in lines[0]
    assert "staging" in lines[0]
    assert versions[1]["commit_message"] in lines[0]
    assert lines[1].startswith("v1")
    assert "production" not in lines[1]


def test_a_samples_file_without_the_variable_fails_preflight(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    env = seeded_env
    bad = tmp_path / "no_chat.csv"
    bad.write_text("id,chat\n1,hello\n2,hi\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    proc = cli(
        env,
        "run",
        "--prompt",
        NAME,
        "--label",
        "staging",
        "--samples",
        str(bad),
        "--out",
        str(out),
    )
    assert proc.returncode == 1
    assert "Pre-flight failed, nothing was sent to the model" in proc.stderr
    assert "no_chat.csv" in proc.stderr
    assert "chat_json" in proc.stderr
    assert not out.exists()


def test_promoting_to_latest_is_refused(seeded_env: dict[str, str]) -> None:
    proc = cli(seeded_env, "promote", NAME, "--version", "1", "--label", "latest")
    assert proc.returncode == 1
    assert "'latest' always follows the newest version" in proc.stderr
    assert proc.stdout == ""


def test_unknown_prompt_and_label_are_clear_errors(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    env = seeded_env
    missing = cli(env, "versions", "no-such-prompt")
    assert missing.returncode == 1
    assert "no prompt named 'no-such-prompt'" in missing.stderr

    out = tmp_path / "out.csv"
    label = cli(
        env,
        "run",
        "--prompt",
        NAME,
        "--label",
        "canary",
        "--samples",
        str(SAMPLES_FILE),
        "--out",
        str(out),
    )
    assert label.returncode == 1
    assert "no label 'canary'" in label.stderr
    assert "Labels:" in label.stderr


def test_an_unreachable_langfuse_is_an_actionable_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = base_env(tmp_path)
    env.update(
        LANGFUSE_BASE_URL=closed,
        LANGFUSE_PUBLIC_KEY="pk-lf-cli",
        LANGFUSE_SECRET_KEY="sk-lf-cli-secret",
        OPENAI_API_KEY="sk-openai-cli-secret",
    )
    proc = cli(env, "versions", NAME)
    assert proc.returncode == 1
    assert closed in proc.stderr
    assert "LANGFUSE_BASE_URL" in proc.stderr
    assert "Error:" in proc.stderr
    for secret in ("sk-lf-cli-secret", "sk-openai-cli-secret"):
        assert secret not in proc.stderr + proc.stdout


def test_remote_langfuse_without_keys_says_which_to_set(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.update(LANGFUSE_BASE_URL="http://127.0.0.1:9", OPENAI_API_KEY="sk-test")
    proc = cli(env, "versions", NAME)
    assert proc.returncode == 1
    assert "LANGFUSE_PUBLIC_KEY" in proc.stderr
    assert "LANGFUSE_SECRET_KEY" in proc.stderr


def test_a_samples_file_saved_as_a_dataset_runs_like_the_file(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    first = cli(seeded_env, "datasets", "save", str(SAMPLES_FILE), "--name", "team/chats")
    again = cli(seeded_env, "datasets", "save", str(SAMPLES_FILE), "--name", "team/chats")
    assert first.returncode == 0, first.stderr
    assert "21 items" in first.stdout
    assert "21 items" in again.stdout  # saving again updates the same items

    out = tmp_path / "from-dataset.csv"
    done = cli(
        seeded_env,
        "run", "--prompt", NAME, "--label", "production", "--dataset", "team/chats",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    file_ids = [s.id for s in load_samples(SAMPLES_FILE.read_bytes(), "x.csv").samples]
    assert sorted(r["sample_id"] for r in rows) == sorted(file_ids)
    assert all(r["expected_sentiment"] for r in rows)
    # ... and the run is in Langfuse too, as the dataset's run for the variant
    assert re.search(
        r"Langfuse dataset runs on 'team/chats' \(21 items\): run-[\w-]+ · production",
        done.stdout,
    ), done.stdout


def test_running_needs_exactly_one_samples_source(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    out = str(tmp_path / "x.csv")
    neither = cli(seeded_env, "run", "--prompt", NAME, "--label", "production", "--out", out)
    missing = cli(
        seeded_env,
        "run", "--prompt", NAME, "--label", "production", "--dataset", "nope", "--out", out,
    )  # fmt: skip
    assert neither.returncode == 2
    assert "exactly one of --samples FILE or --dataset NAME" in neither.stderr
    assert missing.returncode == 1
    assert "dataset 'nope'" in missing.stderr


def test_post_scores_sends_accuracy_for_every_scored_trace(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    done = cli(
        seeded_env,
        "run", "--prompt", NAME, "--label", "production", "--samples", str(SAMPLES_FILE),
        "--out", str(tmp_path / "scored.jsonl"), "--post-scores", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = len(load_samples(SAMPLES_FILE.read_bytes(), "x.csv").samples)
    # One score per field with an expected value (3) plus the overall mean, for every row.
    assert f"Posted {rows * 4} scores to Langfuse." in done.stdout


def test_wide_export_from_the_cli_has_one_row_per_sample_and_a_column_per_variant(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "wide.csv"
    done = cli(
        seeded_env,
        "run", "--prompt", NAME, "--label", "production", "--label", "staging",
        "--samples", str(SAMPLES_FILE), "--out", str(out), "--wide", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    file_ids = [s.id for s in load_samples(SAMPLES_FILE.read_bytes(), "x.csv").samples]
    assert sorted(r["sample_id"] for r in rows) == sorted(file_ids)  # one row per sample
    assert header[0] == "sample_id"
    for variant in ("production", "staging"):
        assert f"output.sentiment.{variant}" in header
        assert f"error.{variant}" in header
    assert "variant" not in header  # the long form's column
    assert "expected_sentiment" in header
    assert all(r["output.sentiment.production"] for r in rows)


def test_the_data_directory_is_created_private_before_the_embedded_langfuse(
    fake_url: str, tmp_path: Path
) -> None:
    env = base_env(tmp_path / "fresh" / "data")
    env.update(OPENAI_BASE_URL=fake_url, OPENAI_API_KEY="sk-test")
    old = os.umask(0o022)  # the child inherits the usual umask
    try:
        done = cli(env, "versions", NAME)
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    data = tmp_path / "fresh" / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "runs.sqlite3").stat().st_mode) == 0o600


def test_a_draft_file_runs_beside_a_label_and_creates_no_version(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    import yaml

    version = example_prompt()["versions"][0]
    version["prompt"][0]["content"] += " Keep the summary under ten words."
    draft = tmp_path / "terse.yaml"
    draft.write_text(yaml.safe_dump({"name": NAME, "type": "chat", **version}), encoding="utf-8")
    before = cli(seeded_env, "versions", NAME).stdout
    out = tmp_path / "out.csv"
    ran = cli(
        seeded_env,
        "run",
        "--prompt",
        NAME,
        "--label",
        "production",
        "--draft",
        str(draft),
        "--samples",
        str(SAMPLES_FILE),
        "--out",
        str(out),
    )
    assert ran.returncode == 0, ran.stderr
    assert "production=v1, draft:terse" in ran.stderr
    assert any(line.startswith("draft:terse") for line in ran.stdout.splitlines())
    records = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    drafted = [r for r in records if r["variant"] == "draft:terse"]
    assert len(drafted) == len(records) // 2 > 0
    assert {r["prompt_version"] for r in drafted} == {""}, "a draft has no version"
    assert {r["prompt_version"] for r in records if r["variant"] == "production"} == {"1"}
    assert cli(seeded_env, "versions", NAME).stdout == before, "no version was created"


def test_a_draft_file_for_another_prompt_or_with_two_versions_is_refused(
    seeded_env: dict[str, str], tmp_path: Path
) -> None:
    import yaml

    spec = example_prompt()
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(spec), encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text(
        yaml.safe_dump({"name": "another", "type": "chat", **spec["versions"][0]}),
        encoding="utf-8",
    )
    args = ["run", "--prompt", NAME, "--samples", str(SAMPLES_FILE), "--out", "x.csv"]
    refused = cli(seeded_env, *args, "--draft", str(two))
    assert refused.returncode == 2
    assert "lists 2 versions" in refused.stderr
    wrong = cli(seeded_env, *args, "--draft", str(other))
    assert wrong.returncode == 2
    assert "--draft file for 'another'" in wrong.stderr


def test_a_cli_run_with_the_database_url_lands_in_the_shared_store(
    fake_url: str, postgres: PostgresCluster, tmp_path: Path
) -> None:
    """A CI job's run shows up for every replica: it is in the database another process reads."""
    url = postgres.new_database()
    env = base_env(tmp_path / "ci-data")
    env.update(OPENAI_BASE_URL=fake_url, OPENAI_API_KEY="sk-test", PLAYGROUND_DATABASE_URL=url)
    upgraded = cli(env, "db", "upgrade")  # what a deploy runs before rolling out replicas
    assert upgraded.returncode == 0, upgraded.stderr
    assert "are up to date" in upgraded.stdout
    done = cli(
        env,
        "run", "--prompt", NAME, "--label", "production", "--label", "staging",
        "--samples", str(SAMPLES_FILE), "--out", str(tmp_path / "out.csv"), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    n = len(load_samples(SAMPLES_FILE.read_bytes(), SAMPLES_FILE.name).samples)
    try:
        [run] = RunStore(url).list_runs()  # this test process: another reader of the database
        assert (run.status, run.done, run.total) == ("completed", 2 * n, 2 * n)
        assert len(RunStore(url).results(run.id)) == 2 * n
    finally:
        dispose_engine(url)
    assert not (tmp_path / "ci-data" / "runs.sqlite3").exists(), "nothing written to SQLite"
    exported = cli(env, "export", run.id, "--out", str(tmp_path / "again.csv"))
    assert exported.returncode == 0, exported.stderr


def test_a_database_url_password_never_reaches_the_terminal(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env["PLAYGROUND_DATABASE_URL"] = "postgresql://team:hunter2-pw@127.0.0.1:1/playground"
    done = cli(env, "db", "upgrade")
    assert done.returncode == 1
    assert "hunter2-pw" not in done.stdout + done.stderr
    assert "team:***@127.0.0.1:1/playground" in done.stderr
