"""Compare the results of several prompt variants: where they agree, where they differ (cell by
cell, computed once here), and what each variant cost.

Everything here is pure Python over dicts, linear in the number of results, and UI-free. Value
normalisation lives in ``compare_values``, accuracy in ``compare_accuracy``, pandas tables in
``compare_views``; their public names are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prompt_playground.compare_accuracy import (
    FieldAccuracy,
    ScoreToPost,
    accuracy_by_variant,
    accuracy_scores,
    has_expected,
    score_field,
)
from prompt_playground.compare_values import (
    NUMBER_TOLERANCE,
    Schema,
    SchemaOrSchemas,
    _kinds_by_variant,
    field_kinds,
    normalize_text,
    render_change,
    schema_fields,
    values_agree,
)
from prompt_playground.models import Result
from prompt_playground.schema import FieldKind

__all__ = [
    "NUMBER_TOLERANCE",
    "Comparison",
    "Diff",
    "FieldAccuracy",
    "FieldAgreement",
    "Schema",
    "SchemaOrSchemas",
    "ScoreToPost",
    "VariantMetrics",
    "accuracy_scores",
    "compare",
    "field_kinds",
    "has_expected",
    "normalize_text",
    "percentile",
    "render_change",
    "schema_fields",
    "score_field",
    "values_agree",
]


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class Diff:
    """One field of one sample where the variants that produced valid output disagree."""

    sample_id: str
    field: str
    values: dict[str, Any]

    def change(self, old: str, new: str) -> str:
        """``old → new`` for two variants, e.g. ``'positive' → 'negative'``."""
        return render_change(self.values.get(old), self.values.get(new))


@dataclass(frozen=True)
class FieldAgreement:
    """How often the variants agree on one field.

    ``n_compared`` counts samples where at least two variants produced valid output;
    ``rate`` is ``None`` when nothing could be compared.
    """

    field: str
    n_compared: int
    n_agree: int

    @property
    def rate(self) -> float | None:
        return self.n_agree / self.n_compared if self.n_compared else None


@dataclass(frozen=True)
class VariantMetrics:
    """Run figures for one variant. Means are over the results where the figure is known."""

    variant: str
    n: int
    n_valid: int
    n_errors: int
    mean_attempts: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int
    input_tokens_mean: float | None
    output_tokens_mean: float | None
    cost_usd: float | None
    n_cost_known: int

    @property
    def valid_rate(self) -> float | None:
        return self.n_valid / self.n if self.n else None

    @property
    def error_rate(self) -> float | None:
        return self.n_errors / self.n if self.n else None


@dataclass
class Comparison:
    """Everything the compare page shows. ``accuracy[variant][field]`` only for scored fields."""

    variants: list[str]
    fields: dict[str, FieldKind]
    sample_ids: list[str]
    agreement: dict[str, FieldAgreement]
    diffs: list[Diff]
    metrics: dict[str, VariantMetrics]
    accuracy: dict[str, dict[str, FieldAccuracy]] = field(default_factory=dict)
    n_samples_compared: int = 0
    n_samples_agree: int = 0
    #: sample id → the fields on which its valid outputs differ (the highlighted cells),
    #: computed once here so tables and highlights never re-derive it from rendered values.
    differing: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def agreement_rate(self) -> float | None:
        """Share of compared samples where every field agrees."""
        if not self.n_samples_compared:
            return None
        return self.n_samples_agree / self.n_samples_compared

    def diffs_for(self, field_name: str) -> list[Diff]:
        return [d for d in self.diffs if d.field == field_name]


# --------------------------------------------------------------------------- compare


def _index(
    results: Iterable[Result], variants: Sequence[str]
) -> tuple[list[str], dict[str, dict[str, Result]]]:
    """sample_id → variant → result (the last one wins), in first-seen sample order."""
    wanted = set(variants)
    by_sample: dict[str, dict[str, Result]] = {}
    for result in results:
        if result.variant in wanted:
            by_sample.setdefault(result.sample_id, {})[result.variant] = result
    return list(by_sample), by_sample


def compare(
    results: Sequence[Result],
    schema: SchemaOrSchemas,
    variants: Sequence[str],
    *,
    fields: Sequence[str] = (),
) -> Comparison:
    """Compare ``variants`` over ``results``.

    Args:
        results: results of any run(s); results of other variants are ignored, and for a
            repeated (sample, variant) the last result wins.
        schema: the response schema, or a mapping variant → schema when versions differ
            (the fields are then the union, in schema order).
        variants: the variant keys to compare, in display order (``production``, ``v3``).
        fields: fields to compare (as JSON values) when the schema names none, e.g. the output
            keys seen when a stored schema is unusable.

    Errored results count as errors in the metrics, never as disagreements or wrong answers.
    """
    variants = list(dict.fromkeys(variants))
    kinds = schema_fields(schema, variants) or dict.fromkeys(fields, "object")
    sample_ids, by_sample = _index(results, variants)

    agree_counts = dict.fromkeys(kinds, 0)
    compared_counts = dict.fromkeys(kinds, 0)
    diffs: list[Diff] = []
    differing: dict[str, frozenset[str]] = {}
    n_samples_compared = n_samples_agree = 0
    for sample_id in sample_ids:
        valid = {v: r.output for v, r in by_sample[sample_id].items() if r.ok}
        if len(valid) < 2:
            continue
        ordered = [(v, valid[v]) for v in variants if v in valid]
        n_samples_compared += 1
        differ: list[str] = []
        for name in kinds:
            values = {v: (out or {}).get(name) for v, out in ordered}
            compared_counts[name] += 1
            if values_agree(values.values()):
                agree_counts[name] += 1
            else:
                differ.append(name)
                diffs.append(Diff(sample_id, name, values))
        n_samples_agree += not differ
        if differ:
            differing[sample_id] = frozenset(differ)

    agreement = {
        name: FieldAgreement(name, compared_counts[name], agree_counts[name]) for name in kinds
    }
    metrics = {v: _metrics(v, (s[v] for s in by_sample.values() if v in s)) for v in variants}
    accuracy = accuracy_by_variant(by_sample, variants, kinds, _kinds_by_variant(schema))
    return Comparison(
        variants=variants,
        fields=kinds,
        sample_ids=sample_ids,
        agreement=agreement,
        diffs=diffs,
        metrics=metrics,
        accuracy=accuracy,
        n_samples_compared=n_samples_compared,
        n_samples_agree=n_samples_agree,
        differing=differing,
    )


# --------------------------------------------------------------------------- metrics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..100) percentile with linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _metrics(variant: str, results: Iterable[Result]) -> VariantMetrics:
    n = n_valid = n_errors = 0
    attempts: list[float] = []
    latencies: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    costs: list[float] = []
    for r in results:
        n += 1
        n_valid += r.ok
        n_errors += not r.ok
        if r.attempts:
            attempts.append(r.attempts)
        if r.latency_ms is not None:
            latencies.append(r.latency_ms)
        if r.input_tokens is not None:
            inputs.append(r.input_tokens)
        if r.output_tokens is not None:
            outputs.append(r.output_tokens)
        if r.cost_usd is not None:
            costs.append(r.cost_usd)
    return VariantMetrics(
        variant=variant,
        n=n,
        n_valid=n_valid,
        n_errors=n_errors,
        mean_attempts=_mean(attempts),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        input_tokens=sum(inputs),
        output_tokens=sum(outputs),
        input_tokens_mean=_mean(inputs),
        output_tokens_mean=_mean(outputs),
        cost_usd=sum(costs) if costs else None,
        n_cost_known=len(costs),
    )
