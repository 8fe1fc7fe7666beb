"""Error distribution functions: the population statistics of On Network Design Spaces for Visual
Recognition (Radosavovic et al. 2019, sec. 3): EDFs, complexity-normalized EDFs, restricted EDFs,
KS comparisons, bootstrap confidence bands and the expected best-of-n error of random search.

Every function takes plain arrays (one population's errors, optional weights) and returns numbers;
plotting lives in `plots.py`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from pycls_like.errors import ConfigError


@dataclass(frozen=True)
class EDF:
    """F(e) = weighted fraction of models with error < e (sec. 3.1, eq. 1; weights sum to 1)."""

    errors: np.ndarray  # sorted ascending
    weights: np.ndarray  # aligned with errors, sum 1
    weighted: bool  # False: the plain empirical distribution (all weights 1/n)

    @property
    def n(self) -> int:
        return int(self.errors.size)

    @property
    def n_eff(self) -> float:
        """Kish effective sample size (sum w)^2 / sum w^2: n for uniform weights."""
        return float(1.0 / np.sum(self.weights**2))

    def __call__(self, e: float | np.ndarray) -> np.ndarray:
        """Evaluate F at e (scalar or array)."""
        cum = np.concatenate([[0.0], np.cumsum(self.weights)])
        return (cum / cum[-1])[np.searchsorted(self.errors, e, side="left")]  # exactly 1 at the top


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov-Smirnov comparison; n_a/n_b are the (effective) sample sizes used."""

    statistic: float
    pvalue: float
    n_a: float
    n_b: float
    method: str  # "scipy.ks_2samp", "weighted-kolmogorov" (approximate) or "permutation (...)"


@dataclass(frozen=True)
class Band:
    """Pointwise bootstrap confidence band of an EDF on a grid of errors."""

    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float


@dataclass(frozen=True)
class BestOfN:
    """Error of the best of n models drawn at random: expectation and percentiles, per n."""

    n: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    percentiles: tuple[float, float]


def edf(
    errors: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> EDF:
    """Build an EDF; weights (any non-negative scale) make it a normalized EDF."""
    e = np.asarray(errors, dtype=float)
    if e.ndim != 1 or e.size == 0:
        raise ConfigError("an EDF needs at least one error value (empty population)")
    if not np.all(np.isfinite(e)):
        raise ConfigError("errors must be finite numbers")
    w = np.ones_like(e) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != e.shape or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(
            "weights must be non-negative, finite, one per model, with a positive sum"
        )
    order = np.argsort(e, kind="stable")
    return EDF(e[order], w[order] / w.sum(), weights is not None)


def normalization_weights(
    metrics: Sequence[Sequence[float] | np.ndarray], bins: int = 10, log: bool = True
) -> list[np.ndarray]:
    """Per-model weights giving every population the same complexity distribution (sec. 3.2).

    Complexity (e.g. flops) is binned on log10 over the pooled range; bins that some population
    lacks get weight 0 everywhere, and each shared bin gets total mass 1/(shared bins) in every
    population, split evenly among its models. The weighted histograms are then identical
    (uniform over the shared bins), so complexity no longer confounds the comparison.
    """
    index = complexity_bins(metrics, bins, log)
    counts = np.array([np.bincount(i, minlength=bins) for i in index])
    shared = np.all(counts > 0, axis=0)
    if not shared.any():
        raise ConfigError("the populations share no complexity bin: nothing to compare")
    mass = np.where(shared, 1.0 / shared.sum(), 0.0)
    return [mass[i] / np.maximum(c[i], 1) for i, c in zip(index, counts, strict=True)]


def complexity_bins(
    metrics: Sequence[Sequence[float] | np.ndarray], bins: int = 10, log: bool = True
) -> list[np.ndarray]:
    """Bin index of every model: `bins` equal-width bins of (log10) complexity over the pooled range."""
    values = [np.asarray(m, dtype=float) for m in metrics]
    if any(v.size == 0 for v in values):
        raise ConfigError("complexity normalization needs a non-empty metric for every population")
    if log:
        if any(np.any(v <= 0) for v in values):
            raise ConfigError("log-binned complexity must be positive")
        values = [np.log10(v) for v in values]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=bins)
    return [np.clip(np.searchsorted(edges, v, side="right") - 1, 0, bins - 1) for v in values]


