"""Groups inside one sweep: stability of error over training settings, per group.

Early Convolutions Help Transformers See Better (Xiao et al. 2021, sec. 4) compares ViTP and ViTC
by how much their error depends on the optimizer, lr, wd and schedule: the EDF of error over
sampled training settings per model, the spread of those errors, and the fraction of settings
that land within x points of the model's best. Here a sweep's rows are split by the values of
one or more columns (`--by stem_type,optimizer`); the first column is the one compared, the others
(if any) are strata within which its levels are compared with `verdict` (the project's
mean-permutation test of the mean error, Holm-adjusted when a stratum has more than two levels)
and, for the spread itself, the Brown-Forsythe test (Levene's test about the median: robust to
the long tails that failing settings give).

Paired studies: a space with `cross` trains every sampled setting at each level (both stems on
the same optimizer, lr, wd and schedule) and numbers the settings in a `setting` column. When two
levels' runs share settings, they are compared on those settings: the Wilcoxon signed-rank test of
the per-setting error difference (the effect: its Hodges-Lehmann estimate, the median of the Walsh
averages), and for the spread the same test on the per-setting difference of absolute deviations
from each level's median (a paired Brown-Forsythe). Pairing removes the variation between
settings, which dominates a population over training settings: far fewer settings separate a
real difference than with independent draws. Runs without a partner are left out of the test.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pycls_like.analysis.table import DIVERGED_ERROR
from pycls_like.analysis.verdict import ALPHA, verdict
from pycls_like.design.population import SETTING
from pycls_like.errors import ConfigError

WITHIN = (1.0, 2.0, 5.0)  # points of top-1 error above a group's best (the paper's "within x%")
PAIRED_TEST = "wilcoxon-paired"  # Comparison.test of runs matched by setting
OPTIM_PREFIX = "optim."  # sampled optimizer settings are columns `optim.lr`, `optim.optimizer`, ...


def resolve_column(table: pd.DataFrame, name: str, source: str | None = None) -> str:
    """The table column for `name`: itself, else `optim.NAME` (`--by optimizer` works)."""
    for candidate in (name, OPTIM_PREFIX + name):
        if candidate in table.columns:
            return candidate
    have = ", ".join(c for c in table.columns if c not in ("id", "status"))[:300]
    raise ConfigError(
        f"no column {name!r} to group by (columns: {have})", key="--by", source=source
    )


def group_label(column: str) -> str:
    """`optim.optimizer` -> `optimizer`: the short name in tables and figures."""
    return column.removeprefix(OPTIM_PREFIX)


@dataclass(frozen=True)
class GroupStats:
    """Stability measures of one group's errors (one error per sampled training setting)."""

    key: tuple[str, ...]  # the group's value of each --by column
    n: int
    diverged: int
    best: float
    median: float
    mean: float
    std: float
    iqr: float
    within: dict[str, float]  # "x" -> fraction of settings within x points of the best

    @property
    def name(self) -> str:
        return " / ".join(self.key)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self), "key": list(self.key)}


def stability(
    key: Sequence[str], errors: np.ndarray, within: Sequence[float] = WITHIN
) -> GroupStats:
    """Best, spread (std, IQR) and the fraction within x points of the best, of one group."""
    e = np.asarray(errors, dtype=float)
    if e.size == 0:
        raise ConfigError(f"group {' / '.join(key)} has no finished runs")
    q1, q3 = np.percentile(e, [25, 75])
    best = float(e.min())
    return GroupStats(
        tuple(key),
        int(e.size),
        int(np.sum(e >= DIVERGED_ERROR)),
        best,
        float(np.median(e)),
        float(e.mean()),
        float(e.std(ddof=1)) if e.size > 1 else 0.0,
        float(q3 - q1),
        {f"{x:g}": float(np.mean(e <= best + x)) for x in within},
    )


@dataclass(frozen=True)
class Comparison:
    """The levels of the compared column within one stratum, tested pairwise."""

    stratum: tuple[str, ...]  # values of the other --by columns ( () when there are none)
    a: str
    b: str
    n_a: int
    n_b: int
    p_value: float | None
    p_adjusted: float | None  # Holm over the stratum's pairs
    significant: bool
    better: str | None
    sentence: str
    spread_p: float | None  # Brown-Forsythe: equal spread of the two levels' errors
    test: str = "mean-permutation"  # or PAIRED_TEST (runs matched by setting)
    n_pairs: int | None = None  # settings both levels finished (paired tests only)
    effect: float | None = None  # b - a: mean difference, or Hodges-Lehmann (paired)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "stratum": list(self.stratum)}


