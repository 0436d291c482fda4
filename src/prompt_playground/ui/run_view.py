"""A finished or running comparison as the pages show it, built once per (run, progress).

Building the side-by-side table, its highlight mask and the metrics is linear in the results;
it is cached per (run id, rows done, status) so a rerun that changes nothing costs a lookup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from prompt_playground.compare import Comparison, compare
from prompt_playground.compare_views import (
    accuracy_table,
    agreement_table,
    cell_column,
    error_column,
    highlight_mask,
    metrics_table,
    side_by_side,
)
from prompt_playground.models import Result
from prompt_playground.runstore import RunRecord, RunStore
from prompt_playground.statistics import majority


@dataclass
class RunView:
    record: RunRecord
    results: list[Result]
    by_key: dict[tuple[str, str], Result]
    comparison: Comparison
    fields: list[str]
    table: pd.DataFrame  # display strings, one row per sample, plus ``differs``
    mask: pd.DataFrame  # True on differing field cells
    metrics: pd.DataFrame
    agreement: pd.DataFrame
    accuracy: pd.DataFrame
    problem: str | None = None
    repeats: int = 1
    unstable: pd.DataFrame | None = None  # True on cells whose repeats disagree (repeats > 1)

    @property
    def n_unstable(self) -> int:
        return 0 if self.unstable is None else int(self.unstable.to_numpy().sum())


def display_value(value: Any) -> str:
    """A cell as the pages show it: JSON's true/false and objects, lists comma-separated, an
    empty list as ``[]`` (an answer, unlike the blank cell of no answer)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(display_value(v) for v in value) if value else "[]"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def elapsed_s(record: RunRecord) -> float:
    """Seconds from the run's start to its end (or to now while it runs)."""
    try:
        started = datetime.fromisoformat(record.created_at)
    except ValueError:
        return 0.0
    end = datetime.fromisoformat(record.finished_at) if record.finished_at else datetime.now(UTC)
    return max(0.0, (end - started).total_seconds())


def build_view(store: RunStore, record: RunRecord) -> RunView:
    return _cached_view(store, record.id, record.done, record.status)


@st.cache_resource(max_entries=6, show_spinner=False)
def _cached_view(_store: RunStore, run_id: str, done: int, status: str) -> RunView:
    record = _store.get_run(run_id)
    results = _store.results(run_id)
    variants = list(record.variants)
    schemas: dict[str, Any] = dict(record.meta.get("schemas") or {})
    problem: str | None = None
    try:
        comparison = compare(results, schemas or {}, variants, fields=_output_keys(results))
    except Exception as exc:  # noqa: BLE001 - a broken stored schema: show outputs anyway
        problem = f"The stored response schemas cannot be compared: {exc}"
        comparison = compare(results, {}, variants, fields=_output_keys(results))
    fields = list(comparison.fields)
    raw = side_by_side(results, comparison, fields)
    # Rows arrive in completion order; show them in the samples file's order.
    order = _sample_order(_store, run_id)
    raw = raw.sort_values(
        "sample_id", key=lambda ids: ids.map(lambda i: order.get(i, len(order))), kind="stable"
    ).reset_index(drop=True)
    mask = highlight_mask(raw, comparison)
    table = raw.copy()
    for column in table.columns:
        if column != "differs":
            table[column] = pd.Series([display_value(v) for v in raw[column].tolist()], dtype="str")
    repeats = max(1, int(record.meta.get("repeats") or 1))
    unstable = _stability(table, results, fields, variants) if repeats > 1 else None
    metrics = metrics_table(comparison)
    agreement = agreement_table(comparison)
    accuracy = accuracy_table(comparison)
    return RunView(
        record=record,
        results=results,
        by_key={(r.sample_id, r.variant): r for r in results},
        comparison=comparison,
        fields=fields,
        table=table,
        mask=mask,
        metrics=metrics,
        agreement=agreement,
        accuracy=accuracy,
        problem=problem,
        repeats=repeats,
        unstable=unstable,
    )


def _stability(
    table: pd.DataFrame, results: list[Result], fields: list[str], variants: list[str]
) -> pd.DataFrame:
    """With repeats, each field cell shows its majority answer and how many repeats gave it
    (``negative 2/3``); returns the mask of cells whose repeats disagree. ``table`` is changed
    in place."""
    answers: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        answers.setdefault((r.sample_id, r.variant), []).append(r)
    unstable = pd.DataFrame(False, index=table.index, columns=table.columns)
    for index, sample_id in table["sample_id"].items():
        for variant in variants:
            valid = [r.output for r in answers.get((str(sample_id), variant), []) if r.ok]
            for name in fields:
                found = majority([o[name] for o in valid if o is not None and name in o])
                if found is None:
                    continue
                column = cell_column(name, variant)
                table.at[index, column] = (
                    f"{display_value(found.value)} {found.count}/{found.total}"
                )
                unstable.at[index, column] = not found.stable
    return unstable


def _output_keys(results: list[Result]) -> list[str]:
    seen: dict[str, None] = {}
    for r in results:
        seen.update(dict.fromkeys(r.output or {}))
    return list(seen)


@st.cache_resource(max_entries=6, show_spinner=False)
def _sample_order(_store: RunStore, run_id: str) -> dict[str, int]:
    """Each sample id's position in the run's samples file (fixed once the run starts)."""
    return {sample.id: i for i, sample in enumerate(_store.samples(run_id))}


def field_columns(view: RunView) -> list[str]:
    return [cell_column(f, v) for f in view.fields for v in view.record.variants]


def error_columns(view: RunView) -> list[str]:
    return [error_column(v, view.fields) for v in view.record.variants]
