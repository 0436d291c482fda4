"""The promotion gate: does a finished run hold the evidence the promotion policy asks for?

A run of the candidate and the baseline on the same samples is folded by
:mod:`prompt_playground.statistics` and checked rule by rule against the
:class:`~prompt_playground.policy.PromotionPolicy`. :meth:`GateResult.to_json` is the contract CI
scripts read (``prompt-playground gate --json``, documented in the README).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from prompt_playground.compare import Schema
from prompt_playground.errors import PlaygroundError, RunStoreError
from prompt_playground.models import Result
from prompt_playground.policy import PromotionPolicy
from prompt_playground.runstore import RunRecord, RunStore
from prompt_playground.statistics import (
    Floats,
    PairedStatistics,
    PairedTest,
    Tables,
    format_statistics,
    holm,
    paired,
    paired_test,
    tabulate,
)


class GateUsageError(PlaygroundError):
    """The gate was asked about a run or variant that does not exist (CLI exit code 2)."""


@dataclass(frozen=True)
class Rule:
    """One rule of the policy on one run: whether it holds, and the numbers behind it."""

    rule: str
    passed: bool
    detail: str


@dataclass
class GateResult:
    """The policy's verdict on a candidate against a baseline in one run."""

    run_id: str
    candidate: str
    baseline: str
    rules: list[Rule]
    statistics: PairedStatistics

    @property
    def passed(self) -> bool:
        return all(rule.passed for rule in self.rules)

    @property
    def n_samples(self) -> int:
        return self.statistics.n_samples

    @property
    def repeats(self) -> int:
        return self.statistics.repeats

    def to_json(self) -> dict[str, Any]:
        """The documented JSON contract (README, "Promotion gate")."""
        stats = self.statistics
        document: dict[str, Any] = {
            "passed": self.passed,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "run_id": self.run_id,
            "n_samples": self.n_samples,
            "repeats": self.repeats,
            "rules": [{"rule": r.rule, "passed": r.passed, "detail": r.detail} for r in self.rules],
            "fields": {
                name: {
                    "baseline": fs.test.baseline,
                    "candidate": fs.test.candidate,
                    "difference": fs.test.difference,
                    "ci95": list(fs.test.ci95),
                    "p_value": fs.test.p_value,
                    "p_adjusted": fs.p_adjusted,
                    "verdict": fs.verdict,
                }
                for name, fs in stats.fields.items()
            },
            "agreement": {
                name: {"rate": a.rate, "ci95": list(a.ci95) if a.ci95 is not None else None}
                for name, a in stats.agreement.items()
            },
        }
        if stats.repeats > 1:
            document["self_consistency"] = {
                variant: {name: p.rate for name, p in per_field.items()}
                for variant, per_field in stats.self_consistency.items()
            }
        return document

    def format(self) -> str:
        """Plain text for the terminal: the verdict, each rule, then the statistics."""
        head = "PASSED" if self.passed else "FAILED"
        lines = [f"Gate {head}: {self.candidate} over {self.baseline} (run {self.run_id})"]
        lines += [f"  {'✓' if r.passed else '✗'} {r.rule}: {r.detail}" for r in self.rules]
        return "\n".join([*lines, "", format_statistics(self.statistics)])


def evaluate(
    results: Iterable[Result],
    schemas: Mapping[str, Schema],
    *,
    run_id: str,
    candidate: str,
    baseline: str,
    policy: PromotionPolicy,
    status: str = "completed",
) -> GateResult:
    """Check ``candidate`` against ``baseline`` on ``results`` of one run, rule by rule."""
    if candidate == baseline:
        raise GateUsageError(f"The candidate and the baseline are both '{candidate}'.")
    tables = tabulate(results, schemas, [baseline, candidate])
    stats = paired(tables, baseline, candidate, alpha=policy.alpha)
    rules = [
        Rule(
            "run_completed",
            status == "completed",
            "the run completed"
            if status == "completed"
            else f"the run is {status}; gate a run that completed",
        ),
        Rule(
            "min_samples",
            stats.n_samples >= policy.min_samples,
            f"{stats.n_samples} samples run by both (policy: at least {policy.min_samples})",
        ),
    ]
    if policy.no_field_worse:
        rules.append(_no_field_worse(stats))
    base, cand = tables.variants[baseline], tables.variants[candidate]
    if policy.schema_valid_not_worse:
        test = paired_test(
            _share(base.valid, base.answered), _share(cand.valid, cand.answered), alpha=policy.alpha
        )
        rules.append(_rate_rule("schema_valid_not_worse", "schema-valid", test, policy.alpha))
    if policy.error_rate_not_worse:
        test = paired_test(
            _share(base.errors, base.calls), _share(cand.errors, cand.calls), alpha=policy.alpha
        )
        rules.append(
            _rate_rule("error_rate_not_worse", "error rate", test, policy.alpha, lower=True)
        )
    if policy.self_consistency_not_lower and tables.repeats > 1:
        rules.append(_self_consistency(tables, baseline, candidate, policy.alpha))
    return GateResult(run_id, candidate, baseline, rules, stats)


def gate_run(
    store: RunStore, run_id: str, *, candidate: str, baseline: str, policy: PromotionPolicy
) -> GateResult:
    """:func:`evaluate` on a run from the run store.

    Raises:
        GateUsageError: no such run, or a variant the run did not have.
    """
    try:
        record = store.get_run(run_id)
    except RunStoreError as exc:
        raise GateUsageError(exc.message) from exc
    _check_variants(record, candidate, baseline)
    schemas = record.meta.get("schemas")
    if not isinstance(schemas, Mapping) or not {candidate, baseline} <= schemas.keys():
        raise GateUsageError(
            f"Run '{run_id}' did not record the response schemas of its variants, so its "
            "answers cannot be scored. Run the comparison again."
        )
    return evaluate(
        store.results(run_id),
        schemas,
        run_id=run_id,
        candidate=candidate,
        baseline=baseline,
        policy=policy,
        status=record.status,
    )


