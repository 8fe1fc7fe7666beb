"""EDFs, normalization, KS tests, bootstrap bands and best-of-n against scipy and Monte Carlo."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pycls_like.analysis.edf import (
    best_of_n,
    bootstrap_band,
    edf,
    ks_test,
    normalization_weights,
    restricted_edf,
)
from pycls_like.errors import ConfigError


@pytest.fixture
def samples():
    rng = np.random.default_rng(0)
    return rng.normal(30, 3, 80), rng.normal(31, 4, 120)


def test_edf_is_fraction_below(samples):
    a, _ = samples
    curve = edf(a)
    grid = np.linspace(20, 40, 57)
    assert np.allclose(curve(grid), [(a < e).mean() for e in grid])
    assert curve(a.min()) == 0 and curve(a.max() + 1e-9) == 1
    # scipy's ECDF is P(X <= e): equal to ours just above every sample.
    assert np.allclose(curve(a + 1e-9), stats.ecdf(a).cdf.evaluate(a))


def test_weighted_edf_matches_definition():
    errors, weights = np.array([3.0, 1.0, 2.0, 2.0]), np.array([1.0, 2.0, 3.0, 4.0])
    curve = edf(errors, weights)
    assert curve.weighted and np.isclose(curve.weights.sum(), 1)
    assert np.allclose(curve([1.0, 1.5, 2.5, 3.5]), [0.0, 0.2, 0.9, 1.0])
    assert np.isclose(curve.n_eff, weights.sum() ** 2 / (weights**2).sum())


def test_ks_unweighted_equals_scipy(samples):
    a, b = samples
    ours, ref = ks_test(edf(a), edf(b)), stats.ks_2samp(a, b)
    assert (ours.statistic, ours.pvalue) == (ref.statistic, ref.pvalue)
    assert ours.method == "scipy.ks_2samp"


def test_weighted_ks_with_uniform_weights_equals_scipy_asymptotic(samples):
    a, b = samples
    ours = ks_test(edf(a, np.ones_like(a)), edf(b, np.full_like(b, 7.0)))
    ref = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert ours.method == "weighted-kolmogorov"


def test_weighted_ks_statistic_is_sup_distance():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 50), rng.normal(0.5, 1, 70)
    wa, wb = rng.uniform(0.1, 2, 50), rng.uniform(0.1, 2, 70)
    fa, fb = edf(a, wa), edf(b, wb)
    grid = np.sort(np.concatenate([a, b, a + 1e-9, b + 1e-9]))
    assert ks_test(fa, fb).statistic == pytest.approx(np.max(np.abs(fa(grid) - fb(grid))))
    assert 0 <= ks_test(fa, fb).pvalue <= 1


def test_normalized_weights_equalize_complexity_histograms():
    rng = np.random.default_rng(2)
    flops = [
        10 ** rng.uniform(8, 9.5, 150),
        10 ** rng.normal(9, 0.3, 90),
        10 ** rng.uniform(8.5, 9.2, 60),
    ]
    weights = normalization_weights(flops, bins=8)
    edges = np.histogram_bin_edges(np.log10(np.concatenate(flops)), bins=8)
    hists = [
        np.histogram(np.log10(f), bins=edges, weights=w)[0]
        for f, w in zip(flops, weights, strict=True)
    ]
    for h in hists:
        assert h.sum() == pytest.approx(1)
        assert np.allclose(h, hists[0])
    assert np.allclose(hists[0][hists[0] > 0], 1 / np.count_nonzero(hists[0]))


def test_normalization_needs_overlap():
    with pytest.raises(ConfigError, match="share no complexity bin"):
        normalization_weights([[1e6, 1.1e6], [1e9, 1.1e9]], bins=4)


def test_restricted_edf_keeps_the_band():
    errors, flops = np.array([10.0, 20, 30, 40]), np.array([1e8, 2e8, 4e8, 8e8])
    curve = restricted_edf(errors, flops, 1.5e8, 5e8)
    assert list(curve.errors) == [20.0, 30.0]
    with pytest.raises(ConfigError, match="no model"):
        restricted_edf(errors, flops, 1e10, 2e10)


def test_bootstrap_band_contains_edf_and_is_reproducible(samples):
    a, _ = samples
    for weights in (None, np.linspace(0.5, 2, a.size)):
        curve = edf(a, weights)
        band = bootstrap_band(curve, n_boot=500, rng=np.random.default_rng(3))
        values = curve(band.x)
        assert np.all(band.lower <= values + 1e-12) and np.all(values <= band.upper + 1e-12)
        assert np.all(band.upper - band.lower <= 0.35) and np.any(band.upper > band.lower)
        again = bootstrap_band(curve, n_boot=500, rng=np.random.default_rng(3))
        assert np.array_equal(band.lower, again.lower)


def test_best_of_n_closed_form_and_monte_carlo():
    # Known distribution: errors 1..10 with probabilities proportional to 1..10.
    errors, weights = np.arange(1.0, 11.0), np.arange(1.0, 11.0)
    p = weights / weights.sum()
    ns = np.array([1, 2, 5, 20])
    result = best_of_n(edf(errors, weights), ns, percentiles=(10, 90))
    tail = np.cumsum(p[::-1])[::-1]  # P(X >= e_k)
    exact = [
        sum(e * (tail[k] ** n - (tail[k + 1] if k < 9 else 0) ** n) for k, e in enumerate(errors))
        for n in ns
    ]
    assert np.allclose(result.expected, exact)
    assert result.expected[0] == pytest.approx(np.sum(p * errors))
    rng = np.random.default_rng(4)
    for n, expected, lo, hi in zip(ns, result.expected, result.lower, result.upper, strict=True):
        mins = rng.choice(errors, size=(50_000, n), p=p).min(1)
        assert mins.mean() == pytest.approx(expected, abs=0.03)
        assert (lo, hi) == tuple(np.percentile(mins, [10, 90], method="inverted_cdf"))
    assert np.all(np.diff(result.expected) < 0)


def test_best_of_n_unweighted_default_ns(samples):
    a, _ = samples
    result = best_of_n(edf(a))
    assert result.n[0] == 1 and result.n[-1] == a.size
    assert result.expected[0] == pytest.approx(a.mean())
    assert np.all(result.lower <= result.expected) and np.all(result.expected <= result.upper)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="empty population"):
        edf([])
    with pytest.raises(ConfigError, match="weights"):
        edf([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ConfigError, match="finite"):
        edf([1.0, np.nan])


@pytest.mark.filterwarnings("ignore:ks_2samp")  # scipy falls back to asymp with ties: still equal
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
)
def test_edf_and_ks_invariants(a, b):
    fa, fb = edf(a), edf(b)
    grid = np.linspace(-1, 101, 50)
    values = fa(grid)
    assert np.all(np.diff(values) >= 0) and values[0] == 0 and values[-1] == pytest.approx(1)
    ours, ref = ks_test(fa, fb), stats.ks_2samp(a, b)
    assert (ours.statistic, ours.pvalue) == (ref.statistic, ref.pvalue)
    weighted = ks_test(edf(a, np.ones(len(a))), edf(b, np.ones(len(b))))
    assert weighted.statistic == pytest.approx(ref.statistic, abs=1e-12)


def test_weighted_ks_p_value_undefined_below_two_effective_models():
    """One effective model per side makes D 0 or 1 whatever the spaces: no p-value, not p = 0."""
    a = edf([50.0, 60.0, 70.0], weights=[1.0, 0.0, 0.0])
    b = edf([40.0, 80.0], weights=[0.0, 1.0])
    result = ks_test(a, b)
    assert result.statistic == 1.0 and math.isnan(result.pvalue)


def test_permutation_test_statistic_and_pvalue():
    """D equals the weighted KS statistic; p = (1 + hits)/(1 + permutations): the smallest
    possible value for a clear shift, large under the null; the same seed, the same p."""
    from pycls_like.analysis.edf import ks_permutation_test, normalization_weights

    rng = np.random.default_rng(4)
    fa, fb = rng.uniform(1e8, 4e8, 60), rng.uniform(1.5e8, 5e8, 50)
    ea, eb = 40 - 3 * np.log(fa / 1e8) + rng.normal(0, 1, 60), 40 - 3 * np.log(fb / 1e8)
    eb = eb + rng.normal(0, 1, 50)
    wa, wb = normalization_weights([fa, fb], bins=5)
    ref = ks_test(edf(ea, wa), edf(eb, wb))
    null = ks_permutation_test([ea, eb], [fa, fb], bins=5, n_perm=199, rng=0)
    assert null.statistic == pytest.approx(ref.statistic) and null.pvalue > 0.05
    assert ks_permutation_test([ea, eb], [fa, fb], bins=5, n_perm=199, rng=0) == null
    shifted = ks_permutation_test([ea, eb + 5], [fa, fb], bins=5, n_perm=199, rng=0)
    assert shifted.pvalue == pytest.approx(1 / 200)
