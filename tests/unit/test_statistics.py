"""Paired statistics: figures checked against published worked examples, then the folding of
results (repeats, errors, expected values) into per-field verdicts."""

from __future__ import annotations

import itertools
import random
from typing import Any

import numpy as np
import pytest

from prompt_playground.models import Result
from prompt_playground.statistics import (
    RESAMPLES,
    compare_pair,
    holm,
    majority,
    mcnemar_exact,
    newcombe_interval,
    paired_test,
    samples_needed,
    stability,
    tabulate,
    wilson,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["a", "b", "c", "d"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"},
    },
    "required": ["label", "tags", "note"],
}


# --------------------------------------------------------------------------- textbook figures


@pytest.mark.parametrize(
    ("count", "n", "low", "high"),
    [
        # Newcombe RG (1998). Two-sided confidence intervals for the single proportion:
        # comparison of seven methods. Statistics in Medicine 17:857-872, Table I, method 3
        # (score interval without continuity correction = Wilson), to four decimals.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998_table(
    count: int, n: int, low: float, high: float
) -> None:
    interval = wilson(count, n)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=5e-5)
    assert interval[1] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_is_none_without_trials() -> None:
    assert wilson(0, 0) is None


def test_exact_mcnemar_matches_fagerland_2013_example() -> None:
    # Fagerland MW, Lydersen S, Laake P (2013). The McNemar test for binary matched-pairs data:
    # mid-p and asymptotic are better than exact conditional. BMC Med Res Methodol 13:91.
    # Worked example (Bentur et al. 2009, airway hyper-responsiveness, 21 children): discordant
    # pairs 1 and 7; the exact conditional McNemar test gives p = 0.070 (18/256).
    assert mcnemar_exact(1, 7) == pytest.approx(0.0703125)
    assert mcnemar_exact(7, 1) == pytest.approx(0.0703125)
    assert round(mcnemar_exact(1, 7), 3) == 0.070


def test_exact_mcnemar_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0


def test_holm_adjustment_matches_the_textbook_example() -> None:
    # Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Statist
    # 6:65-70; the four-hypothesis example on Wikipedia's "Holm–Bonferroni method" page:
    # p = 0.01, 0.04, 0.03, 0.005 at alpha 0.05 rejects H1 and H4 only. Adjusted p-values are
    # the step-down products, made monotone: 3·0.01, max(0.06, 0.04), 2·0.03, 4·0.005.
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [p < 0.05 for p in adjusted] == [True, False, False, True]


def test_holm_agrees_with_statsmodels_multipletests() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(5)
    for size in (1, 2, 5, 12):
        p_values = list(rng.uniform(0, 0.2, size=size)) + [0.01] * 2  # ties included
        expected = multipletests(p_values, method="holm")[1]
        assert holm(p_values) == pytest.approx(list(expected))


def test_newcombe_paired_interval_matches_newcombe_1998b_example() -> None:
    # Newcombe RG (1998). Improved confidence intervals for the difference between binomial
    # proportions based on paired data. Statistics in Medicine 17:2635-2650, Table II, example
    # (a) 36, 12, 2, 0 (difference 0.2): method 10 gives 0.0569 to 0.3404.
    low, high = newcombe_interval(36, 12, 2, 0)
    assert low == pytest.approx(0.0569, abs=5e-5)
    assert high == pytest.approx(0.3404, abs=5e-5)


def test_samples_needed_matches_paired_t_power_tables() -> None:
    # Cohen J (1988), Statistical Power Analysis, and G*Power (Faul et al. 2007) "difference
    # from constant": effect size d = 0.5, alpha 0.05 two-sided, power 0.8 → 34 pairs (33.37).
    z = np.random.default_rng(7).normal(size=60)
    differences = 0.5 + (z - z.mean()) / z.std(ddof=1)  # mean 0.5, sd exactly 1
    assert samples_needed(differences) == 34


