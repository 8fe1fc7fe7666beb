"""Error trends over one parameter at a time (Designing Network Design Spaces, sec. 3.1-3.2):
binned medians, the empirical-bootstrap range where the best models lie, and rank correlations.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pycls_like.errors import ConfigError

_CHUNK = 4_000_000  # bootstrap indices held at once


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


def _bootstrap_winners(
    errors: np.ndarray, n_boot: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Index of the best model in each of n_boot resamples of fraction*n models (with replacement)."""
    n = errors.size
    k = max(1, int(round(fraction * n)))
    winners = np.empty(n_boot, dtype=int)
    step = max(1, _CHUNK // k)
    for start in range(0, n_boot, step):
        idx = rng.integers(0, n, size=(min(step, n_boot - start), k))
        winners[start : start + idx.shape[0]] = idx[np.arange(idx.shape[0]), errors[idx].argmin(1)]
    return winners


def good_range(
    values: Sequence[float] | np.ndarray,
    errors: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    fraction: float = 0.25,
    percentiles: tuple[float, float, float] = (2.5, 50.0, 97.5),
    rng: np.random.Generator | int = 0,
) -> GoodRange:
    """Empirical bootstrap of sec. 3.1: resample 25% of the models with replacement, keep the best
    model's value, repeat 10^4 times; the percentiles give the range where the best models lie."""
    v, e = np.asarray(values, dtype=float), np.asarray(errors, dtype=float)
    keep = np.isfinite(v) & np.isfinite(e)
    if not keep.any():
        raise ConfigError("good range of an empty population")
    v, e = v[keep], e[keep]
    winners = _bootstrap_winners(e, n_boot, fraction, np.random.default_rng(rng))
    lo, mid, hi = np.percentile(v[winners], percentiles)
    return GoodRange(float(lo), float(mid), float(hi), n_boot, fraction)


def best_shares(
    categories: Sequence[object] | pd.Series,
    errors: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    fraction: float = 0.25,
    rng: np.random.Generator | int = 0,
) -> dict[str, float]:
    """For a categorical parameter: how often each category holds the bootstrap's best model."""
    c = np.asarray(pd.Series(categories).astype(str))
    e = np.asarray(errors, dtype=float)
    if c.size == 0:
        raise ConfigError("best shares of an empty population")
    winners = c[_bootstrap_winners(e, n_boot, fraction, np.random.default_rng(rng))]
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