@dataclass(frozen=True)
class Evidence:
    """The run that can back a promotion, and which of its variants ran which version."""

    run_id: str
    candidate: str
    baseline: str


def find_evidence(
    store: RunStore,
    prompt_name: str,
    *,
    candidate_version: int,
    baseline_version: int,
    candidate_hash: str | None = None,
    limit: int = 200,
) -> Evidence | None:
    """The latest completed run of ``prompt_name`` that ran both versions (by any label or
    number) on the same samples; ``None`` when there is none among the last ``limit`` runs.

    A draft whose content hash is ``candidate_hash`` (the candidate version's content) counts
    as the candidate: a draft that was compared and then saved is evidence for its version.
    """
    for record in store.list_runs(limit):
        if record.prompt_name != prompt_name or record.status != "completed":
            continue
        versions = record.meta.get("versions")
        if not isinstance(versions, Mapping):
            continue
        candidate = _key_of(record.variants, versions, candidate_version)
        if candidate is None and candidate_hash is not None:
            candidate = _draft_key(record, candidate_hash)
        baseline = _key_of(record.variants, versions, baseline_version, avoid=candidate)
        if candidate is not None and baseline is not None and candidate != baseline:
            return Evidence(record.id, candidate, baseline)
    return None


def _draft_key(record: RunRecord, content_hash: str) -> str | None:
    drafts = record.meta.get("drafts")
    if not isinstance(drafts, Mapping):
        return None
    for key in record.variants:
        meta = drafts.get(key)
        if isinstance(meta, Mapping) and meta.get("content_hash") == content_hash:
            return key
    return None


def _key_of(
    variants: list[str], versions: Mapping[str, Any], version: int, avoid: str | None = None
) -> str | None:
    keys = [key for key in variants if versions.get(key) == version and key != avoid]
    return keys[0] if keys else None


def _check_variants(record: RunRecord, candidate: str, baseline: str) -> None:
    unknown = [v for v in (candidate, baseline) if v not in record.variants]
    if unknown:
        raise GateUsageError(
            f"Run '{record.id}' has no variant {', '.join(repr(v) for v in unknown)}. "
            f"Its variants: {', '.join(record.variants)}."
        )
    if candidate == baseline:
        raise GateUsageError(f"The candidate and the baseline are both '{candidate}'.")


def _share(part: Floats, whole: Floats) -> Floats:
    """``part / whole`` per sample; NaN where ``whole`` is 0 (nothing to compare there)."""
    out = np.full(part.shape, np.nan)
    np.divide(part, whole, out=out, where=whole > 0)
    return out


def _no_field_worse(stats: PairedStatistics) -> Rule:
    if not stats.fields:
        return Rule("no_field_worse", True, "no field has expected values; nothing to score")
    worse = [fs for fs in stats.fields.values() if fs.verdict == "worse"]
    if not worse:
        better = [name for name, fs in stats.fields.items() if fs.verdict == "better"]
        detail = f"no field significantly worse ({len(stats.fields)} scored"
        detail += f"; better: {', '.join(better)})" if better else ")"
        return Rule("no_field_worse", True, detail)
    parts = [
        f"{fs.field} {fs.test.candidate:.0%} vs {fs.test.baseline:.0%} "
        f"(difference {fs.test.difference:+.2f}, 95% CI [{fs.test.ci95[0]:+.2f}, "
        f"{fs.test.ci95[1]:+.2f}], Holm p {fs.p_adjusted:.3g})"
        for fs in worse
    ]
    return Rule("no_field_worse", False, "significantly worse: " + "; ".join(parts))


def _rate_rule(
    rule: str, what: str, test: PairedTest | None, alpha: float, *, lower: bool = False
) -> Rule:
    if test is None:
        return Rule(rule, True, f"no sample where both variants have a {what} to compare")
    worse = test.worse(alpha, higher_is_better=not lower)
    verdict = "significantly worse" if worse else "not significantly worse"
    detail = (
        f"{what} {test.candidate:.1%} vs {test.baseline:.1%} "
        f"(p {test.p_value:.3g}, {test.n} samples): {verdict}"
    )
    return Rule(rule, not worse, detail)


def _self_consistency(tables: Tables, baseline: str, candidate: str, alpha: float) -> Rule:
    base = tables.variants[baseline].consistent
    cand = tables.variants[candidate].consistent
    tests = {
        name: test
        for name in tables.fields
        if (test := paired_test(base[name], cand[name], alpha=alpha))
    }
    adjusted = dict(zip(tests, holm([t.p_value for t in tests.values()]), strict=True))
    lower = [
        f"{name} {t.candidate:.0%} vs {t.baseline:.0%} (Holm p {adjusted[name]:.3g})"
        for name, t in tests.items()
        if t.difference < 0 and adjusted[name] < alpha
    ]
    if lower:
        return Rule("self_consistency_not_lower", False, "significantly lower: " + "; ".join(lower))
    return Rule(
        "self_consistency_not_lower",
        True,
        f"no field's self-consistency significantly lower ({len(tests)} fields, "
        f"{tables.repeats} repeats)",
    )
