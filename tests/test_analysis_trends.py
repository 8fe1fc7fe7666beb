"""Parameter trends: binned medians, bootstrap good ranges, Spearman correlations."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pycls_like.analysis.trends import best_shares, binned_median, good_range, log_scale, spearman


def test_binned_median_matches_pandas():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 10, 300), rng.normal(0, 1, 300)
    out = binned_median(x, y, bins=5)
    edges = np.histogram_bin_edges(x, bins=5)
    assert np.allclose(out["lo"], edges[:-1]) and np.allclose(out["hi"], edges[1:])
    ref = (
        pd.Series(y)
        .groupby(pd.cut(x, edges, include_lowest=True, right=False), observed=True)
        .median()
    )
    # pd.cut with right=False leaves the maximum out; ours puts it in the last bin.
    assert np.allclose(out["median"][:-1], ref.values[:-1])
    assert out["n"].sum() == 300


def test_binned_median_log_bins_for_flops():
    flops = 10 ** np.linspace(8, 10, 50)
    assert log_scale(flops) and not log_scale(np.linspace(1, 5, 10))
    out = binned_median(flops, np.arange(50.0), bins=4)
    assert np.allclose(np.log10(out["lo"]), [8, 8.5, 9, 9.5])
    assert np.allclose(out["center"], np.sqrt(out["lo"] * out["hi"]))


def test_good_range_brackets_the_optimum():
    # Error is smallest at wm = 2.5; the best models' wm must concentrate there.
    rng = np.random.default_rng(1)
    wm = rng.uniform(1.5, 3.5, 400)
    err = 20 + 10 * (wm - 2.5) ** 2 + rng.normal(0, 0.2, 400)
    r = good_range(wm, err, n_boot=2000, rng=2)
    assert 2.2 < r.lo < r.mid < r.hi < 2.8
    assert r.mid == pytest.approx(2.5, abs=0.1)
    assert good_range(wm, err, n_boot=2000, rng=2) == r  # explicit seed: reproducible


def test_good_range_picks_the_resampled_best():
    # Constant values: every bootstrap winner has that value.
    r = good_range([4.0] * 20, np.arange(20.0), n_boot=100)
    assert (r.lo, r.mid, r.hi) == (4.0, 4.0, 4.0)


def test_best_shares_of_a_categorical_parameter():
    opt = ["sgd"] * 50 + ["adamw"] * 50
    err = np.r_[np.full(50, 30.0), np.full(50, 20.0)] + np.linspace(0, 1, 100)
    shares = best_shares(opt, err, n_boot=500)
    assert list(shares) == ["adamw", "sgd"][: len(shares)] and shares["adamw"] > 0.99


def test_spearman_equals_scipy_and_skips_constants():
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {"d": rng.integers(10, 30, 80), "const": 1, "top1_err": rng.normal(30, 2, 80)}
    )
    out = spearman(table, ["d", "const"])
    ref = stats.spearmanr(table["d"], table["top1_err"])
    assert list(out["param"]) == ["d"]
    assert out["rho"][0] == pytest.approx(ref.statistic) and out["pvalue"][0] == pytest.approx(
        ref.pvalue
    )


def test_closed_form_bootstrap_winners_match_resampling():
    """The winner's rank drawn in closed form has the distribution of the argmin of k draws."""
    from pycls_like.analysis.trends import bootstrap_winners

    errors = np.arange(20.0)[::-1]  # model 19 is best, model 0 worst
    fast = np.bincount(bootstrap_winners(errors, 40_000, 0.25, rng=0), minlength=20) / 40_000
    rng = np.random.default_rng(1)
    draws = rng.integers(0, 20, size=(40_000, 5))
    slow = np.bincount(draws[np.arange(40_000), errors[draws].argmin(1)], minlength=20) / 40_000
    assert np.abs(fast - slow).max() < 0.012