def test_samples_needed_is_none_without_a_difference_and_small_when_every_pair_agrees() -> None:
    assert samples_needed(np.array([1.0, -1.0, 0.0, 0.0])) is None
    # Every pair favours the candidate: the exact test needs 6 such pairs (2/2^6 < 0.05).
    assert samples_needed(np.ones(30)) == 6


# --------------------------------------------------------------------------- paired tests


def test_binary_scores_use_exact_mcnemar_on_the_discordant_pairs() -> None:
    # 36 both right, 12 candidate only, 2 baseline only, 0 neither (Newcombe's example).
    cand = np.array([1.0] * 36 + [1.0] * 12 + [0.0] * 2)
    base = np.array([1.0] * 36 + [0.0] * 12 + [1.0] * 2)
    test = paired_test(base, cand)
    assert test is not None
    assert test.method == "mcnemar"
    assert test.discordant == (12, 2)
    assert test.difference == pytest.approx(0.2)
    assert test.p_value == pytest.approx(mcnemar_exact(12, 2))
    assert test.p_value < 0.05
    assert test.ci95 == pytest.approx(newcombe_interval(36, 12, 2, 0))


def test_fractional_scores_use_a_reproducible_paired_bootstrap() -> None:
    rng = np.random.default_rng(3)
    base = rng.choice([0.0, 0.5, 2 / 3, 1.0], size=200)
    cand = np.clip(base + rng.choice([0.0, 0.0, 0.5, 1 / 3], size=200), 0, 1)
    first, again = paired_test(base, cand), paired_test(base, cand)
    assert first is not None
    assert first.method == "bootstrap"
    assert first == again  # fixed seed
    assert first.ci95[0] < first.difference < first.ci95[1]
    assert first.ci95[0] > 0
    assert first.p_value < 0.001


def test_bootstrap_interval_agrees_with_a_plain_index_bootstrap() -> None:
    rng = np.random.default_rng(11)
    base = rng.choice([0.0, 0.25, 0.5, 1.0], size=300)
    cand = rng.choice([0.0, 0.25, 0.5, 1.0], size=300, p=[0.2, 0.2, 0.3, 0.3])
    test = paired_test(base, cand)
    assert test is not None
    diffs = cand - base
    index = np.random.default_rng(0).integers(0, diffs.size, size=(4000, diffs.size))
    low, high = np.quantile(diffs[index].mean(axis=1), [0.025, 0.975])
    assert test.ci95[0] == pytest.approx(low, abs=0.01)
    assert test.ci95[1] == pytest.approx(high, abs=0.01)


def test_sign_flip_p_value_agrees_with_full_enumeration() -> None:
    diffs = np.array([0.5, 0.25, -0.25, 0.5, 0.75, 0.0, 0.5, -0.5, 0.25, 0.5, 1 / 3, 0.25])
    observed = abs(diffs.sum())
    flips = [
        abs(sum(s * d for s, d in zip(signs, diffs, strict=True)))
        for signs in itertools.product((1, -1), repeat=diffs.size)
    ]
    exact = sum(f >= observed - 1e-12 for f in flips) / len(flips)
    test = paired_test(np.zeros(diffs.size) + 0.25, diffs + 0.25)
    assert test is not None
    assert test.method == "bootstrap"
    assert test.p_value == pytest.approx(exact, abs=3 / np.sqrt(RESAMPLES))


def test_identical_scores_have_no_difference() -> None:
    scores = np.array([1.0, 0.5, 0.0, 1.0])
    test = paired_test(scores, scores.copy())
    assert test is not None
    assert (test.difference, test.p_value, test.ci95) == (0.0, 1.0, (0.0, 0.0))


def test_positions_missing_on_either_side_are_left_out() -> None:
    base = np.array([1.0, np.nan, 0.0, 1.0])
    cand = np.array([1.0, 1.0, np.nan, 0.0])
    test = paired_test(base, cand)
    assert test is not None
    assert test.n == 2
    assert paired_test(np.array([np.nan]), np.array([1.0])) is None