@dataclass(frozen=True)
class Grouped:
    """Every group of a sweep's finished rows, their stability and the comparisons."""

    by: tuple[str, ...]  # resolved column names
    error: str
    groups: dict[tuple[str, ...], np.ndarray]  # key -> errors
    stats: list[GroupStats]
    comparisons: list[Comparison]
    alpha: float = ALPHA
    counts: dict[str, int] = field(default_factory=dict)  # statuses of the rows as read

    def to_json(self) -> dict[str, Any]:
        return {
            "by": [group_label(c) for c in self.by],
            "error": self.error,
            "alpha": self.alpha,
            "within_points": list(WITHIN),
            "status_counts": self.counts,
            "groups": [s.to_json() for s in self.stats],
            "comparisons": [c.to_json() for c in self.comparisons],
        }


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    scaled = p[order] * (p.size - np.arange(p.size))
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def _compare(
    stratum: tuple[str, ...],
    levels: dict[str, np.ndarray],
    settings: dict[str, np.ndarray | None],
    seed: int,
) -> list[Comparison]:
    pairs = list(combinations(sorted(levels), 2))
    tests = []
    for a, b in pairs:
        matched = _matched(levels[a], levels[b], settings[a], settings[b])
        tests.append(_paired(a, b, *matched) if matched else _unpaired(a, b, levels, seed))
    raw = [t["p"] if t["p"] is not None else 1.0 for t in tests]
    adjusted = holm(raw) if pairs else np.array([])
    out = []
    for (a, b), t, p_adj in zip(pairs, tests, adjusted, strict=True):
        significant = t["p"] is not None and p_adj < ALPHA and t["effect"] not in (None, 0)
        better = (a if t["effect"] > 0 else b) if significant else None
        sentence = (
            t["sentence"] if len(pairs) == 1 else f"{t['sentence']}; Holm-adjusted p = {p_adj:.2g}"
        )
        out.append(
            Comparison(
                stratum, a, b, int(levels[a].size), int(levels[b].size), t["p"],
                float(p_adj) if t["p"] is not None else None, bool(significant), better, sentence,
                t["spread_p"], t["test"], t.get("n_pairs"), t["effect"],
            )
        )  # fmt: skip
    return out


def _unpaired(a: str, b: str, levels: dict[str, np.ndarray], seed: int) -> dict[str, Any]:
    """`verdict`'s mean-permutation test and Brown-Forsythe's spread test (independent draws)."""
    r = verdict({a: levels[a], b: levels[b]}, seed=seed, power=False)
    effect = None if r.effect is None else -float(r.effect)  # verdict: mean(a) - mean(b)
    spread = _spread_p(levels[a], levels[b])
    return {"test": "mean-permutation", "p": r.p_value, "effect": effect, "spread_p": spread,
            "sentence": r.sentence}  # fmt: skip