def restricted_edf(
    errors: Sequence[float] | np.ndarray,
    metric: Sequence[float] | np.ndarray,
    lo: float,
    hi: float,
    weights: Sequence[float] | np.ndarray | None = None,
) -> EDF:
    """EDF of the models whose complexity lies in [lo, hi) (sec. 3.2, restricted comparisons)."""
    m = np.asarray(metric, dtype=float)
    keep = (m >= lo) & (m < hi)
    if not keep.any():
        raise ConfigError(f"no model has complexity in [{lo:g}, {hi:g})")
    w = None if weights is None else np.asarray(weights, dtype=float)[keep]
    return edf(np.asarray(errors, dtype=float)[keep], w)


def ks_test(a: EDF, b: EDF) -> KSResult:
    """Two-sided KS test of two EDFs.

    Unweighted EDFs: exactly `scipy.stats.ks_2samp`. Weighted (normalized) EDFs: the statistic is
    sup_e |F_a(e) - F_b(e)| over all pooled errors, and the p-value is the Kolmogorov distribution
    `scipy.stats.kstwo.sf(D, round(n))` with n = n_a*n_b/(n_a + n_b) computed from Kish effective
    sizes -- what ks_2samp(method="asymp") does with the real sizes, so the two agree for
    uniform weights. Below 2 effective models per side the p-value is undefined (NaN).
    """
    if not (a.weighted or b.weighted):
        res = stats.ks_2samp(a.errors, b.errors)
        return KSResult(float(res.statistic), float(res.pvalue), a.n, b.n, "scipy.ks_2samp")
    # Right-continuous CDFs at every pooled jump point; the sup of the step difference is there.
    x = np.concatenate([a.errors, b.errors])
    cdf_a = np.cumsum(a.weights)[np.searchsorted(a.errors, x, side="right") - 1]
    cdf_b = np.cumsum(b.weights)[np.searchsorted(b.errors, x, side="right") - 1]
    cdf_a = np.where(x < a.errors[0], 0.0, cdf_a)
    cdf_b = np.where(x < b.errors[0], 0.0, cdf_b)
    stat = float(np.max(np.abs(cdf_a - cdf_b)))
    n_a, n_b = a.n_eff, b.n_eff
    if min(n_a, n_b) < 2:  # one effective model per side: D is 0 or 1 whatever the spaces
        return KSResult(stat, float("nan"), n_a, n_b, "weighted-kolmogorov")
    en = max(1.0, float(np.round(n_a * n_b / (n_a + n_b))))
    return KSResult(stat, float(stats.kstwo.sf(stat, en)), n_a, n_b, "weighted-kolmogorov")


