"""Repeats and the pre-run estimate through the CLI, against the OpenAI-compatible test server.

The server runs with ``sample_temperature``: the version sampled at temperature 0.9 may answer
differently each time it is asked, the one at temperature 0 never does.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import chat_version, fake_model_env, run_id_of, sync_prompt
from tests.support.cli import run_cli as cli
from tests.support.fake_openai import FakeModelState, FakeOpenAIServer

NAME = "mood"
N_SAMPLES = 8
REPEATS = 3
SYSTEM = "Say the mood of the message."
SCHEMA = {"mood": {"type": "string", "enum": ["happy", "sad", "angry", "calm"]}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeModelState(sample_temperature=True)) as server:
        yield server


@pytest.fixture(scope="module")
def env(fake: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return fake_model_env(tmp_path_factory.mktemp("repeat-data"), fake.base_url, concurrency=4)


@pytest.fixture(scope="module")
def files(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("repeat-files")
    spec = {
        "name": NAME,
        "type": "chat",
        "versions": [
            chat_version(SYSTEM, ["production"], SCHEMA, temperature=0, max_tokens=200),
            chat_version(SYSTEM, ["staging"], SCHEMA, temperature=0.9, max_tokens=200),
        ],
    }
    sync_prompt(env, folder, spec)
    with (folder / "msgs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(N_SAMPLES):
            writer.writerow([f"m{i}", f"Message number {i} about the weather"])
    return folder


def run_args(files: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--prompt",
        NAME,
        "--label",
        "production",
        "--label",
        "staging",
        "--samples",
        str(files / "msgs.csv"),
        "--out",
        str(files / "out.csv"),
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def repeated(env: dict[str, str], files: Path, fake: FakeOpenAIServer) -> dict[str, Any]:
    fake.state.clear()
    ran = cli(env, *run_args(files, "--repeat", str(REPEATS)))
    assert ran.returncode == 0, ran.stderr
    return {"proc": ran, "run_id": run_id_of(ran), "requests": fake.state.request_count}


def test_each_sample_and_variant_is_called_repeat_times(repeated: dict[str, Any]) -> None:
    assert repeated["requests"] == N_SAMPLES * 2 * REPEATS


def test_a_sampled_variant_is_less_than_self_consistent(
    env: dict[str, str], repeated: dict[str, Any]
) -> None:
    proc = cli(
        env,
        "gate",
        "--run",
        repeated["run_id"],
        "--candidate",
        "staging",
        "--baseline",
        "production",
        "--json",
    )
    result = json.loads(proc.stdout)
    assert result["repeats"] == REPEATS
    consistency = result["self_consistency"]
    assert consistency["production"]["mood"] == 1.0  # temperature 0 answers the same each time
    assert consistency["staging"]["mood"] < 1.0
    assert "self-consistency staging: mood" in repeated["proc"].stdout  # the run summary


def test_long_export_numbers_the_repeats_and_wide_shows_majorities(
    env: dict[str, str], repeated: dict[str, Any], files: Path
) -> None:
    rows = list(csv.DictReader(io.StringIO((files / "out.csv").read_text("utf-8"))))
    assert len(rows) == N_SAMPLES * 2 * REPEATS
    assert sorted({r["repeat"] for r in rows}) == ["1", "2", "3"]
    staging = [r for r in rows if r["variant"] == "staging" and r["sample_id"] == "m0"]
    assert sorted(r["repeat"] for r in staging) == ["1", "2", "3"]
    wide = files / "wide.csv"
    exported = cli(env, "export", repeated["run_id"], "--out", str(wide), "--wide")
    assert exported.returncode == 0, exported.stderr
    wide_rows = list(csv.DictReader(io.StringIO(wide.read_text("utf-8"))))
    assert len(wide_rows) == N_SAMPLES
    for row in wide_rows:
        answers = [
            r["output.mood"]
            for r in rows
            if r["sample_id"] == row["sample_id"] and r["variant"] == "staging"
        ]
        top = max(answers.count(a) for a in answers)
        assert answers.count(row["output.mood.staging"]) == top  # a majority value


def test_repeat_out_of_range_is_refused(env: dict[str, str], files: Path) -> None:
    proc = cli(env, *run_args(files, "--repeat", "21"))
    assert proc.returncode == 2
    assert "--repeat" in proc.stderr


def test_estimate_prints_and_makes_no_model_call(
    env: dict[str, str], files: Path, fake: FakeOpenAIServer, repeated: dict[str, Any]
) -> None:
    fake.state.clear()
    proc = cli(env, *run_args(files, "--estimate", "--repeat", "2"))
    assert proc.returncode == 0, proc.stderr
    assert fake.state.request_count == 0
    out = proc.stdout
    assert f"Calls: {N_SAMPLES * 2 * 2} (× 2 repeats)" in out
    assert "Input tokens: ≈" in out  # the test server has no tokenizer here
    # output tokens of both versions are known from the repeated run before
    assert "production: output from" in out
    assert "earlier calls of v1" in out
    assert re.search(r"Cost: \$\d+\.\d{4} – \$\d+\.\d{4}", out), out
    assert "mean latency" in out


def test_estimate_counts_input_with_the_endpoints_tokenizer(
    env: dict[str, str], files: Path, fake: FakeOpenAIServer
) -> None:
    fake.state.clear()
    fake.state.tokenize = True
    try:
        proc = cli(env, *run_args(files, "--estimate"))
    finally:
        fake.state.tokenize = False
    assert proc.returncode == 0, proc.stderr
    assert fake.state.request_count == 0
    assert fake.state.tokenize_count > N_SAMPLES  # a probe, then each sample × variant
    found = re.search(r"Input tokens: ([\d,]+)\n", proc.stdout)
    assert found, proc.stdout  # no "≈": counted
    # 6 words of system prompt + 6 of each message, plus 4 per message of template allowance
    assert int(found.group(1).replace(",", "")) == 2 * N_SAMPLES * (6 + 6 + 2 * 4)


def test_max_cost_refuses_over_the_limit_and_sends_nothing(
    env: dict[str, str], files: Path, fake: FakeOpenAIServer
) -> None:
    fake.state.clear()
    proc = cli(env, *run_args(files, "--max-cost", "0.000001"))
    assert proc.returncode == 1
    assert "Refusing to start: the estimate is up to $" in proc.stderr
    assert fake.state.request_count == 0
    allowed = cli(env, *run_args(files, "--max-cost", "5"))
    assert allowed.returncode == 0, allowed.stderr
    assert fake.state.request_count == N_SAMPLES * 2
