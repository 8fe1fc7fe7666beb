"""The verdict: which space is better only when the rank test says so, and how many models it takes."""

import itertools

import numpy as np
import pytest
from scipy import stats

from pycls_like.analysis import verdict as verdict_module
from pycls_like.analysis.verdict import (
    PERMUTATION_MAX_MODELS,
    POWER_GRID,
    TESTS,
    bins_for,
    judge,
    judgement_html,
    ks_by_bins,
    models_needed,
    verdict,
)


def test_rank_test_p_value_and_effect_equal_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(30, 5, 12), rng.normal(40, 5, 12)
    v = verdict({"a": a, "b": b}, test="mann-whitney")
    ref = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert v.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert v.effect == pytest.approx(np.mean(a[:, None] > b[None, :]) - 0.5)
    assert v.significant and v.better == "a" and v.worse == "b"
    assert v.sentence.startswith("a is better than b (p = ")
    assert v.n == {"a": 12, "b": 12}


def test_mean_permutation_p_value_equals_full_enumeration():
    """With 4 + 4 models there are 70 relabelings: scipy enumerates them all, as done here."""
    a, b = np.array([2.0, 3.5, 4.0, 60.0]), np.array([5.0, 70.0, 75.0, 80.0])
    pooled, observed = np.concatenate([a, b]), a.mean() - b.mean()
    diffs = [
        pooled[list(i)].mean() - np.delete(pooled, list(i)).mean()
        for i in itertools.combinations(range(8), 4)
    ]
    exact = np.mean(np.abs(diffs) >= abs(observed) - 1e-12)
    v = verdict({"a": a, "b": b}, power=False)
    assert v.test.startswith("two-sided permutation test of the difference in mean")
    assert v.p_value == pytest.approx(exact)
    assert v.effect == pytest.approx(observed) and v.means == {"a": 17.375, "b": 57.5}


def test_above_the_permutation_limit_the_verdict_names_welch_first(monkeypatch):
    """Above PERMUTATION_MAX_MODELS models the p-value is Welch's t-test: the report says so
    first; at the limit it is still the permutation test."""
    # Which test runs depends on the model count, not on the relabelings: few keep it quick.
    monkeypatch.setattr(verdict_module, "PERMUTATIONS", 99)
    rng = np.random.default_rng(3)
    half = PERMUTATION_MAX_MODELS // 2
    a, b = rng.normal(30, 5, half + 1), rng.normal(30.5, 5, half)
    v = verdict({"a": a, "b": b}, power=False)
    assert v.test.startswith("two-sided Welch's t-test of the difference in mean")
    assert v.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    at_limit = verdict({"a": a[:half], "b": b}, power=False)
    assert at_limit.test.startswith("two-sided permutation test of the difference in mean")


def test_direction_follows_the_lower_errors_whatever_the_order():
    rng = np.random.default_rng(1)
    low, high = rng.normal(20, 3, 10), rng.normal(35, 3, 10)
    assert verdict({"x": high, "y": low}).better == "y"
    assert verdict({"x": low, "y": high}).better == "x"


def test_no_significant_difference_names_no_winner():
    rng = np.random.default_rng(2)
    v = verdict({"a": rng.normal(30, 5, 10), "b": rng.normal(30, 5, 10)})
    assert v.p_value > 0.05
    assert not v.significant and v.better is None and v.worse is None
    assert v.sentence.startswith("no significant difference at this population size (p = ")
    assert "models per space" in v.sentence


@pytest.mark.slow  # 900 verdicts: calibration, left to the default run
def test_false_positive_rate_is_near_alpha(monkeypatch):
    monkeypatch.setattr(verdict_module, "PERMUTATIONS", 999)  # calibration, not resolution
    rng = np.random.default_rng(3)
    for test in TESTS:
        hits = sum(
            verdict(
                {"a": rng.normal(size=12), "b": rng.normal(size=12)}, power=False, test=test
            ).significant
            for _ in range(300)
        )
        assert 0.015 <= hits / 300 <= 0.09, test


def test_models_needed_shrinks_as_the_effect_grows():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, 40)
    small = models_needed(base, base + 0.5, np.random.default_rng(0))
    large = models_needed(base, base + 2.0, np.random.default_rng(0))
    assert large is not None and small is not None and large < small
    assert large in POWER_GRID and large <= 10
    assert models_needed(base, base.copy(), np.random.default_rng(0)) is None


def test_too_few_models_give_no_verdict():
    v = verdict({"a": [10.0], "b": [20.0, 30.0]})
    assert v.p_value is None and not v.significant and "at least 2" in v.sentence


def test_bin_rule_keeps_about_five_models_per_bin():
    assert [bins_for(n) for n in (2, 10, 12, 24, 50, 1000)] == [2, 2, 2, 4, 10, 10]


def test_ks_by_bins_reports_every_count():
    rng = np.random.default_rng(5)
    errors = [rng.normal(30, 5, 20), rng.normal(35, 5, 20)]
    flops = [rng.uniform(5e6, 20e6, 20), rng.uniform(5e6, 20e6, 20)]
    by = ks_by_bins(errors, flops, 6)
    assert list(by) == [2, 3, 4, 5, 6]
    assert all(p is None or 0 <= p <= 1 for p in by.values())


def test_judgement_json_and_html_carry_verdict_and_provenance():
    rng = np.random.default_rng(6)
    errors = {"r": rng.normal(20, 3, 12), "v": rng.normal(40, 3, 12)}
    flops = {k: rng.uniform(5e6, 2e7, 12) for k in errors}
    j = judge(errors, flops, {"r": 0, "v": 2}, {"dataset": "synthetic", "seed": 0}, bins=2)
    out = j.to_json()
    assert set(out["verdict"]) >= {"better", "worse", "p_value", "significant", "test", "n"}
    assert out["verdict"]["better"] == "r" and out["provenance"]["seed"] == 0
    html = judgement_html(j, str)
    assert html.index("r is better than v") < html.index("dataset: synthetic")
    assert "v: 2 run(s)" in html
