"""Output values as the comparison sees them: normalised text, lists as sets, numbers within a
tolerance; and which fields (of which kind) a response schema gives. Pure, UI-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prompt_playground.errors import SchemaError
from prompt_playground.schema import FieldKind, field_specs

Schema = Mapping[str, Any]
SchemaOrSchemas = Schema | Mapping[str, Schema]

#: Two numbers are equal when they differ by less than this (absolute, or relative to the larger).
NUMBER_TOLERANCE = 1e-6


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
