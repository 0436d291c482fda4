"""The comparison as pandas tables for the pages: side by side (with the per-cell highlight
mask taken from the comparison, not re-derived), metrics, agreement and accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prompt_playground.compare import Comparison, _index
from prompt_playground.models import Result

if TYPE_CHECKING:
    import pandas as pd


def cell_column(field_name: str, variant: str) -> str:
    """The side-by-side column of one field for one variant: ``sentiment [production]``."""
    return f"{field_name} [{variant}]"


def error_column(variant: str, fields: Iterable[str] = ()) -> str:
    """The side-by-side column holding a variant's error (``error [v2]``; ``_error [v2]`` if
    ``error`` is itself a field)."""
    return f"{'_error' if 'error' in set(fields) else 'error'} [{variant}]"


def side_by_side(
    results: Iterable[Result], comparison: Comparison, fields: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per sample: ``sample_id``, ``<field> [<variant>]`` cells (field-major), an
    ``error [<variant>]`` column per variant and a boolean ``differs`` column (the comparison
    found a differing field). Cells hold the raw output values. ``fields`` defaults to the
    comparison's.
    """
    import pandas as pd

    variants = comparison.variants
    fields = list(comparison.fields) if fields is None else list(fields)
    differing = comparison.differing
    sample_ids, by_sample = _index(results, variants)
    columns: dict[str, list[Any]] = {"sample_id": list(sample_ids)}
    for name in fields:
        for variant in variants:
            columns[cell_column(name, variant)] = []
    for variant in variants:
        columns[error_column(variant, fields)] = []
    for sample_id in sample_ids:
        row = by_sample[sample_id]
        for name in fields:
            for variant in variants:
                result = row.get(variant)
                value = (
                    (result.output or {}).get(name) if result is not None and result.ok else None
                )
                columns[cell_column(name, variant)].append(value)
        for variant in variants:
            result = row.get(variant)
            error = None
            if result is None:
                error = "no result"
            elif not result.ok:
                error = result.error or "no output"
            columns[error_column(variant, fields)].append(error)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    frame["differs"] = pd.Series([sample_id in differing for sample_id in sample_ids], dtype=bool)
    return frame


def highlight_mask(table: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """A boolean frame shaped like ``table``: ``True`` on the field cells the comparison found
    differing (read from ``Comparison.differing``, never re-derived from the rendered cells)."""
    import pandas as pd

    differing = comparison.differing
    ids = table["sample_id"].tolist() if "sample_id" in table else []
    flags_by_field: dict[str, list[bool]] = {}
    for name in comparison.fields:
        flags_by_field[name] = [name in differing.get(sample_id, ()) for sample_id in ids]
    data: dict[str, list[bool]] = {}
    for column in table.columns:
        data[column] = [False] * len(table)
    for name, flags in flags_by_field.items():
        for variant in comparison.variants:
            column = cell_column(name, variant)
            if column in data:
                data[column] = flags
    return pd.DataFrame(data, index=table.index, columns=table.columns, dtype=bool)


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