def ks_permutation_test(
    errors: Sequence[Sequence[float] | np.ndarray],
    metrics: Sequence[Sequence[float] | np.ndarray],
    bins: int = 10,
    n_perm: int = 1000,
    rng: np.random.Generator | int = 0,
    log: bool = True,
) -> KSResult:
    """Complexity-normalized KS test of two populations with a permutation p-value.

    Null hypothesis: within each complexity bin, the errors of the two spaces are exchangeable
    (the null the normalized comparison asks about). The space labels are permuted within each
    shared bin, so every permutation keeps the bin counts and hence the normalization weights;
    the statistic is the weighted sup-distance of `ks_test`. p = (1 + #{D* >= D}) / (1 + n_perm)
    is exact up to Monte Carlo error (standard error sqrt(p(1-p)/n_perm)), whatever the sizes.
    """
    if len(errors) != 2 or len(metrics) != 2:
        raise ConfigError("the permutation test compares exactly two populations")
    if n_perm < 1:
        raise ConfigError(f"permutations must be >= 1, got {n_perm}")
    rng = np.random.default_rng(rng)
    e = [np.asarray(x, dtype=float) for x in errors]
    index = complexity_bins(metrics, bins, log)
    counts = np.array([np.bincount(i, minlength=bins) for i in index])  # (2, bins)
    shared = np.all(counts > 0, axis=0)
    if not shared.any():
        raise ConfigError("the populations share no complexity bin: nothing to compare")
    mass = np.where(shared, 1.0 / shared.sum(), 0.0)
    # Pool the models of shared bins; a model labelled A adds mass/c_A of its bin, B subtracts.
    pooled_bin = np.concatenate(index)
    keep = shared[pooled_bin]
    pooled_bin, pooled_err = pooled_bin[keep], np.concatenate(e)[keep]
    is_a = np.concatenate([np.ones(e[0].size, bool), np.zeros(e[1].size, bool)])[keep]
    order = np.argsort(pooled_err, kind="stable")  # fixed across permutations
    pooled_bin, pooled_err, is_a = pooled_bin[order], pooled_err[order], is_a[order]
    last = np.r_[pooled_err[1:] != pooled_err[:-1], True]  # F is read after the last of ties
    w_a = (mass / np.maximum(counts[0], 1))[pooled_bin]
    w_b = (mass / np.maximum(counts[1], 1))[pooled_bin]

    def stat(labels: np.ndarray) -> np.ndarray:  # (P, N) bool -> (P,)
        diff = np.cumsum(np.where(labels, w_a, -w_b), axis=-1)
        return np.abs(diff[..., last]).max(-1)

    observed = float(stat(is_a[None])[0])
    # Permute within bins: sort by (bin + uniform key); the first c_A of each bin are A.
    start = np.r_[0, np.cumsum(np.bincount(pooled_bin, minlength=bins))[:-1]]
    n = pooled_bin.size
    hits, step = 0, max(1, 2_000_000 // max(n, 1))
    for done in range(0, n_perm, step):
        p = min(step, n_perm - done)
        key = pooled_bin + rng.random((p, n))
        pos = np.argsort(key, axis=1)
        within = np.arange(n) - start[pooled_bin[pos]]
        labels = np.empty((p, n), bool)
        np.put_along_axis(labels, pos, within < counts[0][pooled_bin[pos]], axis=1)
        hits += int(np.sum(stat(labels) >= observed - 1e-12))
    n_a, n_b = (float(1.0 / np.sum(w**2)) for w in (w_a[is_a], w_b[~is_a]))
    pvalue = (1 + hits) / (1 + n_perm)
    return KSResult(observed, pvalue, n_a, n_b, f"permutation ({n_perm} within complexity bins)")


def bootstrap_band(
    curve: EDF,
    x: np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator | int = 0,
) -> Band:
    """Pointwise percentile band of F on x: resample models with replacement (weights kept)."""
    rng = np.random.default_rng(rng)
    if x is None:
        x = np.linspace(curve.errors[0], curve.errors[-1], 200)
    x = np.asarray(x, dtype=float)
    # Model i adds its mass to F(x_k) for every x_k > e_i, i.e. from cell first_i on. Models with
    # the same cell and weight are interchangeable, so resampling n models with replacement is a
    # multinomial draw over those groups (the same distribution, O(groups) instead of O(n)).
    first = np.searchsorted(x, curve.errors, side="right")
    keys, sizes = np.unique(np.stack([first, curve.weights]), axis=1, return_counts=True)
    counts = rng.multinomial(curve.n, sizes / curve.n, size=n_boot)  # (B, groups)
    mass = counts * keys[1]
    total = mass.sum(1, keepdims=True)
    onehot = np.zeros((keys.shape[1], x.size + 1))
    onehot[np.arange(keys.shape[1]), keys[0].astype(int)] = 1.0
    boot = np.cumsum(mass @ onehot, axis=1)[:, : x.size] / np.where(total > 0, total, 1.0)
    tail = (1 - level) / 2 * 100
    lower, upper = np.percentile(boot, [tail, 100 - tail], axis=0)
    return Band(x, lower, upper, level)


def best_of_n(
    curve: EDF,
    ns: Sequence[int] | np.ndarray | None = None,
    percentiles: tuple[float, float] = (5.0, 95.0),
) -> BestOfN:
    """Minimum error of n models drawn with replacement from the (weighted) empirical distribution.

    With sorted errors e_k and tail masses S_k = sum_{i>=k} w_i, P(min >= e_k) = S_k**n, so
    E[min] = sum_k e_k (S_k**n - S_{k+1}**n) and the q-quantile of the min is the first e_k with
    1 - S_{k+1}**n >= q: the expected random-search result as a function of budget n (sec. 3).
    """
    if ns is None:
        ns = np.unique(np.round(np.logspace(0, np.log10(max(curve.n, 2)), 24)).astype(int))
    ns = np.asarray(ns, dtype=int)
    if ns.size == 0 or np.any(ns < 1):
        raise ConfigError("best-of-n needs sample sizes n >= 1")
    tail = np.concatenate([1.0 - np.concatenate([[0.0], np.cumsum(curve.weights)[:-1]]), [0.0]])
    tail = np.clip(tail, 0.0, 1.0)
    powers = tail[None, :] ** ns[:, None]  # (len(ns), n + 1): P(min >= e_k), then 0
    expected = np.sum(curve.errors * (powers[:, :-1] - powers[:, 1:]), axis=1)
    below = 1.0 - powers[:, 1:]  # P(min <= e_k)

    def quantile(q: float) -> np.ndarray:
        k = np.argmax(below >= q / 100 - 1e-12, axis=1)
        return curve.errors[k]

    lower, upper = quantile(percentiles[0]), quantile(percentiles[1])
    return BestOfN(ns, expected, lower, upper, percentiles)
