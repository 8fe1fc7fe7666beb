"""Growth exponents: how flops, params and activations grow when a model is scaled by s.

Fast and Accurate Model Scaling, sec. 3 (Table 1): under flops scaling by s, acts
grow ~s for depth or resolution scaling and ~sqrt(s) for width scaling, so width-heavy ("fast")
strategies give models that run faster on memory-bound accelerators. Here each strategy is applied
at several factors and `y ~ c * s**e` is fit by least squares in log-log space.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.scaling.scaler import scale
from pycls_like.specs import ModelSpec

METRICS = ("flops", "params", "acts")
STRATEGIES = ("d", "w", "r", "dw", "dwr", "fast")  # the paper's Table 1 set, plus fast


@dataclass(frozen=True)
class PowerLawFit:
    """`y = c * x**exponent`, fit as log y = log c + exponent * log x; r2 in log space."""

    exponent: float
    log_c: float
    r2: float


def power_law_fit(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> PowerLawFit:
    """Least-squares line in log-log space; needs >= 2 distinct positive x values."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ConfigError("a power-law fit needs at least two distinct x values")
    exponent, log_c = np.polyfit(lx, ly, 1)
    residual = ly - (log_c + exponent * lx)
    total = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 1e-12 else 1.0
    return PowerLawFit(float(exponent), float(log_c), r2)


def growth_exponents(
    spec: ModelSpec,
    strategies: Sequence[str] = STRATEGIES,
    factors: Sequence[float] = (4, 16, 64),
) -> pd.DataFrame:
    """One row per strategy: `<metric>_e` (growth exponent) and `<metric>_r2` for flops/params/acts.

    Factors are scaling factors of flops, so `flops_e` ~1 by construction (rounding aside). The
    default 4x-64x spans the paper's regimes (e.g. 400MF -> 1.6GF ... 25.6GF); at s < 4 the stem,
    head and stride-2 blocks, which scaling never copies, still weigh enough to bend the exponents.
    """
    rows = []
    for strategy in strategies:
        counts = [complexity(scale(spec, strategy, s)) for s in factors]
        row: dict[str, object] = {"strategy": strategy}
        for metric in METRICS:
            fit = power_law_fit(factors, [getattr(cx, metric) for cx in counts])
            row[f"{metric}_e"], row[f"{metric}_r2"] = fit.exponent, fit.r2
        rows.append(row)
    return pd.DataFrame(rows)


MEASURED = ("fwd_ms", "train_ms")  # figures of a profile record (`engine.profile`)


def measured_growth(
    spec: ModelSpec,
    strategies: Sequence[str],
    factors: Sequence[float],
    measure: Callable[[ModelSpec], dict],
) -> pd.DataFrame:
    """Like `growth_exponents`, for measured runtime: `measure(scaled_spec)` returns a profile
    record and the median of each MEASURED figure is fit as `c * s**e` (the paper's point: the
    runtime of width-heavy strategies grows slower than that of depth or resolution scaling)."""
    rows = []
    for strategy in strategies:
        records = [measure(scale(spec, strategy, s)) for s in factors]
        row: dict[str, object] = {"strategy": strategy}
        for figure in MEASURED:
            fit = power_law_fit(factors, [r[figure]["median"] for r in records])
            row[f"{figure}_e"], row[f"{figure}_r2"] = fit.exponent, fit.r2
        rows.append(row)
    return pd.DataFrame(rows)
