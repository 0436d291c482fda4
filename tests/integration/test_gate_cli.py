"""`prompt-playground gate` end to end: prompts synced to the embedded Langfuse, a run through the
CLI against the OpenAI-compatible test server, then the gate on that run in CI's terms (exit
codes and the JSON contract).

Version 2 of the prompt carries a ``FAKE-ANSWER`` line with the sample's expected label, so the
test server answers it right; version 1 does not, so its labels are the server's guesses.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cli import chat_version, fake_model_env, run_id_of, sync_prompt
from tests.support.cli import run_cli as cli
from tests.support.fake_openai import FakeOpenAIServer

NAME = "ticket-router"
LABELS = ["billing", "bug", "feature", "account"]
N_SAMPLES = 30
SCHEMA = {
    "label": {"type": "string", "enum": LABELS},
    "reason": {"type": "string", "maxLength": 80},
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with FakeOpenAIServer() as fake:
        yield fake_model_env(tmp_path_factory.mktemp("gate-data"), fake.base_url, concurrency=8)


@pytest.fixture(scope="module")
def run_id(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """One run of production (= v1, guessing), v1 itself, and v2 (answering right)."""
    folder = tmp_path_factory.mktemp("gate-files")
    answering = 'Route the support ticket to a queue.\nFAKE-ANSWER: {"label": "{{hint}}"}'
    spec = {
        "name": NAME,
        "type": "chat",
        "versions": [
            chat_version(
                "Route the support ticket to a queue.", ["production"], SCHEMA, temperature=0
            ),
            chat_version(answering, ["staging"], SCHEMA, temperature=0),
        ],
    }
    sync_prompt(env, folder, spec)

    rnd = random.Random(42)
    samples = folder / "tickets.csv"
    with samples.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "hint", "expected_label"])
        for i in range(N_SAMPLES):
            label = rnd.choice(LABELS)
            writer.writerow(
                [f"t{i:02d}", f"Ticket {i}: something about {label} #{i}", label, label]
            )
    ran = cli(
        env,
        "run",
        "--prompt",
        NAME,
        "--label",
        "production",
        "--version",
        "1",
        "--version",
        "2",
        "--samples",
        str(samples),
        "--out",
        str(folder / "out.csv"),
        "--quiet",
    )
    assert ran.returncode == 0, ran.stderr
    return run_id_of(ran)


def gate(env: dict[str, str], run_id: str, candidate: str, baseline: str) -> tuple[int, Any]:
    proc = cli(
        env, "gate", "--run", run_id, "--candidate", candidate, "--baseline", baseline, "--json"
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_the_variant_that_answers_right_gates_better_than_the_guessing_one(
    env: dict[str, str], run_id: str
) -> None:
    code, result = gate(env, run_id, "v2", "production")
    assert code == 0
    assert result["passed"] is True
    assert (result["run_id"], result["candidate"], result["baseline"]) == (
        run_id,
        "v2",
        "production",
    )
    assert result["n_samples"] == N_SAMPLES
    assert result["repeats"] == 1
    label = result["fields"]["label"]
    assert label["candidate"] == 1.0
    assert label["baseline"] < 0.6
    assert label["verdict"] == "better"
    assert label["p_value"] < 0.05
    assert label["p_adjusted"] < 0.05
    assert 0 < label["ci95"][0] <= label["difference"] <= label["ci95"][1]
    assert "self_consistency" not in result  # no repeats in this run
    assert all(rule["passed"] for rule in result["rules"])


def test_the_guessing_variant_fails_the_gate_against_the_right_one(
    env: dict[str, str], run_id: str
) -> None:
    code, result = gate(env, run_id, "production", "v2")
    assert code == 1
    assert result["passed"] is False
    assert result["fields"]["label"]["verdict"] == "worse"
    assert result["fields"]["label"]["ci95"][1] < 0
    failed = [rule["rule"] for rule in result["rules"] if not rule["passed"]]
    assert failed == ["no_field_worse"]


def test_two_identical_versions_show_no_detectable_difference(
    env: dict[str, str], run_id: str
) -> None:
    code, result = gate(env, run_id, "v1", "production")
    assert code == 0
    label = result["fields"]["label"]
    assert label["verdict"] == "no detectable difference"
    assert label["difference"] == 0
    assert label["p_value"] == 1.0
    assert result["agreement"]["label"]["rate"] == 1.0


def test_text_output_names_the_verdict_and_each_rule(env: dict[str, str], run_id: str) -> None:
    proc = cli(env, "gate", "--run", run_id, "--candidate", "production", "--baseline", "v2")
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"Gate FAILED: production over v2 (run {run_id})")
    assert "✗ no_field_worse: significantly worse: label" in proc.stdout
    assert "✓ min_samples: 30 samples run by both (policy: at least 20)" in proc.stdout


def test_a_stricter_policy_from_the_environment_is_applied(
    env: dict[str, str], run_id: str
) -> None:
    strict = {**env, "PLAYGROUND_PROMOTION_POLICY": '{"min_samples": 100}'}
    proc = cli(strict, "gate", "--run", run_id, "--candidate", "v2", "--baseline", "production")
    assert proc.returncode == 1
    assert "✗ min_samples: 30 samples run by both (policy: at least 100)" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "run-missing", "--candidate", "v2", "--baseline", "v1"], "no run 'run-missing'"),
        (["--candidate", "v9", "--baseline", "v1"], "no variant 'v9'"),
        (["--candidate", "v1", "--baseline", "v1"], "both 'v1'"),
        (["--candidate", "v2"], "--baseline"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    env: dict[str, str], run_id: str, args: list[str], message: str
) -> None:
    if "--run" not in args:
        args = ["--run", run_id, *args]
    proc = cli(env, "gate", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_a_bad_policy_setting_is_bad_usage(env: dict[str, str], run_id: str) -> None:
    broken = {**env, "PLAYGROUND_PROMOTION_POLICY": '{"min_sample": 5}'}
    proc = cli(broken, "gate", "--run", run_id, "--candidate", "v2", "--baseline", "v1")
    assert proc.returncode == 2
    assert "promotion_policy.min_sample" in proc.stderr


def test_promote_with_require_evidence_refuses_a_failing_gate_and_records_a_passing_one(
    env: dict[str, str], run_id: str
) -> None:
    # production is on v1; v2 answers right: its gate on the run above passes
    refused = cli(
        env, "promote", NAME, "--version", "1", "--label", "staging", "--require-evidence"
    )
    assert refused.returncode == 1  # v1 against staging's holder v2: significantly worse
    assert "Not promoted: gate FAILED on run" in refused.stderr
    moved = cli(
        env, "promote", NAME, "--version", "2", "--label", "production", "--require-evidence"
    )
    assert moved.returncode == 0, moved.stderr
    assert "Gate PASSED: v2 over production" in moved.stdout
    history = cli(env, "history", NAME)
    assert f"gate passed on run {run_id}" in history.stdout
    none = cli(env, "promote", NAME, "--version", "1", "--label", "canary")
    assert none.returncode == 0  # a new label has no holder to beat
