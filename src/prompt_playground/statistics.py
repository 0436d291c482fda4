"""Paired statistics between two prompt variants run on the same samples: is a difference more
than noise, and does a variant agree with itself when it is asked again.

Pure domain (results in, figures out, no I/O). Tests and intervals come from well-kept libraries:
the exact McNemar test from ``scipy.stats.binomtest``, Wilson intervals and the power calculation
from statsmodels. Two procedures are written out, each a few lines and checked in the tests:
Holm's adjustment (scipy has none; its ``false_discovery_control`` is Benjamini–Hochberg, a
false-discovery rate, while a gate wants the family-wise error Holm bounds; statsmodels' Holm
forces a garbage collection per call, see :func:`holm`) and Newcombe's paired interval, which
combines two statsmodels Wilson intervals.
Per-sample scores reuse :func:`prompt_playground.compare.score_field`, so accuracy here is the
accuracy the Compare page shows.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import proportion_confint

from prompt_playground.compare import (
    NUMBER_TOLERANCE,
    Schema,
    field_kinds,
    has_expected,
    normalize_text,
    schema_fields,
    score_field,
    values_agree,
)
from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Result
from prompt_playground.schema import FieldKind

Floats = npt.NDArray[np.float64]
Verdict = Literal["better", "worse", "no detectable difference"]
Method = Literal["mcnemar", "bootstrap"]

#: Significance level of every test and 1 − the confidence of every interval.
ALPHA = 0.05
#: Power at which :attr:`PairedTest.n_needed` would detect the observed difference.
POWER = 0.8
#: Paired-bootstrap and sign-flip resamples (a fixed seed makes every figure reproducible):
#: enough for a percentile interval (Efron & Tibshirani suggest 1,000-2,000) and p-values down
#: to 1/4,001, small enough for Holm over a few dozen fields.
RESAMPLES = 4_000
SEED = 20_251_201


# --------------------------------------------------------------------------- small building blocks


@dataclass(frozen=True)
class Proportion:
    """``count`` of ``n`` with its Wilson 95 % interval; ``rate`` is ``None`` when ``n`` is 0."""

    count: int
    n: int
    ci95: tuple[float, float] | None

    @property
    def rate(self) -> float | None:
        return self.count / self.n if self.n else None


def wilson(count: int, n: int, alpha: float = ALPHA) -> tuple[float, float] | None:
    """The Wilson score interval of ``count`` successes in ``n`` trials (``None`` for n = 0)."""
    if n <= 0:
        return None
    low, high = proportion_confint(count, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def proportion(count: int, n: int, alpha: float = ALPHA) -> Proportion:
    return Proportion(int(count), int(n), wilson(count, n, alpha))


def mcnemar_exact(candidate_only: int, baseline_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (a binomial test at 1/2)."""
    discordant = candidate_only + baseline_only
    if discordant == 0:
        return 1.0
    return float(binomtest(candidate_only, discordant, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    Written out (sort, multiply the i-th smallest by m − i, running maximum, cap at 1) because
    statsmodels' ``multipletests(method="holm")`` runs ``gc.collect()`` on every call: 0.3 s
    with a 10,000-sample run in memory. The tests check it against statsmodels.
    """
    if not p_values:
        return []
    values = np.asarray(p_values, dtype=float)
    order = np.argsort(values, kind="stable")
    m = values.size
    stepped = np.maximum.accumulate(values[order] * np.arange(m, 0, -1))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(p) for p in adjusted]


def samples_needed(differences: Floats, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Roughly how many paired samples would detect the mean of ``differences`` (two-sided test
    at ``alpha`` with ``power``), from a paired t-test power calculation; ``None`` when the
    observed difference is zero."""
    if differences.size == 0:
        return None
    mean = float(differences.mean())
    if mean == 0:
        return None
    floor = _fewest_for_significance(alpha)
    sd = float(differences.std(ddof=1)) if differences.size > 1 else 0.0
    if sd <= 1e-9 * abs(mean):  # every pair differs by the same amount (up to rounding)
        return floor
    with warnings.catch_warnings():
        # A huge effect makes the root finder give up (NaN): then the floor is the answer.
        warnings.simplefilter("ignore")
        nobs = float(
            np.asarray(
                TTestPower().solve_power(
                    effect_size=abs(mean) / sd, alpha=alpha, power=power, alternative="two-sided"
                )
            ).item()
        )
    return floor if math.isnan(nobs) else max(floor, math.ceil(nobs))


def _fewest_for_significance(alpha: float) -> int:
    """Fewest pairs, all differing the same way, for which the exact test reaches ``alpha``."""
    m = 1
    while 2 * 0.5**m >= alpha:
        m += 1
    return m


# --------------------------------------------------------------------------- repeats


@dataclass(slots=True)
class Majority:
    """The most common of a sample's answers and how many of them it was (``negative 3/3``)."""

    value: Any
    count: int
    total: int

    @property
    def stable(self) -> bool:
        return self.count == self.total

    def label(self) -> str:
        shown = self.value if isinstance(self.value, str) else _short(self.value)
        return f"{shown} {self.count}/{self.total}"


def majority(values: Sequence[Any]) -> Majority | None:
    """The majority of ``values`` (equal as :func:`compare.values_agree` sees it; ties go to the
    first seen); ``None`` for no values."""
    if not values:
        return None
    if len(values) == 1:
        return Majority(values[0], 1, 1)
    keys = [_agreement_key(value) for value in values]
    if all(key is not None and key[0] != "number" for key in keys):
        counts: dict[Any, list[Any]] = {}  # key → [first value, count], in first-seen order
        for key, value in zip(keys, values, strict=True):
            counts.setdefault(key, [value, 0])[1] += 1
        first, count = max(counts.values(), key=lambda entry: entry[1])
        return Majority(first, count, len(values))
    groups: list[list[Any]] = []  # [key, first value, count]: numbers (tolerance) and objects
    for key, value in zip(keys, values, strict=True):
        for group in groups:
            if _same_answer(group[0], group[1], key, value):
                group[2] += 1
                break
        else:
            groups.append([key, value, 1])
    _, first, count = max(groups, key=lambda group: group[2])  # the first of equal counts
    return Majority(first, count, len(values))


def stability(values: Sequence[Any]) -> str:
    """``"negative 3/3"``: the majority answer and how many of the answers it was."""
    found = majority(values)
    return found.label() if found is not None else "–"


def _short(value: Any) -> str:
    if value is None:
        return "∅"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


# --------------------------------------------------------------------------- per-variant tables


#: Marks a sample where a variant has no valid output (``None`` is a valid answer).
NO_ANSWER: Any = object()


@dataclass
class VariantTable:
    """One variant's results folded per sample (arrays aligned with ``sample_ids``).

    ``answers[field]`` holds each sample's majority answer (:data:`NO_ANSWER` without valid
    output), ``keys[field]`` its comparison key (see :func:`_agreement_key`) and
    ``agreeing[field]`` how many valid repeats gave it; ``scores[field]`` is the mean
    score over valid repeats (NaN: no expected value or no valid output); ``consistent[field]``
    is 1 when every valid repeat agrees, 0 when not, NaN with fewer than two valid repeats.
    """

    variant: str
    calls: Floats
    valid: Floats
    answered: Floats
    errors: Floats
    answers: dict[str, list[Any]]
    keys: dict[str, list[Any]]
    agreeing: dict[str, Floats]
    scores: dict[str, Floats]

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        return self.calls > 0

    @property
    def consistent(self) -> dict[str, Floats]:
        repeated = self.valid >= 2
        return {
            name: np.where(repeated, (counts == self.valid).astype(float), np.nan)
            for name, counts in self.agreeing.items()
        }

    def majority(self, field_name: str, index: int) -> Majority | None:
        """The majority answer of one sample (for stability marks such as ``negative 3/3``)."""
        value = self.answers[field_name][index]
        if value is NO_ANSWER:
            return None
        return Majority(value, int(self.agreeing[field_name][index]), int(self.valid[index]))


@dataclass
class Tables:
    """Results of a run folded once per variant, ready for any pair of variants."""

    sample_ids: list[str]
    fields: dict[str, FieldKind]
    expected_fields: list[str]
    repeats: int
    variants: dict[str, VariantTable]


def tabulate(
    results: Iterable[Result], schemas: Mapping[str, Schema], variants: Sequence[str]
) -> Tables:
    """Fold ``results`` per (variant, sample): every result counts, so repeats are kept.

    Args:
        results: results of one run (several per (sample, variant) when it had repeats).
        schemas: variant → its response JSON schema (the run's ``meta["schemas"]``).
        variants: the variants to fold.
    """
    variants = list(dict.fromkeys(variants))
    missing = [v for v in variants if v not in schemas]
    if missing:
        raise PlaygroundError(
            f"The run has no response schema for variant(s) {', '.join(missing)}."
        )
    kinds = schema_fields({v: schemas[v] for v in variants}, variants)
    own = {v: field_kinds(schemas[v]) for v in variants}
    wanted = set(variants)
    grouped: dict[str, dict[str, list[Result]]] = {}
    expected: dict[str, dict[str, Any]] = {}
    for result in results:
        if result.variant in wanted:
            grouped.setdefault(result.sample_id, {}).setdefault(result.variant, []).append(result)
            if result.expected:
                expected.setdefault(result.sample_id, result.expected)
    sample_ids = list(grouped)
    targets = {  # sample → (field, expected value, its cache key), shared by the variants
        sample_id: [(n, t, _hashable(t)) for n in kinds if has_expected(t := exp.get(n))]
        for sample_id, exp in expected.items()
    }
    expected_fields = [
        name for name in kinds if any(n == name for t in targets.values() for n, _, _ in t)
    ]
    repeats = max((len(rs) for per in grouped.values() for rs in per.values()), default=1)
    tables = {
        v: _fold(v, sample_ids, grouped, targets, kinds, own[v], expected_fields) for v in variants
    }
    return Tables(sample_ids, kinds, expected_fields, repeats, tables)


def _fold(
    variant: str,
    sample_ids: Sequence[str],
    grouped: Mapping[str, Mapping[str, list[Result]]],
    targets: Mapping[str, list[tuple[str, Any, Any]]],
    kinds: Mapping[str, FieldKind],
    own_kinds: Mapping[str, FieldKind],
    expected_fields: Sequence[str],
) -> VariantTable:
    # Plain lists while looping (setting numpy items one by one is slow), arrays at the end.
    n = len(sample_ids)
    counts: dict[str, list[float]] = {k: [0.0] * n for k in ("calls", "valid", "answered")}
    scores: dict[str, list[float]] = {f: [math.nan] * n for f in expected_fields}
    answers: dict[str, list[Any]] = {f: [NO_ANSWER] * n for f in kinds}
    keys: dict[str, list[Any]] = {f: [None] * n for f in kinds}
    agreeing: dict[str, list[float]] = {f: [0.0] * n for f in kinds}
    kind_of = {f: own_kinds.get(f, kinds[f]) for f in expected_fields}
    score = _ScoreCache()
    for i, sample_id in enumerate(sample_ids):
        results = grouped[sample_id].get(variant)
        if not results:
            continue
        outputs = [r.output or {} for r in results if r.ok]
        counts["calls"][i] = len(results)
        counts["valid"][i] = len(outputs)
        counts["answered"][i] = len(outputs) + sum(
            not r.ok and r.raw_output is not None for r in results
        )
        if not outputs:
            continue
        if len(outputs) == 1:  # no repeats: the answer is its own majority
            single = outputs[0]
            for name in kinds:
                value = single.get(name)
                answers[name][i] = value
                keys[name][i] = _agreement_key(value)
                agreeing[name][i] = 1.0
            for name, target, target_key in targets.get(sample_id, ()):
                scores[name][i] = score(kind_of[name], target, target_key, single.get(name))
            continue
        for name in kinds:
            found = majority([out.get(name) for out in outputs])
            if found is not None:
                answers[name][i] = found.value
                keys[name][i] = _agreement_key(found.value)
                agreeing[name][i] = found.count
        for name, target, target_key in targets.get(sample_id, ()):
            kind = kind_of[name]
            total = sum(score(kind, target, target_key, out.get(name)) for out in outputs)
            scores[name][i] = total / len(outputs)
    calls, valid = np.array(counts["calls"]), np.array(counts["valid"])
    return VariantTable(
        variant,
        calls,
        valid,
        np.array(counts["answered"]),
        calls - valid,
        answers,
        keys,
        {f: np.array(v) for f, v in agreeing.items()},
        {f: np.array(v) for f, v in scores.items()},
    )


class _ScoreCache:
    """:func:`compare.score_field` remembered per (kind, expected, answer) when both are plain
    values: labels, booleans and short lists repeat across samples and variants."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], float] = {}

    def __call__(self, kind: FieldKind, expected: Any, expected_key: Any, actual: Any) -> float:
        actual_key = actual if type(actual) is str else _hashable(actual)
        if expected_key is None or actual_key is None:
            return score_field(kind, expected, actual)
        key = (kind, expected_key, actual_key)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = score_field(kind, expected, actual)
        return found


_SCALARS = (str, int, float, bool, type(None))


def _hashable(value: Any) -> tuple[Any, ...] | None:
    """A type-tagged key for a plain value (``True`` and ``1`` differ); ``None`` otherwise."""
    if isinstance(value, _SCALARS):
        return (type(value), value)
    if isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
        return (list, *((type(v), v) for v in value))
    return None


def _agreement_key(value: Any) -> tuple[Any, ...] | None:
    """A key that is equal for two values exactly when :func:`compare.values_agree` says they
    agree: text normalized, lists as sets of normalized items, ``True`` never equal to ``1``.
    Numbers carry their value for a tolerance check (:func:`_same_answer`); objects and lists
    of objects get ``None`` and go through ``values_agree`` itself. Computed once per answer,
    so comparing every pair of variants is a key comparison (a test keeps it equal to
    ``values_agree``)."""
    if isinstance(value, bool) or value is None:
        return ("exact", value)
    if isinstance(value, str):
        return ("text", normalize_text(value))
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, list | tuple):
        items = [_item_key(item) for item in value]
        if _NO_KEY in items:
            return None
        return ("set", frozenset(items))
    return None


_NO_KEY = object()


def _item_key(item: Any) -> Any:
    if isinstance(item, bool):
        return ("bool", item)
    if isinstance(item, str):
        return normalize_text(item)
    if isinstance(item, int | float) or item is None:
        return None if item is None else float(item)
    return _NO_KEY


def _same_answer(left_key: Any, left: Any, right_key: Any, right: Any) -> bool:
    """:func:`compare.values_agree` for two answers, through their keys where they have them."""
    if left_key is None or right_key is None:
        return values_agree((left, right))
    if left_key[0] == right_key[0] == "number":
        tol = NUMBER_TOLERANCE
        return math.isclose(left_key[1], right_key[1], rel_tol=tol, abs_tol=tol)
    return bool(left_key == right_key)


# --------------------------------------------------------------------------- paired tests


@dataclass(frozen=True)
class PairedTest:
    """A candidate-minus-baseline comparison of per-sample values on the samples both have.

    ``method`` is ``mcnemar`` when every value is 0 or 1 (exact McNemar p-value on the discordant
    pairs, Newcombe's paired score interval), else ``bootstrap`` (percentile interval of a
    paired bootstrap of the mean difference, p-value from a paired sign-flip test, fixed seed).
    ``discordant`` is (candidate right only, baseline right only) for McNemar.
    """

    n: int
    baseline: float
    candidate: float
    difference: float
    ci95: tuple[float, float]
    p_value: float
    method: Method
    n_needed: int | None
    discordant: tuple[int, int] | None = None

    def worse(self, alpha: float = ALPHA, *, higher_is_better: bool = True) -> bool:
        bad = self.difference < 0 if higher_is_better else self.difference > 0
        return bad and self.p_value < alpha


def paired_test(
    baseline: Floats, candidate: Floats, *, alpha: float = ALPHA, seed: int = SEED
) -> PairedTest | None:
    """Compare two aligned arrays on the positions where both are known (not NaN).

    ``None`` when no position has both.
    """
    both = ~(np.isnan(baseline) | np.isnan(candidate))
    base, cand = baseline[both], candidate[both]
    n = int(base.size)
    if n == 0:
        return None
    diffs = cand - base
    difference = float(diffs.mean())
    binary = bool(np.isin(base, (0.0, 1.0)).all() and np.isin(cand, (0.0, 1.0)).all())
    if binary:
        cand_only = int(np.count_nonzero(diffs > 0))
        base_only = int(np.count_nonzero(diffs < 0))
        p_value = mcnemar_exact(cand_only, base_only)
        both_right = int(np.count_nonzero((base == 1) & (cand == 1)))
        ci = newcombe_interval(
            both_right, cand_only, base_only, n - both_right - cand_only - base_only, alpha
        )
        discordant: tuple[int, int] | None = (cand_only, base_only)
        method: Method = "mcnemar"
    else:
        rng = np.random.default_rng(seed)
        ci = _bootstrap_interval(diffs, rng, alpha)
        p_value = _sign_flip_p(diffs, rng)
        discordant, method = None, "bootstrap"
    return PairedTest(
        n=n,
        baseline=float(base.mean()),
        candidate=float(cand.mean()),
        difference=difference,
        ci95=ci,
        p_value=p_value,
        method=method,
        n_needed=samples_needed(diffs, alpha),
        discordant=discordant,
    )


def newcombe_interval(
    both: int, candidate_only: int, baseline_only: int, neither: int, alpha: float = ALPHA
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, "method 10") for the difference of two paired
    proportions, candidate minus baseline, from the 2×2 table of correct/wrong pairs.

    It combines the two variants' Wilson intervals with the pairs' phi correlation; Newcombe
    shows it keeps its coverage where the asymptotic interval overshoots [−1, 1] and the
    "exact" conditional one collapses to one side.
    """
    n = both + candidate_only + baseline_only + neither
    if n == 0:
        return 0.0, 0.0
    p_cand, p_base = (both + candidate_only) / n, (both + baseline_only) / n
    low_c, high_c = proportion_confint(both + candidate_only, n, alpha=alpha, method="wilson")
    low_b, high_b = proportion_confint(both + baseline_only, n, alpha=alpha, method="wilson")
    margins = (
        (both + candidate_only)
        * (baseline_only + neither)
        * (both + baseline_only)
        * (candidate_only + neither)
    )
    phi = (both * neither - candidate_only * baseline_only) / math.sqrt(margins) if margins else 0.0
    below = (p_cand - low_c) ** 2 - 2 * phi * (p_cand - low_c) * (high_b - p_base)
    above = (high_c - p_cand) ** 2 - 2 * phi * (high_c - p_cand) * (p_base - low_b)
    difference = p_cand - p_base
    below += (high_b - p_base) ** 2
    above += (p_base - low_b) ** 2
    return difference - math.sqrt(max(below, 0.0)), difference + math.sqrt(max(above, 0.0))


def _bootstrap_interval(
    diffs: Floats, rng: np.random.Generator, alpha: float
) -> tuple[float, float]:
    """Percentile interval of the mean over ``RESAMPLES`` paired resamples.

    Resampling n pairs with replacement only changes how often each distinct difference is
    drawn, so the draws are multinomial counts over the distinct values: the same distribution
    as resampling indices, at a cost of resamples × distinct values instead of × n.
    """
    values, counts = np.unique(diffs, return_counts=True)
    n = int(diffs.size)
    if values.size == 1:
        only = float(values[0])
        return only, only
    draws = rng.multinomial(n, counts / n, size=RESAMPLES)
    means = draws @ values / n
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _sign_flip_p(diffs: Floats, rng: np.random.Generator) -> float:
    """Two-sided p-value of the paired sign-flip (randomization) test of the mean difference.

    Under "no difference" each pair's difference is as likely negated; for each distinct size
    the number kept positive is binomial, so the flipped sums are drawn per distinct size.
    """
    nonzero = np.abs(diffs[diffs != 0])
    if nonzero.size == 0:
        return 1.0
    observed = abs(float(diffs.sum()))
    sizes, counts = np.unique(nonzero, return_counts=True)
    positives = rng.binomial(counts, 0.5, size=(RESAMPLES, sizes.size))
    flipped = np.abs((2 * positives - counts) @ sizes)
    tolerance = 1e-9 * max(1.0, observed)
    extreme = int(np.count_nonzero(flipped >= observed - tolerance))
    return (1 + extreme) / (1 + RESAMPLES)


# --------------------------------------------------------------------------- a pair of variants


@dataclass(frozen=True)
class FieldStatistics:
    """Accuracy of both variants on one field with expected values, and the paired verdict."""

    field: str
    test: PairedTest
    p_adjusted: float
    verdict: Verdict


@dataclass
class PairedStatistics:
    """Candidate against baseline on the samples both were run on."""

    baseline: str
    candidate: str
    n_samples: int
    repeats: int
    fields: dict[str, FieldStatistics]
    agreement: dict[str, Proportion]
    self_consistency: dict[str, dict[str, Proportion]]
    alpha: float = ALPHA


def paired(
    tables: Tables, baseline: str, candidate: str, *, alpha: float = ALPHA, seed: int = SEED
) -> PairedStatistics:
    """Paired statistics of ``candidate`` against ``baseline`` (both folded in ``tables``).

    Fields with expected values get a paired test of the per-sample scores, Holm-adjusted across
    those fields, and a verdict; every field gets the variants' agreement (on the majority
    answers) with a Wilson interval; with repeats, each variant gets its self-consistency.
    """
    base, cand = tables.variants[baseline], tables.variants[candidate]
    tests = {
        name: test
        for name in tables.expected_fields
        if (test := paired_test(base.scores[name], cand.scores[name], alpha=alpha, seed=seed))
    }
    adjusted = dict(zip(tests, holm([t.p_value for t in tests.values()]), strict=True))
    fields = {
        name: FieldStatistics(name, test, adjusted[name], _verdict(test, adjusted[name], alpha))
        for name, test in tests.items()
    }
    both = base.present & cand.present
    return PairedStatistics(
        baseline=baseline,
        candidate=candidate,
        n_samples=int(np.count_nonzero(both)),
        repeats=tables.repeats,
        fields=fields,
        agreement=agreement(tables, baseline, candidate, alpha),
        self_consistency=(
            {v: self_consistency(tables, v, alpha) for v in (candidate, baseline)}
            if tables.repeats > 1
            else {}
        ),
        alpha=alpha,
    )


def _verdict(test: PairedTest, p_adjusted: float, alpha: float) -> Verdict:
    if p_adjusted < alpha and test.difference > 0:
        return "better"
    if p_adjusted < alpha and test.difference < 0:
        return "worse"
    return "no detectable difference"


def agreement(
    tables: Tables, first: str, second: str, alpha: float = ALPHA
) -> dict[str, Proportion]:
    """Per field: the share of samples (both variants with valid output) where the two
    variants' majority answers agree, with a Wilson interval."""
    a, b = tables.variants[first], tables.variants[second]
    out: dict[str, Proportion] = {}
    for name in tables.fields:
        n = agree = 0
        pairs = zip(a.answers[name], b.answers[name], a.keys[name], b.keys[name], strict=True)
        for left, right, left_key, right_key in pairs:
            if left is NO_ANSWER or right is NO_ANSWER:
                continue
            n += 1
            agree += _same_answer(left_key, left, right_key, right)
        out[name] = proportion(agree, n, alpha)
    return out


def self_consistency(tables: Tables, variant: str, alpha: float = ALPHA) -> dict[str, Proportion]:
    """Per field: the share of samples whose valid repeats (two or more) all agree."""
    table = tables.variants[variant]
    out: dict[str, Proportion] = {}
    for name, flags in table.consistent.items():
        known = flags[~np.isnan(flags)]
        out[name] = proportion(int(known.sum()), int(known.size), alpha)
    return out


def compare_pair(
    results: Iterable[Result],
    schemas: Mapping[str, Schema],
    baseline: str,
    candidate: str,
    *,
    alpha: float = ALPHA,
) -> PairedStatistics:
    """:func:`tabulate` then :func:`paired` for one pair of variants."""
    tables = tabulate(results, schemas, [baseline, candidate])
    return paired(tables, baseline, candidate, alpha=alpha)


# --------------------------------------------------------------------------- text


def format_statistics(stats: PairedStatistics) -> str:
    """The statistics as plain text lines (the CLI prints these)."""
    lines = [
        f"{stats.candidate} vs {stats.baseline}: {stats.n_samples} samples"
        + (f" × {stats.repeats} repeats" if stats.repeats > 1 else "")
    ]
    if stats.fields:
        lines.append(
            f"  {'field':<20}{stats.baseline[:12]:>13}{stats.candidate[:12]:>13}{'diff':>8}"
            f"  {'95% CI':<17}{'p':>8}{'p(Holm)':>9}  verdict"
        )
        for name, fs in stats.fields.items():
            t = fs.test
            ci = f"[{t.ci95[0]:+.2f}, {t.ci95[1]:+.2f}]"
            needed = f" (≈{t.n_needed} samples to detect)" if t.n_needed else ""
            lines.append(
                f"  {name[:20]:<20}{t.baseline:>13.0%}{t.candidate:>13.0%}{t.difference:>+8.2f}"
                f"  {ci:<17}{_p(t.p_value):>8}{_p(fs.p_adjusted):>9}  {fs.verdict}"
                + (needed if fs.verdict == "no detectable difference" else "")
            )
    if stats.agreement:
        parts = [
            f"{name} {a.rate:.0%} [{a.ci95[0]:.0%}, {a.ci95[1]:.0%}]"
            for name, a in stats.agreement.items()
            if a.rate is not None and a.ci95 is not None
        ]
        if parts:
            lines.append("  agreement: " + ", ".join(parts))
    for variant, per_field in stats.self_consistency.items():
        parts = [f"{n} {p.rate:.0%}" for n, p in per_field.items() if p.rate is not None]
        if parts:
            lines.append(f"  self-consistency {variant}: " + ", ".join(parts))
    return "\n".join(lines)


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"
