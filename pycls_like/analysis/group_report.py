"""`analyze SWEEP --by COLUMN[,COLUMN...]`: one HTML page (and JSON) on groups inside one sweep.

The page holds the stability table of `groups.py` (n, best, median, spread, fraction of settings
within x points of the group's best), the tests between the compared column's levels, the EDF of
error over training settings per group, and a heat map of median error over (lr, wd) per group
when the sweep sampled both.
"""

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from pycls_like import __version__
from pycls_like.analysis import edf as E
from pycls_like.analysis import plots
from pycls_like.analysis.groups import (
    OPTIM_PREFIX,
    PAIRED_TEST,
    WITHIN,
    Grouped,
    group_label,
    group_rows,
    settings_grid,
)
from pycls_like.analysis.report import _CSS, _e, _Figures, _table
from pycls_like.analysis.table import DIVERGED_ERROR, Population
from pycls_like.design.population import SETTING

LR, WD = OPTIM_PREFIX + "lr", OPTIM_PREFIX + "wd"


def plot_settings_heatmaps(
    rows: pd.DataFrame, grouped: Grouped, x: str = LR, y: str = WD, bins: int = 4
) -> Figure:
    """One panel per group: median error per (log lr, log wd) cell, every run as a dot coloured
    by its own error, on one colour scale for all panels (each panel spans its group's ranges:
    SGD and AdamW lr ranges differ by decades)."""
    keys = list(grouped.groups)
    cols = min(4, len(keys))
    nrows = -(-len(keys) // cols)
    finite = rows[grouped.error].to_numpy(float)
    norm = Normalize(float(finite.min()), float(min(finite.max(), DIVERGED_ERROR)))
    with plots._style(font_scale=0.8):
        fig = Figure(figsize=(3.4 * cols, 3.0 * nrows + 0.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False)).ravel()
        labels = rows[list(grouped.by)].astype(str)
        mappable = None
        for ax, key in zip(axes, keys, strict=False):
            part = rows[(labels == list(key)).all(axis=1)]
            xe, ye, med = settings_grid(part, x, y, grouped.error, bins)
            mappable = ax.pcolormesh(xe, ye, np.ma.masked_invalid(med), cmap="viridis_r", norm=norm)
            ax.scatter(
                part[x], part[y], c=part[grouped.error], cmap="viridis_r", norm=norm,
                edgecolors="white", linewidths=0.6, s=22,
            )  # fmt: skip
            plots.readable_log_axis(ax, "x", xe[0], xe[-1])
            plots.readable_log_axis(ax, "y", ye[0], ye[-1])
            ax.set_title(" / ".join(key), fontsize="medium")
            ax.set_xlabel(group_label(x))
            ax.set_ylabel(group_label(y))
            ax.grid(False)
        for ax in axes[len(keys) :]:
            ax.set_visible(False)
        if mappable is not None:
            fig.colorbar(
                mappable, ax=list(axes[: len(keys)]), label=f"{plots.label(grouped.error)}"
            )
    return fig


def plot_paired(rows: pd.DataFrame, grouped: Grouped) -> Figure | None:
    """One panel per paired comparison: each shared setting as a point (level a's error, level
    b's error); below the diagonal b did better on that setting. None when nothing is paired."""
    paired = [c for c in grouped.comparisons if c.test == PAIRED_TEST]
    if not paired:
        return None
    labels = rows[list(grouped.by)].astype(str)
    level, strata = grouped.by[0], list(grouped.by[1:])
    with plots._style(font_scale=0.8):
        fig = Figure(figsize=(3.4 * len(paired), 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(paired), squeeze=False)).ravel()
        for ax, c in zip(axes, paired, strict=True):
            keep = labels[level].isin([c.a, c.b])
            if strata:
                keep &= (labels[strata] == list(c.stratum)).all(axis=1)
            part = rows[keep]
            wide = part.assign(_level=labels[level]).pivot_table(
                index=SETTING, columns="_level", values=grouped.error, aggfunc="first"
            )[[c.a, c.b]].dropna()  # fmt: skip
            lo, hi = float(wide.min().min()), float(wide.max().max())
            ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, zorder=0)
            ax.scatter(wide[c.a], wide[c.b], s=22, edgecolors="white", linewidths=0.6)
            ax.set_xlabel(f"{c.a}: {plots.label(grouped.error)}")
            ax.set_ylabel(f"{c.b}: {plots.label(grouped.error)}")
            where = " / ".join(c.stratum) or "all settings"
            ax.set_title(f"{where}: {len(wide)} settings", fontsize="medium")
    return fig


def plot_group_edfs(grouped: Grouped, n_boot: int = 1000, seed: int = 0) -> Figure:
    """EDF of error over training settings per group, with bootstrap bands (as `analyze`)."""
    curves = {" / ".join(k): E.edf(e) for k, e in grouped.groups.items()}
    bands = {name: E.bootstrap_band(c, n_boot=n_boot, rng=seed) for name, c in curves.items()}
    title = f"error EDF over training settings, by {', '.join(group_label(c) for c in grouped.by)}"
    return plots.plot_edfs(curves, bands, grouped.error, title)


def stability_rows(grouped: Grouped) -> list[list[object]]:
    """The stability table's rows (also printed by the CLI)."""
    return [
        [
            s.name,
            s.n,
            s.diverged,
            s.best,
            s.median,
            s.mean,
            s.std,
            s.iqr,
            *(s.within[f"{x:g}"] for x in WITHIN),
        ]  # fmt: skip
        for s in grouped.stats
    ]


