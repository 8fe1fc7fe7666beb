"""All the numbers of a design-space comparison, from sweep tables only (no plotting, no torch).

`analyze` runs the statistics of On Network Design Spaces for Visual Recognition (EDFs, normalized
EDFs, KS tests, bootstrap bands, best-of-n) and of Designing Network Design Spaces (parameter
trends, bootstrap good ranges, quantized-linear fits) over one or more populations.
"""

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from pycls_like.analysis import edf as E
from pycls_like.analysis.qlinear import QLinearFit, fit_quantized_linear_many
from pycls_like.analysis.table import (
    Population,
    as_numeric,
    parameter_columns,
    parse_block_widths,
    require_columns,
)
from pycls_like.analysis.trends import (
    GOOD_RANGE_MIN_N,
    GoodRange,
    best_shares,
    bootstrap_winners,
    good_range,
    spearman,
)
from pycls_like.errors import ConfigError


@dataclass
class PopulationAnalysis:
    """One population's numbers; `rows` are its complete+diverged runs (plus fit columns)."""

    name: str
    source: str
    rows: pd.DataFrame
    counts: dict[str, int]
    edf: E.EDF
    band: E.Band
    best_of_n: E.BestOfN
    edf_normalized: E.EDF | None = None
    band_normalized: E.Band | None = None
    good_ranges: dict[str, GoodRange] = field(default_factory=dict)
    best_shares: dict[str, dict[str, float]] = field(default_factory=dict)
    spearman: pd.DataFrame | None = None
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    best_fit: QLinearFit | None = None  # quantized-linear fit of the best model with widths

    def best(self, error: str) -> pd.Series:
        return self.rows.loc[self.rows[error].idxmin()]


@dataclass
class Analysis:
    """The comparison: per-population results, pairwise KS tests, and notes for the reader."""

    error: str
    metric: str
    populations: list[PopulationAnalysis]
    params: list[str]
    ks: list[tuple[str, str, E.KSResult]]
    ks_normalized: list[tuple[str, str, E.KSResult]]
    notes: list[str]
    ks_permutation: list[tuple[str, str, E.KSResult]] = field(default_factory=list)

    @property
    def has_fits(self) -> bool:
        return any("e_fit" in p.rows for p in self.populations)

    def to_json(self) -> dict:
        """Plain-JSON summary of every number (written beside the HTML report)."""
        return _clean(
            {
                "error": self.error,
                "metric": self.metric,
                "notes": self.notes,
                "populations": [
                    _population_json(p, self.error, self.metric) for p in self.populations
                ],
                "ks": [_ks_json(a, b, r) for a, b, r in self.ks],
                "ks_normalized": [_ks_json(a, b, r) for a, b, r in self.ks_normalized],
                "ks_permutation": [_ks_json(a, b, r) for a, b, r in self.ks_permutation],
            }
        )


