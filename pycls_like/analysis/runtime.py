"""What predicts runtime: measured time and memory fit against flops, params and acts.

Fast and Accurate Model Scaling (sec. 3, Fig. 2) observes that on GPUs a network's runtime follows
its activations more closely than its flops. Here every measured figure y of a population (the
`profile` columns of a sweep table) is fit as `log y = log c + e * log x` for x in flops, params
and acts: the exponent e and the R^2 of that line say how well each count predicts it. Intervals
are percentile bootstraps over models; all three counts are fit on the same resamples, so the
R^2 difference between two counts has its own interval (`r2_differences`).

Figures measured under different settings (device, device name, dtype, batch size, threads) are
never fit together: each setting is its own population. Pure `table -> numbers`; no torch.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pycls_like.results import COMPLEXITY_COLUMNS, PROFILE_SETTING_COLUMNS, TIMED_FIGURES
from pycls_like.scaling.growth import power_law_fit

# Measured figures, in the order tables list them (CPU time exists for CPU profiles only).
FIGURES = {
    "fwd_ms": "forward time (inference), ms",
    "train_ms": "training step time (fwd+bwd+SGD), ms",
    "fwd_cpu_ms": "forward CPU time, ms",
    "train_cpu_ms": "training step CPU time, ms",
    "fwd_mem_mb": "forward peak memory, MiB",
    "train_mem_mb": "training step peak memory, MiB",
}
MIN_MODELS = 5  # below this a line through log-log points says little; the fit is skipped


@dataclass(frozen=True)
class Bootstrap:
    """Per measure: (n_boot,) exponents and R^2 over the same resamples of the models."""

    exponents: dict[str, np.ndarray]
    r2: dict[str, np.ndarray]


def has_profile(table: pd.DataFrame) -> bool:
    """True when some row of the table carries measured figures."""
    return "fwd_ms" in table and pd.to_numeric(table["fwd_ms"], errors="coerce").notna().any()


def setting_label(key: tuple) -> str:
    device, name, dtype, batch, threads = key
    return f"{device} ({name}) {dtype} batch {batch}, {threads} thread(s)"


def by_setting(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The profiled rows split by measurement setting: one population per setting."""
    rows = table[pd.to_numeric(table["fwd_ms"], errors="coerce").notna()].reset_index(drop=True)
    cols = [c for c in PROFILE_SETTING_COLUMNS if c in rows]
    if len(cols) < len(PROFILE_SETTING_COLUMNS):
        missing = sorted(set(PROFILE_SETTING_COLUMNS) - set(cols))
        raise ValueError(f"profiled rows without their setting columns ({', '.join(missing)})")
    keyed = rows[cols].astype(str)
    return {
        setting_label(key): rows.loc[group.index]
        for key, group in keyed.groupby(cols, sort=True, dropna=False)
    }


