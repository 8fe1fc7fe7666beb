"""Error trends over one parameter at a time (Designing Network Design Spaces, sec. 3.1-3.2):
binned medians, the empirical-bootstrap range where the best models lie, and rank correlations.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pycls_like.errors import ConfigError

# A good range resamples 25% of the models: below 40 runs a resample holds under 10 models and
# its best is one of the same few runs every time, so the "range" only restates those runs.
GOOD_RANGE_MIN_N = 40
MODELS_PER_TREND_BIN = 10  # a binned median of fewer models zigzags with the noise


def trend_bins(n: int) -> int:
    """Bins for a binned-median trend line over n models: about 10 models per bin, 3 to 10 bins;
    0 (no line) below 30 models."""
    bins = min(10, n // MODELS_PER_TREND_BIN)
    return bins if bins >= 3 else 0


@dataclass(frozen=True)
class GoodRange:
    """Percentiles (default 2.5/50/97.5) of the best model's parameter value under bootstrap."""

    lo: float
    mid: float
    hi: float
    n_boot: int
    fraction: float


def log_scale(values: Sequence[float] | np.ndarray) -> bool:
    """Log axis for positive values spanning over a decade that are more symmetric in log space
    (flops, lr drawn log-uniformly), linear otherwise (e.g. a uniform draw from [0, 10])."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 3 or v.min() <= 0 or v.max() / v.min() <= 10:
        return False
    return bool(abs(stats.skew(np.log(v))) < abs(stats.skew(v)))


def binned_median(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    bins: int = 8,
    log: bool | None = None,
) -> pd.DataFrame:
    """Median and quartiles of y per bin of x (log-spaced bins when x spans decades); empty bins dropped."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size == 0:
        raise ConfigError("binned median of an empty population")
    log = log_scale(x) if log is None else log
    t = np.log10(x) if log else x
    edges = np.histogram_bin_edges(t, bins=bins)
    index = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    frame = pd.DataFrame({"bin": index, "y": y})
    out = frame.groupby("bin")["y"].agg(
        median="median", q25=lambda v: v.quantile(0.25), q75=lambda v: v.quantile(0.75), n="size"
    )
    lo, hi = edges[out.index], edges[out.index + 1]
    out.insert(0, "center", 10 ** ((lo + hi) / 2) if log else (lo + hi) / 2)
    out.insert(0, "hi", 10**hi if log else hi)
    out.insert(0, "lo", 10**lo if log else lo)
    return out.reset_index(drop=True)


def bootstrap_winners(
    errors: np.ndarray,
    n_boot: int = 10_000,
    fraction: float = 0.25,
    rng: np.random.Generator | int = 0,
) -> np.ndarray:
    """Index of the best model in each of n_boot resamples of k = fraction*n models drawn with
    replacement. Drawn in closed form, O(n_boot) instead of O(n_boot * k): the smallest of k
    uniform ranks r satisfies P(min >= r) = (1 - r/n)^k, so min = floor(n * (1 - U^(1/k))).
    Ties in error go to a uniformly chosen one of the tied models, as resampling would."""
    e = np.asarray(errors, dtype=float)
    rng = np.random.default_rng(rng)
    n = e.size
    k = max(1, int(round(fraction * n)))
    rank = np.minimum(np.floor(n * (1 - rng.random(n_boot) ** (1 / k))).astype(int), n - 1)
    order = np.lexsort((rng.random(n), e))  # sorted by error, ties in random order
    return order[rank]


def good_range(
    values: Sequence[float] | np.ndarray,
    errors: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    fraction: float = 0.25,
    percentiles: tuple[float, float, float] = (2.5, 50.0, 97.5),
    rng: np.random.Generator | int = 0,
    winners: np.ndarray | None = None,
) -> GoodRange:
    """Empirical bootstrap of sec. 3.1: resample 25% of the models with replacement, keep the best
    model's value, repeat 10^4 times; the percentiles give the range where the best models lie.
    `winners` (from `bootstrap_winners` on the same rows) shares one bootstrap across parameters."""
    v, e = np.asarray(values, dtype=float), np.asarray(errors, dtype=float)
    if winners is not None and np.all(np.isfinite(v)) and np.all(np.isfinite(e)):
        lo, mid, hi = np.percentile(v[winners], percentiles)
        return GoodRange(float(lo), float(mid), float(hi), winners.size, fraction)
    keep = np.isfinite(v) & np.isfinite(e)
    if not keep.any():
        raise ConfigError("good range of an empty population")
    v, e = v[keep], e[keep]
    winners = bootstrap_winners(e, n_boot, fraction, rng)
    lo, mid, hi = np.percentile(v[winners], percentiles)
    return GoodRange(float(lo), float(mid), float(hi), n_boot, fraction)


def best_shares(
    categories: Sequence[object] | pd.Series,
    errors: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    fraction: float = 0.25,
    rng: np.random.Generator | int = 0,
    winners: np.ndarray | None = None,
) -> dict[str, float]:
    """For a categorical parameter: how often each category holds the bootstrap's best model."""
    c = np.asarray(pd.Series(categories).astype(str))
    e = np.asarray(errors, dtype=float)
    if c.size == 0:
        raise ConfigError("best shares of an empty population")
    if winners is None:
        winners = bootstrap_winners(e, n_boot, fraction, rng)
    n_boot = winners.size
    winners = c[winners]
    names, counts = np.unique(winners, return_counts=True)
    return {
        str(k): float(v) / n_boot
        for k, v in sorted(zip(names, counts, strict=True), key=lambda t: -t[1])
    }


def spearman(table: pd.DataFrame, params: Sequence[str], error: str = "top1_err") -> pd.DataFrame:
    """Spearman rank correlation (scipy) of each numeric, non-constant parameter with the error."""
    rows = []
    for p in params:
        pair = table[[p, error]].apply(pd.to_numeric, errors="coerce").dropna()
        if len(pair) < 3 or pair[p].nunique() < 2 or pair[error].nunique() < 2:
            continue
        res = stats.spearmanr(pair[p], pair[error])
        rows.append(
            {"param": p, "rho": float(res.statistic), "pvalue": float(res.pvalue), "n": len(pair)}
        )
    return pd.DataFrame(rows, columns=["param", "rho", "pvalue", "n"])