# --------------------------------------------------------------------------- repeats


def test_majority_and_stability_label() -> None:
    assert stability(["negative", "Negative ", "neutral"]) == "negative 2/3"
    assert stability(["neutral", "neutral", "neutral"]) == "neutral 3/3"
    assert stability([]) == "–"
    found = majority([["x", "y"], ["y", "x"], ["z"]])
    assert found is not None
    assert (found.count, found.total, found.stable) == (2, 3, False)
    tie = majority(["a", "b"])
    assert tie is not None
    assert tie.value == "a"


def _result(sample: str, variant: str, output: dict[str, Any] | None, **extra: Any) -> Result:
    return Result(
        run_id="r",
        sample_id=sample,
        variant=variant,
        prompt_name="p",
        prompt_version=1,
        output=output,
        error=None if output is not None else "The output did not match the response schema",
        expected=extra.pop("expected", {}),
        **extra,
    )


def test_self_consistency_counts_samples_whose_repeats_all_agree() -> None:
    results = []
    answers = {"s1": "aaa", "s2": "aab", "s3": "ccc", "s4": "ddd"}
    for sample, labels in answers.items():
        for label in labels:
            output = {"label": label, "tags": ["x"], "note": "n"}
            results.append(_result(sample, "v1", output))
            results.append(_result(sample, "v2", output))
    stats = compare_pair(results, {"v1": SCHEMA, "v2": SCHEMA}, "v1", "v2")
    assert stats.repeats == 3
    consistency = stats.self_consistency["v2"]["label"]
    assert (consistency.count, consistency.n, consistency.rate) == (3, 4, 0.75)
    assert consistency.ci95 == wilson(3, 4)
    assert stats.self_consistency["v2"]["tags"].rate == 1.0


def test_without_repeats_there_is_no_self_consistency() -> None:
    results = [_result("s1", v, {"label": "a", "tags": [], "note": "n"}) for v in ("v1", "v2")]
    assert compare_pair(results, {"v1": SCHEMA, "v2": SCHEMA}, "v1", "v2").self_consistency == {}


def test_scores_are_the_mean_over_repeats() -> None:
    expected = {"label": "a"}
    results = [
        _result("s1", "v1", {"label": label, "tags": [], "note": "n"}, expected=expected)
        for label in "aab"
    ] + [_result("s1", "v2", {"label": "a", "tags": [], "note": "n"}, expected=expected)] * 3
    tables = tabulate(results, {"v1": SCHEMA, "v2": SCHEMA}, ["v1", "v2"])
    assert tables.variants["v1"].scores["label"][0] == pytest.approx(2 / 3)
    assert tables.variants["v2"].scores["label"][0] == 1.0
    assert tables.expected_fields == ["label"]


# --------------------------------------------------------------------------- a pair of variants


def _good_and_random(n: int, seed: int = 5) -> list[Result]:
    rnd = random.Random(seed)
    results = []
    for i in range(n):
        truth = rnd.choice("abcd")
        expected = {"label": truth, "tags": "x; y"}
        good = {"label": truth, "tags": ["x", "y"], "note": "same"}
        noise = {"label": rnd.choice("abcd"), "tags": rnd.choice([["x"], ["z"]]), "note": "same"}
        results.append(_result(f"s{i}", "good", good, expected=expected))
        results.append(_result(f"s{i}", "random", noise, expected=expected))
    return results


def test_a_variant_matching_the_expected_values_is_better_than_a_random_one() -> None:
    stats = compare_pair(_good_and_random(40), {"good": SCHEMA, "random": SCHEMA}, "random", "good")
    assert set(stats.fields) == {"label", "tags"}
    label = stats.fields["label"]
    assert label.test.method == "mcnemar"
    assert label.test.candidate == 1.0
    assert label.verdict == "better"
    assert label.test.ci95[0] > 0
    assert label.p_adjusted >= label.test.p_value
    assert stats.fields["tags"].test.method == "bootstrap"  # set-F1 scores are fractions
    assert stats.fields["tags"].verdict == "better"
    assert stats.agreement["note"].rate == 1.0

    reverse = compare_pair(
        _good_and_random(40), {"good": SCHEMA, "random": SCHEMA}, "good", "random"
    )
    assert reverse.fields["label"].verdict == "worse"
    assert reverse.fields["label"].test.ci95[1] < 0