def _loglog(frame: pd.DataFrame, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(float)
    ys = pd.to_numeric(frame[y], errors="coerce").to_numpy(float)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    return np.log(xs[keep]), np.log(ys[keep])


def _line_stats(lx: np.ndarray, ly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and R^2 of least-squares lines, row-wise over (boot, n) arrays."""
    dx = lx - lx.mean(axis=1, keepdims=True)
    dy = ly - ly.mean(axis=1, keepdims=True)
    sxx, syy, sxy = (dx * dx).sum(1), (dy * dy).sum(1), (dx * dy).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sxy / sxx, sxy**2 / (sxx * syy)  # a resample with one distinct x gives nan


def bootstrap(frame: pd.DataFrame, figure: str, n_boot: int, seed: int) -> Bootstrap | None:
    """Exponents and R^2 of `figure` against every count, on shared resamples; None if too few."""
    rows = frame[[*COMPLEXITY_COLUMNS, figure]].apply(pd.to_numeric, errors="coerce")
    rows = rows[(rows > 0).all(axis=1)].dropna()
    if len(rows) < MIN_MODELS:
        return None
    idx = np.random.default_rng(seed).integers(0, len(rows), (n_boot, len(rows)))
    ly = np.log(rows[figure].to_numpy(float))[idx]
    exps, r2s = {}, {}
    for measure in COMPLEXITY_COLUMNS:
        lx = np.log(rows[measure].to_numpy(float))[idx]
        exps[measure], r2s[measure] = _line_stats(lx, ly)
    return Bootstrap(exps, r2s)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.nanpercentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _bootstrapped(table: pd.DataFrame, n_boot: int, seed: int) -> Iterator[tuple]:
    """(setting, frame, figure, bootstrap) for each setting's measured figures with enough models."""
    if not has_profile(table):
        return
    for setting, frame in by_setting(table).items():
        for figure in (f for f in FIGURES if f in frame):
            boot = bootstrap(frame, figure, n_boot, seed)
            if boot is not None:
                yield setting, frame, figure, boot


def runtime_fits(
    table: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """One row per (setting, figure, count): n, exponent and R^2 with bootstrap intervals."""
    rows = []
    for setting, frame, figure, boot in _bootstrapped(table, n_boot, seed):
        for measure in COMPLEXITY_COLUMNS:
            lx, ly = _loglog(frame, measure, figure)
            fit = power_law_fit(np.exp(lx), np.exp(ly))
            e_lo, e_hi = _interval(boot.exponents[measure], level)
            r_lo, r_hi = _interval(boot.r2[measure], level)
            rows.append(
                {
                    "setting": setting,
                    "figure": figure,
                    "measure": measure,
                    "n": len(lx),
                    "exponent": fit.exponent,
                    "exponent_lo": e_lo,
                    "exponent_hi": e_hi,
                    "r2": fit.r2,
                    "r2_lo": r_lo,
                    "r2_hi": r_hi,
                }
            )
    return pd.DataFrame(rows)


def r2_differences(
    table: pd.DataFrame,
    a: str = "acts",
    b: str = "flops",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per (setting, figure): R^2(a) - R^2(b) with a paired bootstrap interval; an interval
    that excludes 0 says which count predicts the figure better in this population."""
    rows = []
    for setting, frame, figure, boot in _bootstrapped(table, n_boot, seed):
        point = {}
        for measure in (a, b):
            lx, ly = _loglog(frame, measure, figure)
            point[measure] = power_law_fit(np.exp(lx), np.exp(ly)).r2
        lo, hi = _interval(boot.r2[a] - boot.r2[b], level)
        diff = point[a] - point[b]
        rows.append({"setting": setting, "figure": figure, "difference": diff, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def timing_noise(table: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, timed figure): the median and max over models of IQR / median (the repeat
    spread of one model's timings), so every fit comes with the machine's noise. Wall and CPU
    time alike: on a shared CPU the wall clock's spread is mostly the other jobs'."""

    def rel_iqr(frame: pd.DataFrame, figure: str) -> pd.Series | None:
        cols = [figure, f"{figure}_q1", f"{figure}_q3"]
        if not all(c in frame for c in cols):
            return None
        med, q1, q3 = (pd.to_numeric(frame[c], errors="coerce") for c in cols)
        return ((q3 - q1) / med).dropna()

    return _over_models(table, TIMED_FIGURES, rel_iqr, "rel_iqr")


def wall_over_cpu(table: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, timed figure) of CPU profiles: the median and max over models of wall time /
    CPU time. With one thread a ratio above 1 is time spent waiting for a core (a loaded
    machine): the wall-clock fits then measure the load, and the CPU-time fits are the ones to read."""

    def ratio(frame: pd.DataFrame, figure: str) -> pd.Series | None:
        cpu = figure.replace("_ms", "_cpu_ms")
        if cpu not in frame:
            return None
        wall = pd.to_numeric(frame[figure], errors="coerce")
        r = wall / pd.to_numeric(frame[cpu], errors="coerce")
        return r[np.isfinite(r) & (r > 0)]

    return _over_models(table, ("fwd_ms", "train_ms"), ratio, "ratio")


def _over_models(
    table: pd.DataFrame,
    figures: Sequence[str],
    per_model: Callable[[pd.DataFrame, str], "pd.Series | None"],
    name: str,
) -> pd.DataFrame:
    """Rows (setting, figure, n, median_<name>, max_<name>) of `per_model`'s values over the
    models of each setting; figures a setting lacks are left out."""
    rows = []
    if not has_profile(table):
        return pd.DataFrame(rows)
    for setting, frame in by_setting(table).items():
        for figure in figures:
            values = per_model(frame, figure)
            if values is None or values.empty:
                continue
            rows.append(
                {
                    "setting": setting,
                    "figure": figure,
                    "n": len(values),
                    f"median_{name}": float(values.median()),
                    f"max_{name}": float(values.max()),
                }
            )
    return pd.DataFrame(rows)


def format_fits(fits: pd.DataFrame) -> str:
    """The fits as a text table: one line per (setting, figure), R^2 and exponent per count."""
    if fits.empty:
        return f"no profiled population of at least {MIN_MODELS} models per setting"
    lines = []
    for setting, group in fits.groupby("setting", sort=False):
        n = int(group["n"].max())
        lines += [
            f"what predicts runtime: {setting}, {n} models; log-log fits y ~ c * x^e, "
            "R^2 [95% bootstrap] and e",
            f"  {'figure':<14}" + "".join(f"{m:<34}" for m in COMPLEXITY_COLUMNS).rstrip(),
        ]
        for figure, rows in group.groupby("figure", sort=False):
            cells = ""
            for measure in COMPLEXITY_COLUMNS:
                r = rows[rows["measure"] == measure].iloc[0]
                cells += f"R2 {r.r2:.2f} [{r.r2_lo:.2f},{r.r2_hi:.2f}] e {r.exponent:.2f}".ljust(34)
            lines.append(f"  {figure:<14}{cells}".rstrip())
    return "\n".join(lines)