STABILITY_HEADER = [
    "group", "n", "diverged", "best", "median", "mean", "std", "IQR",
    *(f"within {x:g}" for x in WITHIN),
]  # fmt: skip


def text_lines(summary: dict) -> list[str]:
    """The stability table and the tests as plain text, from the JSON summary (the CLI's output)."""
    names = [g["name"] for g in summary["groups"]]
    width = max(len(STABILITY_HEADER[0]), *map(len, names))
    lines = [
        "  ".join([STABILITY_HEADER[0].ljust(width), *(h.rjust(9) for h in STABILITY_HEADER[1:])])
    ]
    for g in summary["groups"]:
        values = [g["n"], g["diverged"], g["best"], g["median"], g["mean"], g["std"], g["iqr"]]
        values += [g["within"][f"{x:g}"] for x in WITHIN]
        cells = [f"{v:9d}" if isinstance(v, int) else f"{v:9.2f}" for v in values]
        lines.append("  ".join([g["name"].ljust(width), *cells]))
    for c in summary["comparisons"]:
        within = f" ({' / '.join(c['stratum'])})" if c["stratum"] else ""
        spread = "-" if c["spread_p"] is None else f"{c['spread_p']:.2g}"
        paired = " (paired)" if c["test"] == PAIRED_TEST else ""
        lines.append(
            f"{c['a']} vs {c['b']}{within}: {c['sentence']}; equal spread{paired} p = {spread}"
        )
    return lines


def render_html(pop: Population, grouped: Grouped, figures: Mapping[str, Figure]) -> str:
    """The page: provenance, stability table, comparisons, figures."""
    render = _Figures()
    by = ", ".join(group_label(c) for c in grouped.by)
    comparisons = [
        [
            " / ".join(c.stratum) or "all",
            c.a,
            c.b,
            c.n_a,
            c.n_b,
            c.n_pairs if c.n_pairs is not None else "-",
            c.test,
            c.p_value if c.p_value is not None else float("nan"),
            c.p_adjusted if c.p_adjusted is not None else float("nan"),
            c.better or "-",
            c.spread_p if c.spread_p is not None else float("nan"),
            c.sentence,
        ]  # fmt: skip
        for c in grouped.comparisons
    ]
    head = [
        "within",
        "a",
        "b",
        "n a",
        "n b",
        "pairs",
        "test",
        "p",
        "p (Holm)",
        "better",
        "spread p",
    ]
    head.append("verdict")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(grouped.counts.items()))
    parts = [
        f"<!doctype html><html><head><meta charset=utf-8><title>{_e(pop.name)} by {_e(by)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{_e(pop.name)}: error by {_e(by)}</h1>",
        f"<p class=provenance>source {_e(pop.source)}; runs: {_e(counts)}; pycls_like "
        f"{_e(__version__)}. One row per sampled training setting; diverged runs count as "
        f"{DIVERGED_ERROR:g}% error.</p>",
        "<h2>Stability over training settings</h2>",
        _table(STABILITY_HEADER, stability_rows(grouped)),
        "<p class=note>Spread (std, IQR) and the fraction of settings within x points of the "
        "group's best measure sensitivity to the training settings (Xiao et al. 2021, sec. 4): "
        "a stable model has most settings near its best.</p>",
        f"<h2>Tests: {_e(group_label(grouped.by[0]))}</h2>",
        _table(head, comparisons, left=3),
        "<p class=note>Runs paired by setting (a space with <code>cross</code>: both levels "
        "trained on the same sampled settings): two-sided Wilcoxon signed-rank test of the "
        "per-setting error difference (effect: Hodges-Lehmann median difference), spread p the "
        "same test on the differences of absolute deviations from each level's median. "
        "Independent draws: two-sided permutation test of the difference in mean error (10,000 "
        "relabelings), spread p the Brown-Forsythe test (Levene's about the median). Alpha "
        f"{grouped.alpha:g}; Holm-adjusted over the pairs of one stratum.</p>",
    ]
    for caption, figure in figures.items():
        parts.append(render(figure, caption))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_group_report(
    pop: Population,
    by: list[str],
    out_html: str | Path,
    out_json: str | Path | None = None,
    *,
    error: str = "top1_err",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Group one population's finished rows by `by` and write the HTML page and its JSON."""
    rows = pop.rows(error)
    grouped = group_rows(rows, by, error, seed, pop.source, pop.status_counts())
    figures = {
        "EDF of error over training settings per group (95% bootstrap bands)": plot_group_edfs(
            grouped, n_boot, seed
        )
    }
    paired = plot_paired(rows, grouped)
    if paired is not None:
        figures["error per shared setting, one level against the other (below the diagonal: "
                "the second did better)"] = paired  # fmt: skip
    if {LR, WD} <= set(rows.columns):
        caption = "median error per (lr, wd) cell (log bins); dots: runs, coloured by their error"
        figures[caption] = plot_settings_heatmaps(rows, grouped)
    out_html = Path(out_html)
    out_json = Path(out_json) if out_json else out_html.with_name("report.json")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    summary = {"source": pop.source, "name": pop.name, **grouped.to_json()}
    out_html.write_text(render_html(pop, grouped, figures), encoding="utf-8")
    out_json.write_text(json.dumps(summary, indent=1, allow_nan=False), encoding="utf-8")
    return summary
