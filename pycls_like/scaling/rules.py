"""Scaling rules from a trained population: how the best models' shape grows with flops.

Designing Network Design Spaces, sec. 5.1 (RegNet trends): take the best models of each flop
regime and read how depth, width and group width change with flops. Fast and Accurate Model
Scaling, sec. 4: a strategy is the split of a flops increase between depth (e_d), width (2*e_w)
and resolution (2*e_r). `fit_scaling_rules` fits each dimension of the best models as a power law
of flops, bootstraps the whole pick-and-fit procedure for intervals, and turns the exponents
into a strategy string that `scale` accepts.

Columns read (one row per trained model), unless `columns` names them explicitly:
- flops: `flops_col`; error: `error_col` (lower is better).
- depth: `depth`, else the sum of per-stage depths (`ds_1`, `ds_2`, ... or a list-valued `ds`),
  else `d` (RegNet depth), else the length of the list-valued `block_widths` (sweep tables).
- width: `w`, else the largest stage width (`ws_*` or a list-valued `ws`), else the largest of
  `block_widths`: the final stage's width.
- group_width: `g`, else the largest of `gs_*` / `gs`.
- resolution: `resolution`.
A dimension whose columns are absent is left out (weight 0 in the strategy).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pycls_like.errors import ConfigError
from pycls_like.scaling.growth import power_law_fit
from pycls_like.scaling.strategy import strategy_from_exponents

# dimension -> candidate sources, first found wins: (how, name) with how "col" for one column,
# or "sum" / "max" / "count" over per-stage columns (`ds_1`, ...) or a list-valued column.
_SOURCES = {
    "depth": (("col", "depth"), ("sum", "ds"), ("col", "d"), ("count", "block_widths")),
    "width": (("col", "w"), ("max", "ws"), ("max", "block_widths")),
    "group_width": (("col", "g"), ("max", "gs")),
    "resolution": (("col", "resolution"),),
}


@dataclass(frozen=True)
class DimensionFit:
    """`dimension ~ c * flops**exponent` over the best models; [low, high] is the bootstrap CI."""

    dimension: str
    source: str
    exponent: float
    r2: float
    low: float
    high: float


@dataclass(frozen=True, eq=False)  # holds a DataFrame, which has no plain equality
class ScalingRules:
    """Fitted exponents, the strategy they imply, and the best models the fit used."""

    fits: tuple[DimensionFit, ...]
    strategy: str
    selected: pd.DataFrame

    def exponent(self, dimension: str) -> float:
        """The fitted exponent of `dimension`, NaN when the table had no such column."""
        return next((f.exponent for f in self.fits if f.dimension == dimension), float("nan"))

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame([f.__dict__ for f in self.fits])


def _as_list(value: object) -> list:
    """A list-valued cell; CSV files hold lists as JSON text ("[1, 3, 6, 6]"), and a parameter
    shared by all stages (`gs: {shared: true}`) is a single number."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"cannot read {value!r} as a list of stage values") from None
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return [value]
    return []


def _stage_values(table: pd.DataFrame, prefix: str) -> pd.DataFrame | None:
    """Per-stage values as a frame (one column per stage, NaN where a model has fewer stages)."""
    cols = [c for c in table.columns if re.fullmatch(rf"{prefix}[_.]?\d+", str(c))]
    if cols:
        return table[cols].apply(pd.to_numeric, errors="coerce")
    if prefix in table.columns:
        return pd.DataFrame(table[prefix].map(_as_list).tolist(), index=table.index, dtype=float)
    return None


def model_dimensions(
    table: pd.DataFrame, columns: Mapping[str, str] | None = None
) -> dict[str, tuple[str, pd.Series]]:
    """dimension -> (source description, values) for the dimensions the table has."""
    columns = columns or {}
    out = {}
    for dim, sources in _SOURCES.items():
        if dim in columns:
            if columns[dim] not in table.columns:
                raise ConfigError(f"column {columns[dim]!r} not in the table", key=f"columns.{dim}")
            sources = (("col", columns[dim]),)
        for how, name in sources:
            if how == "col" and name in table.columns:
                out[dim] = (name, pd.to_numeric(table[name], errors="coerce"))
                break
            stages = None if how == "col" else _stage_values(table, name)
            if stages is not None:
                out[dim] = (f"{how} of {name}", getattr(stages, how)(axis=1))
                break
    return out


