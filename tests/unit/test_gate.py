"""The promotion gate on runs built from plain results: each rule fails when it should, the JSON
keeps its documented shape, and bad requests are usage errors."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from prompt_playground.gate import Evidence, GateUsageError, evaluate, find_evidence, gate_run
from prompt_playground.models import Result, Sample
from prompt_playground.policy import PromotionPolicy
from prompt_playground.runstore import RunRecord, RunStore

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["a", "b", "c", "d"]},
        "note": {"type": "string"},
    },
    "required": ["label", "note"],
}
SCHEMAS = {"base": SCHEMA, "cand": SCHEMA}
POLICY = PromotionPolicy()


def _result(sample: str, variant: str, label: str | None, **extra: Any) -> Result:
    ok = label is not None
    return Result(
        run_id="run-1",
        sample_id=sample,
        variant=variant,
        prompt_name="p",
        prompt_version=1,
        output={"label": label, "note": "n"} if ok else None,
        error=None if ok else extra.pop("error", "HTTP 500"),
        raw_output=extra.pop("raw_output", None),
        expected={"label": extra.pop("truth", "a")},
    )


def _run(n: int, base: str, cand: str, seed: int = 1) -> list[Result]:
    """``base``/``cand``: 'right', 'random' or 'error' for every sample."""
    rnd = random.Random(seed)
    results = []
    for i in range(n):
        truth = rnd.choice("abcd")
        for variant, how in (("base", base), ("cand", cand)):
            label = {"right": truth, "random": rnd.choice("abcd"), "error": None}[how]
            results.append(_result(f"s{i}", variant, label, truth=truth))
    return results


def _gate(results: list[Result], policy: PromotionPolicy = POLICY, **kw: Any) -> Any:
    return evaluate(
        results,
        SCHEMAS,
        run_id="run-1",
        candidate=kw.pop("candidate", "cand"),
        baseline=kw.pop("baseline", "base"),
        policy=policy,
        **kw,
    )


def _rules(result: Any) -> dict[str, bool]:
    return {r.rule: r.passed for r in result.rules}


def test_better_candidate_passes_and_json_keeps_the_contract() -> None:
    result = _gate(_run(30, "random", "right"))
    assert result.passed
    document = result.to_json()
    assert list(document) == [
        "passed",
        "candidate",
        "baseline",
        "run_id",
        "n_samples",
        "repeats",
        "rules",
        "fields",
        "agreement",
    ]
    assert document["n_samples"] == 30
    assert document["repeats"] == 1
    assert set(document["fields"]) == {"label"}
    label = document["fields"]["label"]
    assert list(label) == [
        "baseline",
        "candidate",
        "difference",
        "ci95",
        "p_value",
        "p_adjusted",
        "verdict",
    ]
    assert label["verdict"] == "better"
    assert label["ci95"][0] > 0
    assert set(document["agreement"]) == {"label", "note"}
    assert list(document["agreement"]["label"]) == ["rate", "ci95"]
    assert {r["rule"] for r in document["rules"]} == {
        "run_completed",
        "min_samples",
        "no_field_worse",
        "schema_valid_not_worse",
        "error_rate_not_worse",
    }
    json.dumps(document, allow_nan=False)  # plain JSON, no NaN


def test_worse_candidate_fails_on_the_field_rule_only() -> None:
    result = _gate(_run(30, "right", "random"))
    assert not result.passed
    rules = _rules(result)
    assert rules["no_field_worse"] is False
    assert rules["min_samples"]
    assert rules["error_rate_not_worse"]
    detail = next(r.detail for r in result.rules if r.rule == "no_field_worse")
    assert "label" in detail
    assert "Holm p" in detail


def test_too_few_samples_fail_min_samples() -> None:
    result = _gate(_run(12, "random", "right"))
    assert _rules(result)["min_samples"] is False
    assert "12 samples" in next(r.detail for r in result.rules if r.rule == "min_samples")
    assert _gate(_run(12, "random", "right"), PromotionPolicy(min_samples=10)).passed


def test_a_candidate_that_errors_more_fails_the_error_rate_rule() -> None:
    results = _run(30, "right", "right")
    broken = {f"s{i}" for i in range(12)}
    results = [
        _result(r.sample_id, "cand", None, truth=r.expected["label"])
        if r.variant == "cand" and r.sample_id in broken
        else r
        for r in results
    ]
    rules = _rules(_gate(results))
    assert rules["error_rate_not_worse"] is False
    assert rules["schema_valid_not_worse"] is True  # transport errors: no answer to validate
    assert rules["no_field_worse"] is True


def test_answers_failing_the_schema_fail_the_schema_valid_rule() -> None:
    results = _run(30, "right", "right")
    invalid = {f"s{i}" for i in range(12)}
    results = [
        _result(
            r.sample_id,
            "cand",
            None,
            truth=r.expected["label"],
            error="The output did not match the response schema after 3 attempt(s)",
            raw_output='{"label": "zzz"}',
        )
        if r.variant == "cand" and r.sample_id in invalid
        else r
        for r in results
    ]
    rules = _rules(_gate(results))
    assert rules["schema_valid_not_worse"] is False
    assert rules["error_rate_not_worse"] is False


def test_a_run_that_did_not_complete_fails() -> None:
    result = _gate(_run(30, "random", "right"), status="cancelled")
    assert _rules(result)["run_completed"] is False
    assert not result.passed


def test_disabled_rules_are_not_checked() -> None:
    policy = PromotionPolicy(no_field_worse=False)
    result = _gate(_run(30, "right", "random"), policy)
    assert "no_field_worse" not in _rules(result)
    assert result.passed


def test_with_repeats_a_less_consistent_candidate_fails_and_json_has_self_consistency() -> None:
    results = []
    for i in range(30):
        for _repeat in range(3):
            results.append(_result(f"s{i}", "base", "a"))
        for label in "aab":  # the candidate changes its mind on every sample
            results.append(_result(f"s{i}", "cand", label))
    result = _gate(results)
    assert _rules(result)["self_consistency_not_lower"] is False
    document = result.to_json()
    assert document["repeats"] == 3
    assert document["self_consistency"] == {
        "cand": {"label": 0.0, "note": 1.0},
        "base": {"label": 1.0, "note": 1.0},
    }


def test_candidate_equal_to_baseline_is_a_usage_error() -> None:
    with pytest.raises(GateUsageError, match="both 'base'"):
        _gate(_run(3, "right", "right"), candidate="base")


def _store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "runs.sqlite3")
    results = _run(25, "random", "right")
    samples = [Sample(id=f"s{i}", row=i + 1) for i in range(25)]
    record = RunRecord(
        id="run-1",
        prompt_name="p",
        variants=["base", "cand"],
        total=50,
        meta={"schemas": SCHEMAS},
    )
    store.create_run(record, samples)
    store.add_results(results)
    store.finish_run("run-1", "completed")
    return store


def test_gate_run_reads_the_run_from_the_store(tmp_path: Path) -> None:
    result = gate_run(_store(tmp_path), "run-1", candidate="cand", baseline="base", policy=POLICY)
    assert result.passed
    assert result.n_samples == 25
    assert "Gate PASSED: cand over base (run run-1)" in result.format()


def test_gate_run_names_the_variants_when_one_is_unknown(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(GateUsageError, match=r"no variant 'v9'.*Its variants: base, cand"):
        gate_run(store, "run-1", candidate="v9", baseline="base", policy=POLICY)
    with pytest.raises(GateUsageError, match="no run 'nope'"):
        gate_run(store, "nope", candidate="cand", baseline="base", policy=POLICY)


def test_find_evidence_takes_the_latest_completed_run_with_both_versions(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")

    def add(run_id: str, versions: dict[str, int], status: str, prompt: str = "p") -> None:
        record = RunRecord(
            id=run_id,
            prompt_name=prompt,
            variants=list(versions),
            total=0,
            created_at=f"2026-12-01T10:00:{len(store.list_runs()):02d}+00:00",
            meta={"versions": versions, "schemas": dict.fromkeys(versions, SCHEMA)},
        )
        store.create_run(record, [])
        store.finish_run(run_id, status)  # type: ignore[arg-type]

    add("old", {"production": 1, "v3": 3}, "completed")
    add("other-prompt", {"production": 1, "v3": 3}, "completed", prompt="q")
    add("cancelled", {"production": 1, "v3": 3}, "cancelled")
    add("only-v3", {"v3": 3, "v2": 2}, "completed")
    assert find_evidence(store, "p", candidate_version=3, baseline_version=1) == Evidence(
        "old", "v3", "production"
    )
    add("newer", {"v1": 1, "staging": 3}, "completed")
    assert find_evidence(store, "p", candidate_version=3, baseline_version=1) == Evidence(
        "newer", "staging", "v1"
    )
    assert find_evidence(store, "p", candidate_version=4, baseline_version=1) is None