def analyze(
    pops: list[Population],
    error: str = "top1_err",
    metric: str = "flops",
    bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    best_runs: int = 3,
    permutations: int = 0,
) -> Analysis:
    """Compute every statistic of the report; randomness from one explicit seed. `permutations`
    > 0 adds a permutation p-value to each complexity-normalized KS comparison."""
    if not pops:
        raise ConfigError("nothing to analyze: give at least one sweep directory or table")
    notes: list[str] = []
    results = []
    for pop in pops:  # every missing column of every table, before any work
        require_columns(pop, [error, metric])
    for i, (pop, name) in enumerate(zip(pops, _unique_names([p.name for p in pops]), strict=True)):
        rows = pop.rows(error)
        if rows.empty:
            raise ConfigError("empty population: no complete or diverged runs", source=pop.source)
        rows[metric] = _positive(rows, metric, pop.source)
        counts = pop.status_counts()
        ignored = {k: v for k, v in counts.items() if k not in ("complete", "diverged")}
        if ignored:
            listed = ", ".join(f"{v} {k}" for k, v in sorted(ignored.items()))
            notes.append(
                f"{name}: {listed} rows ignored (only complete and diverged runs are analysed)"
            )
        curve = E.edf(rows[error])
        results.append(
            PopulationAnalysis(
                name,
                pop.source,
                _with_fits(rows, pop.source),
                counts,
                curve,
                E.bootstrap_band(curve, n_boot=n_boot, rng=_rng(seed, i, 0)),
                E.best_of_n(curve),
                curves=_best_curves(pop, rows, error, best_runs),
            )
        )
    ks, ks_normalized, ks_permutation = [], [], []
    if len(results) > 1:
        weights = E.normalization_weights([r.rows[metric] for r in results], bins=bins)
        for i, (r, w) in enumerate(zip(results, weights, strict=True)):
            r.edf_normalized = E.edf(r.rows[error], w)
            r.band_normalized = E.bootstrap_band(
                r.edf_normalized, n_boot=n_boot, rng=_rng(seed, i, 1)
            )
        for a, b in combinations(results, 2):
            ks.append((a.name, b.name, E.ks_test(a.edf, b.edf)))
            ks_normalized.append((a.name, b.name, E.ks_test(a.edf_normalized, b.edf_normalized)))
            if permutations:
                ks_permutation.append(
                    (
                        a.name,
                        b.name,
                        E.ks_permutation_test(
                            [a.rows[error], b.rows[error]],
                            [a.rows[metric], b.rows[metric]],
                            bins,
                            permutations,
                            _rng(seed, 3, results.index(a), results.index(b)),
                        ),
                    )
                )
    else:
        notes.append("single population: no KS comparison and no complexity normalization")
    params = _params([pop.table for pop in pops])  # before the fit_* columns were added
    for i, r in enumerate(results):
        numeric = []
        # One bootstrap of the best model per population, read for every parameter.
        enough = len(r.rows) >= GOOD_RANGE_MIN_N
        winners = bootstrap_winners(r.rows[error].to_numpy(float), rng=_rng(seed, i, 2))
        if not enough and params:
            notes.append(
                f"{r.name}: no good ranges at n = {len(r.rows)} (they need >= {GOOD_RANGE_MIN_N} "
                "runs: each bootstrap sample holds 25% of the models)"
            )
        for p in params:
            if p not in r.rows or r.rows[p].nunique(dropna=True) < 2:
                continue
            values = as_numeric(r.rows[p])
            if values is None:
                if enough:
                    r.best_shares[p] = best_shares(r.rows[p], r.rows[error], winners=winners)
            else:
                numeric.append(p)
                if enough and values.notna().all():
                    r.good_ranges[p] = good_range(values, r.rows[error], winners=winners)
        r.spearman = spearman(
            r.rows.assign(**{p: as_numeric(r.rows[p]) for p in numeric}), numeric, error
        )
    if not any("e_fit" in r.rows for r in results):
        notes.append("no block_widths in the tables: no quantized-linear fits")
    if not any(r.curves for r in results):
        notes.append("no runs/<id>/metrics.jsonl found: no training curves")
    for r in results:
        r.best_fit = _best_fit(r.rows, error)
    return Analysis(error, metric, results, params, ks, ks_normalized, notes, ks_permutation)


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent, reproducible stream per (population, task, parameter) from one seed."""
    return np.random.default_rng([seed, *key])


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _positive(rows: pd.DataFrame, metric: str, source: str) -> pd.Series:
    if metric not in rows:
        raise ConfigError(f"missing column {metric!r} (the complexity metric)", source=source)
    values = as_numeric(rows[metric])
    if values is None or values.isna().any() or (values <= 0).any():
        raise ConfigError(
            f"column {metric!r} must hold positive numbers", key=metric, source=source
        )
    return values


def _params(tables: list[pd.DataFrame]) -> list[str]:
    """Sampled parameters of any population, in order of first appearance."""
    out: list[str] = []
    for t in tables:
        out += [p for p in parameter_columns(t) if p not in out]
    return out


def _with_fits(rows: pd.DataFrame, source: str) -> pd.DataFrame:
    """The e_fit of every row with block widths: as stored at collect time, fitted where absent
    (only those rows' widths are parsed: 20,000 JSON cells cost more than the rest of analyze)."""
    if "block_widths" not in rows:
        return rows
    has = rows["block_widths"].map(_non_empty).to_numpy(bool)
    if not has.any():
        return rows
    stored = (
        pd.to_numeric(rows["e_fit"], errors="coerce").to_numpy(float)
        if "e_fit" in rows
        else np.full(len(rows), np.nan)
    )
    todo = np.flatnonzero(has & ~np.isfinite(stored))
    widths = [
        parse_block_widths(rows["block_widths"].iat[k], rows["id"].iat[k], source) for k in todo
    ]
    keep = [k for k, w in zip(todo, widths, strict=True) if w]
    if keep:
        fits = fit_quantized_linear_many([w for w in widths if w])
        stored[keep] = [f.e_fit for f in fits]
    rows = rows.copy()
    rows["e_fit"] = np.where(has, stored, np.nan)
    return rows


def _non_empty(cell: object) -> bool:
    if isinstance(cell, str):
        return cell.strip() not in ("", "[]")
    return isinstance(cell, list) and bool(cell)


def _best_fit(rows: pd.DataFrame, error: str) -> QLinearFit | None:
    """The full fit (w0, wa, wm) of the best model that has block widths."""
    if "e_fit" not in rows or rows["e_fit"].isna().all():
        return None
    best = rows.loc[rows.dropna(subset=["e_fit"])[error].idxmin()]
    widths = parse_block_widths(best["block_widths"], best["id"])
    return fit_quantized_linear_many([widths])[0] if widths else None


def _best_curves(
    pop: Population, rows: pd.DataFrame, error: str, k: int
) -> dict[str, pd.DataFrame]:
    """Per-epoch metrics of the k best complete runs that have a metrics.jsonl."""
    out = {}
    for run_id in rows[rows["status"] == "complete"].nsmallest(k, error)["id"]:
        frame = pop.curves(run_id)
        if frame is not None and "epoch" in frame:
            out[str(run_id)] = frame
    return out


def _population_json(p: PopulationAnalysis, error: str, metric: str) -> dict:
    best = p.best(error)
    out = {
        "name": p.name,
        "source": p.source,
        "counts": p.counts,
        "n": int(len(p.rows)),
        "min_error": float(p.rows[error].min()),
        "median_error": float(p.rows[error].median()),
        "best": {
            "id": str(best["id"]),
            error: float(best[error]),
            **{c: best[c] for c in ("flops", "params", metric) if c in best},
        },
        "best_of_n": {
            "n": p.best_of_n.n.tolist(),
            "expected": p.best_of_n.expected.tolist(),
            "lower": p.best_of_n.lower.tolist(),
            "upper": p.best_of_n.upper.tolist(),
            "percentiles": list(p.best_of_n.percentiles),
        },
        "good_ranges": {k: vars(v) for k, v in p.good_ranges.items()},
        "best_shares": p.best_shares,
        "spearman": {}
        if p.spearman is None
        else {
            r.param: {"rho": r.rho, "pvalue": r.pvalue, "n": r.n} for r in p.spearman.itertuples()
        },
        "training_curves": sorted(p.curves),
    }
    if p.edf_normalized is not None:
        out["n_eff_normalized"] = p.edf_normalized.n_eff
    if "e_fit" in p.rows:
        fitted = p.rows.dropna(subset=["e_fit"])
        out["qlinear"] = {
            "n": int(len(fitted)),
            "exact_fraction": float((fitted["e_fit"] == 0).mean()),
            "median_e_fit": float(fitted["e_fit"].median()),
        }
    return out


def _ks_json(a: str, b: str, r: E.KSResult) -> dict:
    return {"a": a, "b": b, **vars(r)}


def _clean(value):
    """numpy scalars -> Python, NaN/inf -> None: strict JSON."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
