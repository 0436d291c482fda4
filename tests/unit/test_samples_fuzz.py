"""Fuzzing the samples reader: every input ends in rows or a ``SamplesError``, never another
exception (timings of the same corpus live in ``bench/samples_fuzz.py``)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_playground.errors import SamplesError
from prompt_playground.samples import SampleLimits, SampleSet, load_samples, preflight
from tests.support.hostile_samples import NAMES, SMALL_LIMITS, corpus, full_size, hostile_file


def read(data: bytes, name: str, limits: SampleLimits = SMALL_LIMITS) -> SampleSet | None:
    """Rows (checked for shape) or None for a SamplesError; anything else fails the test."""
    try:
        loaded = load_samples(data, name, limits=limits)
    except SamplesError as exc:
        message = exc.message
        loaded = None
    if loaded is None:
        assert message
        assert "Traceback" not in message
        return None
    assert [s.row for s in loaded.samples] == list(range(1, len(loaded.samples) + 1))
    assert len({s.id for s in loaded.samples}) == len(loaded.samples)
    assert len(loaded.columns) <= limits.max_columns
    preflight(loaded, variables=["text"], required_expected=["label"])
    return loaded


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), name=st.sampled_from(NAMES))
def test_arbitrary_bytes_end_in_rows_or_a_samples_error(data: bytes, name: str) -> None:
    read(data, name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_generated_hostile_files_end_in_rows_or_a_samples_error(seed: int) -> None:
    data, name = hostile_file(random.Random(seed))
    read(data, name)


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list(',;\t|"\n\r[]{}:\\ax\x00é')), max_size=400),
    name=st.sampled_from(NAMES),
    encoding=st.sampled_from(["utf-8", "utf-16", "cp1252", "utf-8-sig"]),
)
def test_structured_text_in_any_encoding_ends_in_rows_or_a_samples_error(
    text: str, name: str, encoding: str
) -> None:
    read(text.encode(encoding, errors="replace"), name)


def test_the_fixed_corpus_reaches_both_outcomes() -> None:
    outcomes = [read(data, name) is not None for data, name in corpus(400)]
    assert any(outcomes)
    assert not all(outcomes)


@pytest.mark.parametrize(("label", "data", "name"), list(full_size()), ids=lambda v: str(v)[:30])
def test_the_review_findings_at_full_size_are_clear_errors(
    label: str, data: bytes, name: str
) -> None:
    assert read(data, name, SampleLimits()) is None, label
