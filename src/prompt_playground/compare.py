"""Compare the results of several prompt variants: where they agree, where they differ, what they
cost, and how often each one matches the expected values.

Everything here is pure Python over dicts, linear in the number of results, and UI-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prompt_playground.errors import SchemaError
from prompt_playground.models import Result
from prompt_playground.schema import FieldKind, field_specs

if TYPE_CHECKING:
    import pandas as pd

Schema = Mapping[str, Any]
SchemaOrSchemas = Schema | Mapping[str, Schema]

#: Two numbers are equal when they differ by less than this (absolute, or relative to the larger).
NUMBER_TOLERANCE = 1e-6
#: Longest value shown in a score comment before it is cut.
_COMMENT_VALUE_CHARS = 80

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_MISSING = object()


# --------------------------------------------------------------------------- schema → kinds


def field_kinds(schema: Schema) -> dict[str, FieldKind]:
    """The kind of each top-level property of a JSON schema, in schema order.

    Read from :func:`prompt_playground.schema.field_specs` (``$ref``, single ``allOf`` and
    nullable unions resolved; a union of different kinds is compared as JSON).

    Raises:
        SchemaError: a ``$ref`` points outside the schema or to a missing definition.
    """
    return {spec.name: spec.kind for spec in field_specs(schema)}


def _merge_kinds(kinds: Iterable[FieldKind]) -> FieldKind:
    unique = set(kinds)
    if not unique:
        return "object"
    if len(unique) == 1:
        return unique.pop()
    if unique <= {"enum", "string"}:
        return "string"
    if unique <= {"integer", "number"}:
        return "number"
    return "object"


_SCHEMA_KEYWORDS = ("properties", "type", "$ref", "$defs", "definitions", "anyOf", "allOf")


def _is_schema(candidate: Mapping[str, Any]) -> bool:
    """One JSON schema (not a mapping variant → schema)."""
    return (
        not candidate
        or any(key in candidate for key in _SCHEMA_KEYWORDS)
        or not all(isinstance(value, Mapping) for value in candidate.values())
    )


def schema_fields(schema: SchemaOrSchemas, variants: Sequence[str] = ()) -> dict[str, FieldKind]:
    """Fields (and their kinds) of one schema, or the union over a mapping variant → schema.

    The union keeps schema order: the first variant's fields, then new fields of the next ones.
    A field whose kind differs between variants gets the kind both can be compared as.
    """
    if _is_schema(schema):
        return field_kinds(schema)
    schemas: Mapping[str, Any] = schema
    order = [v for v in variants if v in schemas] + [v for v in schemas if v not in variants]
    merged: dict[str, FieldKind] = {}
    for variant in order:
        sub = schemas[variant]
        if not isinstance(sub, Mapping):
            raise SchemaError(f"The response schema for variant {variant!r} is not a JSON object.")
        for name, kind in field_kinds(sub).items():
            merged[name] = _merge_kinds({merged[name], kind}) if name in merged else kind
    return merged


def _kinds_by_variant(schema: SchemaOrSchemas) -> dict[str, dict[str, FieldKind]] | None:
    if _is_schema(schema):
        return None
    return {variant: field_kinds(sub) for variant, sub in schema.items()}


# --------------------------------------------------------------------------- value normalization


def normalize_text(value: str) -> str:
    """Casefolded, trimmed, with runs of whitespace collapsed to one space."""
    return " ".join(value.split()).casefold()


def _norm(value: Any) -> Any:
    """A hashable form of an output value for comparison (type-driven, schema-free)."""
    if value is None:
        return None
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, bool):
        return ("bool", value)  # True must not equal 1
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(_norm_item(v) for v in value)
    return _canonical(value)


def _norm_item(value: Any) -> Any:
    if isinstance(value, str):
        return normalize_text(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return float(value)
    return _canonical(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _numbers_close(a: float, b: float, tolerance: float = NUMBER_TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _is_number(value: Any) -> bool:
    return isinstance(value, float)  # after _norm every int/float is a float, bools stay bools


def values_agree(values: Iterable[Any]) -> bool:
    """Whether output values agree: strings normalized, lists as sets, numbers within tolerance."""
    normed = [_norm(v) for v in values]
    if len(normed) < 2:
        return True
    if all(_is_number(v) for v in normed):
        return _numbers_close(min(normed), max(normed))
    first = normed[0]
    return all(v == first for v in normed[1:])


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


@dataclass(frozen=True)
class FieldAccuracy:
    """Accuracy of one variant on one field against the expected values.

    ``n_scored`` counts valid outputs whose sample has an expected value for the field;
    ``n_unscored`` counts samples with an expected value where the variant failed (no output).
    """

    variant: str
    field: str
    n_scored: int
    total: float
    n_unscored: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.total / self.n_scored if self.n_scored else None


@dataclass(frozen=True)
class ScoreToPost:
    """A score for the caller to post to Langfuse on one trace."""

    trace_id: str
    name: str
    value: float
    comment: str | None = None


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
) -> Comparison:
    """Compare ``variants`` over ``results``.

    Args:
        results: results of any run(s); results of other variants are ignored, and for a
            repeated (sample, variant) the last result wins.
        schema: the response schema, or a mapping variant → schema when versions differ
            (the fields are then the union, in schema order).
        variants: the variant keys to compare, in display order (``production``, ``v3``).

    Errored results count as errors in the metrics, never as disagreements or wrong answers.
    """
    variants = list(dict.fromkeys(variants))
    kinds = schema_fields(schema, variants)
    sample_ids, by_sample = _index(results, variants)

    agree_counts = dict.fromkeys(kinds, 0)
    compared_counts = dict.fromkeys(kinds, 0)
    diffs: list[Diff] = []
    n_samples_compared = n_samples_agree = 0
    for sample_id in sample_ids:
        valid = {v: r.output for v, r in by_sample[sample_id].items() if r.ok}
        if len(valid) < 2:
            continue
        ordered = [(v, valid[v]) for v in variants if v in valid]
        n_samples_compared += 1
        all_agree = True
        for name in kinds:
            values = {v: (out or {}).get(name) for v, out in ordered}
            compared_counts[name] += 1
            if values_agree(values.values()):
                agree_counts[name] += 1
            else:
                all_agree = False
                diffs.append(Diff(sample_id, name, values))
        n_samples_agree += all_agree

    agreement = {
        name: FieldAgreement(name, compared_counts[name], agree_counts[name]) for name in kinds
    }
    metrics = {v: _metrics(v, (s[v] for s in by_sample.values() if v in s)) for v in variants}
    accuracy = _accuracy(by_sample, variants, kinds, _kinds_by_variant(schema))
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
    )


def render_change(old: Any, new: Any) -> str:
    """Render a change between two values as ``old → new``.

    Lists also name what was removed and added: ``[a, b] → [a, c] (−b, +c)``.
    """
    text = f"{_show(old)} → {_show(new)}"
    if isinstance(old, list) and isinstance(new, list):
        old_items = {_norm_item(v): v for v in old}
        new_items = {_norm_item(v): v for v in new}
        removed = [_show_item(v) for k, v in old_items.items() if k not in new_items]
        added = [_show_item(v) for k, v in new_items.items() if k not in old_items]
        parts = [f"−{r}" for r in removed] + [f"+{a}" for a in added]
        if parts:
            text += f" ({', '.join(parts)})"
    return text


def _show(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show_item(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _show_item(value: Any) -> str:
    return value if isinstance(value, str) else _show(value)


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


# --------------------------------------------------------------------------- accuracy


def has_expected(value: Any) -> bool:
    """Whether an expected cell holds a value (a blank CSV cell does not)."""
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def score_field(kind: FieldKind, expected: Any, actual: Any) -> float:
    """How well ``actual`` matches ``expected`` (0..1) for a field of ``kind``.

    Enums, booleans and integers must match exactly, numbers within a small tolerance, strings
    after normalization (casefold, trim, collapse whitespace), objects as canonical JSON; lists
    score the F1 of their item sets. Expected values may be text from a CSV (``"true"``,
    ``"3.5"``, ``'["a", "b"]'`` or ``"a; b"``).
    """
    if kind == "list":
        return _set_f1(_as_set(expected), _as_set(actual))
    if actual is None:
        return 0.0
    if kind == "boolean":
        exp_bool = _as_bool(expected)
        return float(exp_bool is not None and isinstance(actual, bool) and exp_bool == actual)
    if kind in ("number", "integer"):
        exp_num, act_num = _as_number(expected), _as_number(actual)
        if exp_num is None or act_num is None:
            return 0.0
        if kind == "integer":
            return float(exp_num == act_num)
        return float(_numbers_close(exp_num, act_num))
    if kind == "enum":
        return float(_enum_text(expected) == _enum_text(actual))
    if kind == "object":
        parsed = _parse_json(expected) if isinstance(expected, str) else expected
        if parsed is _MISSING:
            return float(normalize_text(expected) == normalize_text(_plain(actual)))
        return float(_canonical(parsed) == _canonical(actual))
    return float(normalize_text(_plain(expected)) == normalize_text(_plain(actual)))


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else _canonical(value)


def _enum_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _MISSING


def _as_set(value: Any) -> frozenset[Any]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        text = value.strip()
        parsed = _parse_json(text) if text.startswith("[") else _MISSING
        if isinstance(parsed, list):
            value = parsed
        else:
            separator = ";" if ";" in text else "|" if "|" in text else ","
            value = [part for part in text.split(separator) if part.strip()]
    if not isinstance(value, list | tuple | set | frozenset):
        value = [value]
    return frozenset(_norm_item(v) for v in value)


def _set_f1(expected: frozenset[Any], actual: frozenset[Any]) -> float:
    if not expected and not actual:
        return 1.0
    if not expected or not actual:
        return 0.0
    common = len(expected & actual)
    return 2 * common / (len(expected) + len(actual))


def _accuracy(
    by_sample: Mapping[str, Mapping[str, Result]],
    variants: Sequence[str],
    kinds: Mapping[str, FieldKind],
    per_variant: Mapping[str, Mapping[str, FieldKind]] | None,
) -> dict[str, dict[str, FieldAccuracy]]:
    totals: dict[tuple[str, str], list[float]] = {}
    for results in by_sample.values():
        for variant, result in results.items():
            if not result.expected:
                continue
            variant_kinds = per_variant.get(variant, kinds) if per_variant else kinds
            for name, kind in kinds.items():
                expected = result.expected.get(name)
                if not has_expected(expected):
                    continue
                cell = totals.setdefault((variant, name), [0, 0.0, 0])
                if not result.ok:
                    cell[2] += 1
                    continue
                cell[0] += 1
                output = result.output or {}
                cell[1] += score_field(variant_kinds.get(name, kind), expected, output.get(name))
    accuracy: dict[str, dict[str, FieldAccuracy]] = {}
    for variant in variants:
        per_field = {
            name: FieldAccuracy(variant, name, int(c[0]), c[1], int(c[2]))
            for name in kinds
            if (c := totals.get((variant, name))) is not None
        }
        if per_field:
            accuracy[variant] = per_field
    return accuracy


def accuracy_scores(results: Iterable[Result], schema: SchemaOrSchemas) -> list[ScoreToPost]:
    """Scores to post on each result's trace: ``accuracy.<field>`` per field with an expected
    value, plus ``accuracy`` (their mean). Results without a trace or valid output get none.
    """
    shared = None if not _is_schema(schema) else field_kinds(schema)
    cache: dict[str, dict[str, FieldKind]] = {}
    scores: list[ScoreToPost] = []
    for result in results:
        if not result.ok or not result.trace_id or not result.expected:
            continue
        if shared is not None:
            kinds = shared
        else:
            if result.variant not in cache:
                sub = schema.get(result.variant)
                cache[result.variant] = (
                    field_kinds(sub) if isinstance(sub, Mapping) else schema_fields(schema)
                )
            kinds = cache[result.variant]
        output = result.output or {}
        values: list[float] = []
        for name, kind in kinds.items():
            expected = result.expected.get(name)
            if not has_expected(expected):
                continue
            actual = output.get(name)
            value = score_field(kind, expected, actual)
            values.append(value)
            comment = f"expected {_clip(expected)}, got {_clip(actual)}"
            scores.append(ScoreToPost(result.trace_id, f"accuracy.{name}", value, comment))
        if values:
            mean = sum(values) / len(values)
            comment = f"mean over {len(values)} field(s) with expected values"
            scores.append(ScoreToPost(result.trace_id, "accuracy", mean, comment))
    return scores


def _clip(value: Any) -> str:
    text = _show(value)
    return text if len(text) <= _COMMENT_VALUE_CHARS else text[: _COMMENT_VALUE_CHARS - 1] + "…"


# --------------------------------------------------------------------------- side by side


def cell_column(field_name: str, variant: str) -> str:
    """The side-by-side column of one field for one variant: ``sentiment [production]``."""
    return f"{field_name} [{variant}]"


def error_column(variant: str, fields: Iterable[str] = ()) -> str:
    """The side-by-side column holding a variant's error (``error [v2]``; ``_error [v2]`` if
    ``error`` is itself a field)."""
    return f"{'_error' if 'error' in set(fields) else 'error'} [{variant}]"


def side_by_side(
    results: Iterable[Result], variants: Sequence[str], fields: Sequence[str]
) -> pd.DataFrame:
    """One row per sample: ``sample_id``, ``<field> [<variant>]`` cells (field-major), an
    ``error [<variant>]`` column per variant and a boolean ``differs`` column (some field
    differs between the variants with valid output). Cells hold the raw output values.
    """
    import pandas as pd

    variants = list(dict.fromkeys(variants))
    sample_ids, by_sample = _index(results, variants)
    columns: dict[str, list[Any]] = {"sample_id": list(sample_ids)}
    for name in fields:
        for variant in variants:
            columns[cell_column(name, variant)] = []
    for variant in variants:
        columns[error_column(variant, fields)] = []
    differs: list[bool] = []
    for sample_id in sample_ids:
        row = by_sample[sample_id]
        row_differs = False
        for name in fields:
            valid_values = []
            for variant in variants:
                result = row.get(variant)
                value = (
                    (result.output or {}).get(name) if result is not None and result.ok else None
                )
                columns[cell_column(name, variant)].append(value)
                if result is not None and result.ok:
                    valid_values.append(value)
            if not row_differs and not values_agree(valid_values):
                row_differs = True
        for variant in variants:
            result = row.get(variant)
            error = None
            if result is None:
                error = "no result"
            elif not result.ok:
                error = result.error or "no output"
            columns[error_column(variant, fields)].append(error)
        differs.append(row_differs)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    frame["differs"] = pd.Series(differs, dtype=bool)
    return frame


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def differs_mask(
    table: pd.DataFrame, variants: Sequence[str], fields: Sequence[str]
) -> pd.DataFrame:
    """A boolean frame shaped like ``table``: ``True`` on the field cells of a row where the
    variants with valid output disagree on that field (for highlighting)."""
    import pandas as pd

    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    errors = {
        v: table[error_column(v, fields)].tolist()
        for v in variants
        if error_column(v, fields) in table
    }
    for name in fields:
        cols = [cell_column(name, v) for v in variants if cell_column(name, v) in table]
        if len(cols) < 2:
            continue
        cells = [table[c].tolist() for c in cols]
        err_cells = [errors.get(v) for v in variants if cell_column(name, v) in table]
        flags: list[bool] = []
        for i in range(len(table)):
            values = [
                None if _missing(col[i]) else col[i]
                for col, err in zip(cells, err_cells, strict=True)
                if err is None or _missing(err[i])
            ]
            flags.append(not values_agree(values))
        for c in cols:
            mask[c] = flags
    return mask


# --------------------------------------------------------------------------- tables for the page


def metrics_table(comparison: Comparison) -> pd.DataFrame:
    """One row per variant with its run figures (rates as 0..1, ``None`` when unknown)."""
    import pandas as pd

    rows = [
        {
            "variant": m.variant,
            "n": m.n,
            "valid_rate": m.valid_rate,
            "error_rate": m.error_rate,
            "mean_attempts": m.mean_attempts,
            "latency_p50_ms": m.latency_p50_ms,
            "latency_p95_ms": m.latency_p95_ms,
            "input_tokens": m.input_tokens,
            "input_tokens_mean": m.input_tokens_mean,
            "output_tokens": m.output_tokens,
            "output_tokens_mean": m.output_tokens_mean,
            "cost_usd": m.cost_usd,
        }
        for m in comparison.metrics.values()
    ]
    return pd.DataFrame(rows, columns=_METRIC_COLUMNS)


_METRIC_COLUMNS = [
    "variant",
    "n",
    "valid_rate",
    "error_rate",
    "mean_attempts",
    "latency_p50_ms",
    "latency_p95_ms",
    "input_tokens",
    "input_tokens_mean",
    "output_tokens",
    "output_tokens_mean",
    "cost_usd",
]


def agreement_table(comparison: Comparison) -> pd.DataFrame:
    """One row per field: ``field``, ``agreement`` (0..1 or None), ``n_compared``, ``n_differ``."""
    import pandas as pd

    rows = [
        {
            "field": a.field,
            "agreement": a.rate,
            "n_compared": a.n_compared,
            "n_differ": a.n_compared - a.n_agree,
        }
        for a in comparison.agreement.values()
    ]
    return pd.DataFrame(rows, columns=["field", "agreement", "n_compared", "n_differ"])


def accuracy_table(comparison: Comparison) -> pd.DataFrame:
    """One row per (field, variant) with expected values: ``accuracy``, ``n_scored``,
    ``n_unscored`` (samples the variant failed on)."""
    import pandas as pd

    rows = [
        {
            "field": name,
            "variant": variant,
            "accuracy": acc.accuracy,
            "n_scored": acc.n_scored,
            "n_unscored": acc.n_unscored,
        }
        for name in comparison.fields
        for variant in comparison.variants
        if (acc := comparison.accuracy.get(variant, {}).get(name)) is not None
    ]
    return pd.DataFrame(rows, columns=["field", "variant", "accuracy", "n_scored", "n_unscored"])