def test_identical_variants_show_no_detectable_difference() -> None:
    results = [r for r in _good_and_random(30) if r.variant == "random"]
    twins = results + [_result(r.sample_id, "twin", r.output, expected=r.expected) for r in results]
    stats = compare_pair(twins, {"random": SCHEMA, "twin": SCHEMA}, "random", "twin")
    assert {fs.verdict for fs in stats.fields.values()} == {"no detectable difference"}
    assert all(fs.test.p_value == 1.0 for fs in stats.fields.values())
    assert all(a.rate == 1.0 for a in stats.agreement.values())


def test_errored_calls_are_not_scored_but_the_sample_still_counts() -> None:
    expected = {"label": "a"}
    results = [
        _result("s1", "v1", {"label": "a", "tags": [], "note": "n"}, expected=expected),
        _result("s1", "v2", None, expected=expected),
        _result("s2", "v1", {"label": "a", "tags": [], "note": "n"}, expected=expected),
        _result("s2", "v2", {"label": "b", "tags": [], "note": "n"}, expected=expected),
    ]
    stats = compare_pair(results, {"v1": SCHEMA, "v2": SCHEMA}, "v1", "v2")
    assert stats.n_samples == 2
    assert stats.fields["label"].test.n == 1
    assert stats.agreement["label"].n == 1


def test_agreement_between_variants_is_exactly_compare_values_agree() -> None:
    from prompt_playground.compare import values_agree
    from prompt_playground.statistics import agreement

    pool: list[Any] = [
        "Negative",
        " negative ",
        "neutral",
        "",
        None,
        True,
        False,
        1,
        1.0,
        1.0000000001,
        0,
        2.5,
        "1",
        "true",
        ["a", "B"],
        ["b", "a "],
        ["a"],
        [],
        [1, 2],
        [2.0, 1],
        [True],
        [1],
        [None],
        {"k": 1},
        {"k": 1.0},
        [{"k": 1}],
    ]
    pairs = list(itertools.product(pool, repeat=2))
    schema = {"type": "object", "properties": {"x": {}}}
    results = [_result(f"s{i}", "v1", {"x": a}) for i, (a, _) in enumerate(pairs)]
    results += [_result(f"s{i}", "v2", {"x": b}) for i, (_, b) in enumerate(pairs)]
    tables = tabulate(results, {"v1": schema, "v2": schema}, ["v1", "v2"])
    found = agreement(tables, "v1", "v2")["x"]
    assert found.n == len(pairs)
    assert found.count == sum(values_agree((a, b)) for a, b in pairs)
    # and pair by pair: one sample per pair
    for i, (a, b) in enumerate(pairs):
        one = [r for r in results if r.sample_id == f"s{i}"]
        single = tabulate(one, {"v1": schema, "v2": schema}, ["v1", "v2"])
        assert agreement(single, "v1", "v2")["x"].count == values_agree((a, b)), (a, b)


def test_folded_tables_give_each_cell_its_stability_mark() -> None:
    results = [
        _result("s1", "v1", {"label": label, "tags": [], "note": "n"}) for label in "bba"
    ] + [_result("s1", "v1", None), _result("s2", "v1", None)]
    tables = tabulate(results, {"v1": SCHEMA}, ["v1"])
    table = tables.variants["v1"]
    mark = table.majority("label", 0)
    assert mark is not None
    assert (mark.label(), mark.stable) == ("b 2/3", False)  # errors are not answers
    assert table.majority("label", 1) is None
    assert list(table.errors) == [1.0, 1.0]
