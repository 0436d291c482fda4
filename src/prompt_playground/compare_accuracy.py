"""Accuracy against expected values: per-field scores (exact, tolerant, set F1) and the scores
posted to Langfuse on each result's trace. Pure, UI-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prompt_playground.compare_values import (
    SchemaOrSchemas,
    _canonical,
    _is_schema,
    _norm_item,
    _numbers_close,
    _show,
    field_kinds,
    normalize_text,
    schema_fields,
)
from prompt_playground.models import Result
from prompt_playground.schema import FieldKind

#: Longest value shown in a score comment before it is cut.
_COMMENT_VALUE_CHARS = 80

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_MISSING = object()


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


def accuracy_by_variant(
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