def regime_bins(flops: np.ndarray, n_bins: int) -> np.ndarray:
    """Flop regimes: `n_bins` equal-width bins over log flops (the papers' flop regimes)."""
    log_f = np.log10(flops)
    edges = np.linspace(log_f.min(), log_f.max(), n_bins + 1)
    return np.digitize(log_f, edges[1:-1])


def select_best(bins: np.ndarray, errors: np.ndarray, rows: np.ndarray, top_k: int) -> np.ndarray:
    """Of `rows` (indices, repeats allowed), the `top_k` lowest-error ones in each bin."""
    rows = rows[np.lexsort((errors[rows], bins[rows]))]
    b = bins[rows]
    rank = np.arange(len(rows)) - np.searchsorted(b, b, side="left")
    return rows[rank < top_k]


def _fit(flops: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(values) & (values > 0)
    try:
        fit = power_law_fit(flops[ok], values[ok])
    except ConfigError:
        return float("nan"), float("nan")
    return fit.exponent, fit.r2


def fit_scaling_rules(
    table: pd.DataFrame,
    flops_col: str = "flops",
    error_col: str = "top1_err",
    *,
    n_bins: int = 5,
    top_k: int = 3,
    n_boot: int = 1000,
    ci: float = 0.95,
    columns: Mapping[str, str] | None = None,
    rng: np.random.Generator | None = None,
) -> ScalingRules:
    """Fit depth/width/group width/resolution of the best models against flops as power laws.

    The `top_k` lowest-error models of each of `n_bins` log-flop regimes are fit by least
    squares in log-log space. Intervals: percentile bootstrap over `n_boot` resamples of the
    whole table (re-picking the best models each time, so selection noise counts too);
    `rng` defaults to `np.random.default_rng(0)` for reproducible reports.
    """
    for col in (flops_col, error_col):
        if col not in table.columns:
            raise ConfigError(f"column {col!r} not in the table", key=col)
    if n_bins < 1 or top_k < 1 or n_boot < 0 or not 0 < ci < 1:
        raise ConfigError(
            f"need n_bins, top_k >= 1, n_boot >= 0, 0 < ci < 1; got {n_bins}, {top_k}, {n_boot}, {ci}"
        )
    flops = pd.to_numeric(table[flops_col], errors="coerce").to_numpy(float)
    errors = pd.to_numeric(table[error_col], errors="coerce").to_numpy(float)
    keep = np.isfinite(flops) & (flops > 0) & np.isfinite(errors)
    if keep.sum() < 2:
        raise ConfigError(
            f"need at least 2 rows with positive {flops_col} and a finite {error_col}"
        )
    table, flops, errors = table[keep], flops[keep], errors[keep]
    dims = model_dimensions(table, columns)
    if not dims:
        raise ConfigError(
            "no depth, width, group width or resolution columns (see pycls_like.scaling.rules)"
        )
    values = {dim: v.to_numpy(float) for dim, (_, v) in dims.items()}
    bins = regime_bins(flops, n_bins)
    best = select_best(bins, errors, np.arange(len(flops)), top_k)

    rng = np.random.default_rng(0) if rng is None else rng
    boot = {dim: np.full(n_boot, np.nan) for dim in dims}
    for i in range(n_boot):
        rows = select_best(bins, errors, rng.integers(0, len(flops), len(flops)), top_k)
        for dim, v in values.items():
            boot[dim][i] = _fit(flops[rows], v[rows])[0]

    fits = []
    tail = 100 * (1 - ci) / 2
    for dim, (source, _) in dims.items():
        exponent, r2 = _fit(flops[best], values[dim][best])
        samples = boot[dim][np.isfinite(boot[dim])]
        low, high = np.percentile(samples, [tail, 100 - tail]) if len(samples) else (np.nan,) * 2
        fits.append(DimensionFit(dim, source, exponent, r2, float(low), float(high)))
    e = {f.dimension: f.exponent for f in fits}
    strategy = strategy_from_exponents(
        *(e.get(k, 0.0) for k in ("depth", "width", "resolution", "group_width"))
    )
    selected = table.iloc[best].assign(regime=bins[best])
    return ScalingRules(tuple(fits), strategy, selected)