def _matched(
    ea: np.ndarray, eb: np.ndarray, sa: np.ndarray | None, sb: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The two levels' errors on the settings both finished, in setting order; None when the
    runs are not paired (no setting column, no shared setting, or a setting twice in a level)."""
    if sa is None or sb is None or len(set(sa)) < sa.size or len(set(sb)) < sb.size:
        return None
    common = np.intersect1d(sa, sb)
    if common.size == 0:
        return None
    ia, ib = np.argsort(sa), np.argsort(sb)
    pick_a = ia[np.searchsorted(sa[ia], common)]
    pick_b = ib[np.searchsorted(sb[ib], common)]
    return ea[pick_a], eb[pick_b]


def hodges_lehmann(d: np.ndarray) -> float:
    """Median of the Walsh averages (d_i + d_j) / 2, i <= j: the signed-rank test's estimate of
    the median paired difference."""
    i, j = np.triu_indices(d.size)
    return float(np.median((d[i] + d[j]) / 2))


def _signed_rank_p(d: np.ndarray) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value (zero differences dropped); None when every
    difference is zero."""
    if not np.any(d != 0):
        return None
    return float(stats.wilcoxon(d, zero_method="wilcox").pvalue)


def _paired(a: str, b: str, ea: np.ndarray, eb: np.ndarray) -> dict[str, Any]:
    """Wilcoxon signed-rank tests of b - a on matched settings: error, then spread."""
    d = eb - ea
    p = _signed_rank_p(d)
    effect = hodges_lehmann(d)
    spread = _signed_rank_p(np.abs(eb - np.median(eb)) - np.abs(ea - np.median(ea)))
    n = int(d.size)
    if p is None:
        sentence = f"no verdict: {a} and {b} have equal errors on all {n} shared settings"
    elif p < ALPHA and effect != 0:
        lo, hi = (a, b) if effect > 0 else (b, a)
        sentence = (
            f"{lo} has lower error than {hi} on the same settings: median paired difference "
            f"{abs(effect):.2f} points over {n} settings (Wilcoxon signed-rank p = {p:.2g})"
        )
    else:
        sentence = (
            f"no significant difference between {a} and {b} over {n} paired settings (median "
            f"paired difference {b} - {a} = {effect:+.2f} points, Wilcoxon signed-rank p = {p:.2g})"
        )
    return {"test": PAIRED_TEST, "p": p, "effect": effect, "spread_p": spread,
            "sentence": sentence, "n_pairs": n}  # fmt: skip


def _spread_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Brown-Forsythe p-value; None below 2 runs a side, or when the absolute deviations from
    the median are constant within both sides (the statistic divides by their spread)."""
    deviations = [np.abs(x - np.median(x)) for x in (a, b)]
    if min(a.size, b.size) < 2 or all(np.ptp(d) == 0 for d in deviations):
        return None
    return float(stats.levene(a, b, center="median").pvalue)


def group_rows(
    rows: pd.DataFrame, by: Sequence[str], error: str = "top1_err", seed: int = 0,
    source: str | None = None, counts: dict[str, int] | None = None,
) -> Grouped:  # fmt: skip
    """Split finished rows (`Population.rows`) by the `by` columns and measure each group."""
    if not by:
        raise ConfigError("needs at least one column", key="--by")
    columns = tuple(resolve_column(rows, name, source) for name in by)
    if len(set(columns)) < len(columns):
        raise ConfigError(f"a column appears twice in {list(by)}", key="--by")
    keys = rows[list(columns)].astype(str)
    paired = SETTING in rows.columns and SETTING not in columns
    groups: dict[tuple[str, ...], np.ndarray] = {}
    settings: dict[tuple[str, ...], np.ndarray | None] = {}
    for key, part in rows.groupby([keys[c] for c in columns], sort=True):
        groups[tuple(map(str, key))] = part[error].to_numpy(float)
        settings[tuple(map(str, key))] = part[SETTING].to_numpy() if paired else None
    if not groups:
        raise ConfigError("no finished runs to group", source=source)
    stats = [stability(k, e) for k, e in groups.items()]
    strata: dict[tuple[str, ...], tuple[dict, dict]] = {}
    for key, errors in groups.items():
        levels, sets = strata.setdefault(key[1:], ({}, {}))
        levels[key[0]], sets[key[0]] = errors, settings[key]
    comparisons = [c for s, (lv, st) in strata.items() for c in _compare(s, lv, st, seed)]
    return Grouped(columns, error, groups, stats, comparisons, counts=dict(counts or {}))


def settings_grid(
    rows: pd.DataFrame, x: str, y: str, error: str, bins: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median error over a (log x, log y) grid of `bins` x `bins` cells spanning the rows' range:
    (x edges, y edges, medians of shape (bins_y, bins_x), NaN where a cell is empty)."""
    xv, yv = rows[x].to_numpy(float), rows[y].to_numpy(float)
    if np.any(xv <= 0) or np.any(yv <= 0):
        raise ConfigError(f"{x} and {y} must be > 0 for a log grid")
    edges = [np.geomspace(v.min(), v.max() * (1 + 1e-9) + 1e-300, bins + 1) for v in (xv, yv)]
    ix = np.clip(np.searchsorted(edges[0], xv, side="right") - 1, 0, bins - 1)
    iy = np.clip(np.searchsorted(edges[1], yv, side="right") - 1, 0, bins - 1)
    cells = pd.DataFrame({"ix": ix, "iy": iy, "e": rows[error].to_numpy(float)})
    medians = np.full((bins, bins), np.nan)
    for (i, j), e in cells.groupby(["iy", "ix"])["e"]:
        medians[i, j] = float(e.median())
    return edges[0], edges[1], medians
