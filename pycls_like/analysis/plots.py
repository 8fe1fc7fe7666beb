"""Figures of the analysis: each function takes numbers (EDFs, tables, fits) and returns a Figure.

Figures are `matplotlib.figure.Figure` objects created without pyplot, so no global backend or
window is involved; the seaborn style is applied in a local context, never through global
rcParams. Every figure gives a population the same colour (`palette`); runs of one population
differ by line style, never by colour. Scatter layers with more than RASTER_POINTS points are
rasterized (a 10,000-point SVG layer is megabytes); axes, lines and text stay vector.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from pycls_like.analysis.edf import EDF, Band, BestOfN
from pycls_like.analysis.table import DIVERGED_ERROR, as_numeric
from pycls_like.analysis.trends import GoodRange, binned_median, log_scale, trend_bins

RASTER_POINTS = 300  # above this many points a scatter layer becomes an image
MAX_VALUE_TICKS = 8  # an integer parameter with at most this many values is ticked at each
LINE_STYLES = ("-", "--", ":", "-.")
AXIS_LABELS = {
    "top1_err": "top-1 error (%)",
    "top5_err": "top-5 error (%)",
    "best_top1_err": "best top-1 error (%)",
    "best_top5_err": "best top-5 error (%)",
    "e_fit": "e_fit (mean |log w / w_fit|)",
    "train_loss": "training loss",
    "epoch": "epoch",
}
# Complexity columns are shown in units a reader knows: (divisor, unit) by magnitude.
_UNITS = {
    "flops": ("flops", "multiply-adds", [(1e9, "GF"), (1e6, "MF"), (1e3, "KF")]),
    "params": ("params", "", [(1e6, "M"), (1e3, "K")]),
    "acts": ("activations", "", [(1e6, "M"), (1e3, "K")]),
}


def label(column: str) -> str:
    """Axis label with units for a table column."""
    return AXIS_LABELS.get(column, column)


def complexity_units(column: str, values: Sequence[float] | np.ndarray) -> tuple[float, str]:
    """(divisor, axis label) showing a complexity column in MF/GF (or M/K): 1 for other columns."""
    if column not in _UNITS:
        return 1.0, label(column)
    name, what, scales = _UNITS[column]
    v = np.asarray(values, dtype=float)
    median = float(np.median(v)) if v.size else 0.0
    div, unit = next(((d, u) for d, u in scales if median >= d), (1.0, ""))
    inside = ", ".join(t for t in (unit, what) if t)
    return div, f"{name} ({inside})" if inside else name


def palette(names: Sequence[str]) -> dict[str, tuple]:
    """One color per population, stable across figures."""
    return dict(zip(names, sns.color_palette("tab10", max(len(names), 1)), strict=False))


@contextmanager
def _style(font_scale: float = 1.0) -> Iterator[None]:
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=font_scale):
        yield


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str | None = None) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # below the axes (constrained layout makes room): it hides no data
        wide = sum(len(t) for t in labels) > 60  # side by side, they would not fit the width
        ax.figure.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=1 if wide else len(handles),
            fontsize="small",
        )


def readable_log_axis(ax: Axes, axis: str, lo: float, hi: float) -> None:
    """Log scale with plain-number ticks (1-2-5 steps, 1-3 over wide ranges, all digits under a
    decade), no 10^k."""
    decades = np.log10(max(hi, lo * 1.0001) / lo) if lo > 0 else 0.0
    # Tick labels about half a decade apart or more once there are more than 2.5 decades: at 1-2-5
    # steps, 1,000 and 2,000 run together on a 4-decade axis.
    if decades > 4.5:
        subs: tuple[float, ...] = (1.0,)
    elif decades > 2.5:
        subs = (1.0, 3.0)
    else:
        subs = (1.0, 2.0, 5.0) if decades > 0.8 else tuple(float(k) for k in range(1, 10))
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
    target.set_minor_formatter(NullFormatter())


def _integer_ticks(ax: Axes, values: pd.Series, log: bool) -> None:
    """Integer parameters get integer ticks: at each value when there are few (groups 1, 2, 4, 8,
    16 on a log axis), else at whole numbers (a log axis's 1-2-5 ticks already are)."""
    if not np.all(np.isclose(values, np.round(values))):
        return
    distinct = np.unique(np.round(values))
    if 1 < distinct.size <= MAX_VALUE_TICKS:
        ax.xaxis.set_major_locator(FixedLocator(distinct))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    elif not log:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _scatter(ax: Axes, x, y, color, n_total: int, **kw) -> None:
    ax.scatter(x, y, color=color, rasterized=n_total > RASTER_POINTS, linewidths=0, **kw)


def _point_style(n: int) -> dict:
    """Smaller, lighter points as populations grow, so dense clouds still show their shape."""
    return {"s": 18 if n <= 200 else 8 if n <= 2000 else 3, "alpha": 0.6 if n <= 200 else 0.3}


def plot_edfs(
    curves: Mapping[str, EDF],
    bands: Mapping[str, Band] | None = None,
    error: str = "top1_err",
    title: str = "error EDFs",
) -> Figure:
    """EDF per population (sec. 3.1 of On Network Design Spaces) with bootstrap bands."""
    colors = palette(list(curves))
    finite = np.concatenate(
        [c.errors[c.errors < DIVERGED_ERROR] for c in curves.values()] or [[0.0]]
    )
    finite = finite if finite.size else np.array([0.0, DIVERGED_ERROR])
    span = max(finite.max() - finite.min(), 1e-6)
    x = np.linspace(finite.min() - 0.02 * span, finite.max() + 0.02 * span, 400)
    with _style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for k, (name, curve) in enumerate(curves.items()):
            n = f"n_eff={curve.n_eff:.0f}" if curve.weighted else f"n={curve.n}"
            diverged = int(np.sum(curve.errors >= DIVERGED_ERROR))
            n += f", {diverged} diverged" if diverged else ""
            ax.step(x, curve(x), where="post", color=colors[name], lw=2, label=f"{name} ({n})")
            if bands and name in bands:
                _band(
                    ax, bands[name].x, bands[name].lower, bands[name].upper, colors[name], k, "post"
                )
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, 1)
        _finish(ax, label(error), "cumulative prob. (error < e)", title)
    return fig


def _band(ax: Axes, x, lower, upper, color, k: int, step: str | None = None) -> None:
    """A light fill plus edges in the population's colour, dashed differently per population,
    so overlapping bands stay tellable apart."""
    ax.fill_between(x, lower, upper, step=step, color=color, alpha=0.12, lw=0)
    style = LINE_STYLES[1 + k % (len(LINE_STYLES) - 1)]
    draw = (
        (lambda xs, ys: ax.step(xs, ys, where=step, color=color, lw=0.8, ls=style))
        if step
        else (lambda xs, ys: ax.plot(xs, ys, color=color, lw=0.8, ls=style))
    )
    draw(x, lower)
    draw(x, upper)


def _good_range(ax: Axes, r: GoodRange, color, k: int) -> None:
    """A good range as a light fill with edges dashed differently per population (overlapping
    ranges stay tellable apart) and its median as a solid line."""
    ax.axvspan(r.lo, r.hi, color=color, alpha=0.12, lw=0)
    style = LINE_STYLES[1 + k % (len(LINE_STYLES) - 1)]
    for x in (r.lo, r.hi):
        ax.axvline(x, color=color, ls=style, lw=1)
    ax.axvline(r.mid, color=color, lw=1.5)


def plot_best_of_n(results: Mapping[str, BestOfN], error: str = "top1_err") -> Figure:
    """Expected best error of n random models, with its percentile spread (random-search efficiency)."""
    colors = palette(list(results))
    with _style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        n_max = 1
        for k, (name, r) in enumerate(results.items()):
            ax.plot(r.n, r.expected, marker="o", ms=3, color=colors[name], lw=2, label=name)
            _band(ax, r.n, r.lower, r.upper, colors[name], k)
            n_max = max(n_max, int(r.n.max()))
        readable_log_axis(ax, "x", 1, max(n_max, 2))
        pct = next(iter(results.values())).percentiles if results else (5, 95)
        title = f"expected best of n random models (band: {pct[0]:g}-{pct[1]:g}th percentiles)"
        _finish(ax, "n (models drawn with replacement)", f"min {label(error)}", title)
    return fig


def _scatter_tables(tables: Mapping[str, pd.DataFrame], x: str, y: str) -> pd.DataFrame:
    frames = [
        t.assign(population=name)[[x, y, "population"]] for name, t in tables.items() if x in t
    ]
    data = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[x, y, "population"])
    )
    return data[data[y] < DIVERGED_ERROR]  # diverged runs (error 100) would flatten the axis


def plot_error_vs_metric(
    tables: Mapping[str, pd.DataFrame], metric: str = "flops", error: str = "top1_err"
) -> Figure:
    """Error of every model against its complexity, with per-population binned medians where the
    population is large enough for them (`trend_bins`)."""
    colors = palette(list(tables))
    data = _scatter_tables(tables, metric, error)
    values = pd.to_numeric(data[metric], errors="coerce").astype(float)
    div, xlabel = complexity_units(metric, values)
    x_all = values / div
    log = log_scale(x_all) or (metric in _UNITS and x_all.max() / max(x_all.min(), 1e-12) > 3)
    with _style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for name, group in data.groupby("population", sort=False):
            x = x_all[group.index]
            _scatter(ax, x, group[error], colors[name], len(data), **_point_style(len(data)))
            bins = trend_bins(len(group))
            text = f"{name} (n={len(group)}"
            if bins:
                med = binned_median(x, group[error], bins=bins, log=log)
                ax.plot(med["center"], med["median"], color=colors[name], lw=2)
                text += f", median of {bins} bins)"
            else:
                text += ", too few for binned medians)"
            ax.plot([], [], color=colors[name], lw=2, marker="o", label=text)
        if log and x_all.size and x_all.min() > 0:
            readable_log_axis(ax, "x", float(x_all.min()), float(x_all.max()))
        ax.margins(x=0.04, y=0.06)
        _finish(ax, xlabel, label(error), "error vs complexity (diverged runs not shown)")
    return fig


def plot_error_vs_params(
    tables: Mapping[str, pd.DataFrame],
    params: Sequence[str],
    error: str = "top1_err",
    ranges: Mapping[str, Mapping[str, GoodRange]] | None = None,
    ncols: int = 3,
) -> Figure:
    """One titled panel per parameter: errors by population, good range (bootstrap 95%) shaded
    where the population was large enough to estimate one."""
    colors = palette(list(tables))
    nrows = max(1, -(-len(params) // ncols))
    with _style(font_scale=0.85):
        fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows + 0.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, param in zip(axes, params, strict=False):
            data = _scatter_tables(tables, param, error)
            numbers = as_numeric(data[param])
            if numbers is not None:
                data[param] = numbers
                for name, group in data.groupby("population", sort=False):
                    _scatter(
                        ax,
                        group[param],
                        group[error],
                        colors[name],
                        len(data),
                        **_point_style(len(data)),
                    )
                for k, name in enumerate(tables):
                    r = (ranges or {}).get(name, {}).get(param)
                    if r is not None:
                        _good_range(ax, r, colors[name], k)
                finite = data[param].dropna()
                log = log_scale(finite)
                if log:
                    readable_log_axis(ax, "x", float(finite.min()), float(finite.max()))
                _integer_ticks(ax, finite, log)
                ax.margins(x=0.06, y=0.06)
            else:
                sns.stripplot(
                    data=data,
                    x=param,
                    y=error,
                    hue="population",
                    palette=colors,
                    size=3,
                    alpha=0.6,
                    dodge=len(tables) > 1,
                    ax=ax,
                    legend=False,
                    rasterized=len(data) > RASTER_POINTS,
                )
            ax.set_title(param)
            ax.set_xlabel(label(param))
            ax.set_ylabel(label(error))
        for ax in axes[len(params) :]:
            ax.set_visible(False)
        handles = [
            Line2D([], [], ls="", marker="o", color=colors[n], label=f"{n} (n={len(t)})")
            for n, t in tables.items()
        ]
        fig.suptitle("error vs each sampled parameter: " + ", ".join(tables), fontsize="medium")
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 4),
            fontsize="small",
        )
    return fig


def plot_error_vs_efit(tables: Mapping[str, pd.DataFrame], error: str = "top1_err") -> Figure:
    """Do models closer to a quantized-linear (RegNet) width rule have lower error? (DDNDS sec. 3.3)"""
    colors = palette(list(tables))
    data = _scatter_tables(tables, "e_fit", error)
    with _style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for name, group in data.groupby("population", sort=False):
            _scatter(
                ax, group["e_fit"], group[error], colors[name], len(data), **_point_style(len(data))
            )
            exact = int((group["e_fit"] == 0).sum())
            text = f"{name} (n={len(group)}, {exact} exact)"
            ax.plot([], [], ls="", marker="o", color=colors[name], label=text)  # opaque marker
        # e_fit >= 0: the axis starts at 0 and spans at least 0.05 (all-exact populations too).
        largest = pd.to_numeric(data["e_fit"], errors="coerce").max()
        hi = max(float(np.nan_to_num(largest)), 0.05)
        ax.set_xlim(-0.03 * hi, 1.04 * hi)
        ax.margins(y=0.06)
        _finish(ax, label("e_fit"), label(error), "error vs quantized-linear fit quality")
    return fig


def plot_training_curves(
    curves: Mapping[tuple[str, str], pd.DataFrame],
    populations: Sequence[str],
    error: str = "top1_err",
) -> Figure:
    """Training loss and test error per epoch for the best runs ((population, run) -> metrics):
    the population's colour, one line style per run, and the legend below the panels; the test
    error is `error` where the metrics have it, else top1_err (always logged)."""
    colors = palette(list(populations))
    with _style():
        fig = Figure(figsize=(11, 4.6), layout="constrained")
        left, right = fig.subplots(1, 2)
        logged, rank = set(), {p: 0 for p in populations}
        handles = []
        for (pop, run), frame in curves.items():
            ls = LINE_STYLES[rank[pop] % len(LINE_STYLES)]
            rank[pop] += 1
            style = {"color": colors.get(pop, "0.3"), "ls": ls, "marker": ".", "lw": 1.5}
            if "train_loss" in frame:
                left.plot(frame["epoch"], frame["train_loss"], **style)
            column = error if error in frame else "top1_err"
            if column in frame:
                right.plot(frame["epoch"], frame[column], **style)
                logged.add(column)
            handles.append(Line2D([], [], label=f"{pop}: run {run}", **style))
        for ax in (left, right):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _finish(left, "epoch", label("train_loss"), "training loss")
        ylabel = " / ".join(f"test {label(c)}" for c in sorted(logged)) or "test error"
        _finish(right, "epoch", ylabel, "test error")
        if handles:
            fig.legend(
                handles=handles,
                loc="outside lower center",
                ncols=min(len(handles), 3),
                fontsize="small",
            )
    return fig


def plot_runtime_vs_counts(
    table: pd.DataFrame, fits: pd.DataFrame, figure: str, setting: str, by: str | None = None
) -> Figure:
    """One measured figure (`analysis.runtime.FIGURES`) of one setting's models against flops,
    params and acts, log-log, each panel with its fitted line and R^2 (`runtime_fits` rows)."""
    from pycls_like.analysis.runtime import FIGURES, by_setting

    rows = by_setting(table)[setting]
    groups = rows.groupby(by, sort=True) if by and by in rows else [(None, rows)]
    colors = palette([str(name) for name, _ in groups])
    with _style(font_scale=0.9):
        fig = Figure(figsize=(12, 4), layout="constrained")
        for ax, measure in zip(
            fig.subplots(1, 3, sharey=True), ("flops", "params", "acts"), strict=True
        ):
            for name, group in groups:
                x = pd.to_numeric(group[measure], errors="coerce")
                y = pd.to_numeric(group[figure], errors="coerce")
                _scatter(
                    ax,
                    x,
                    y,
                    colors[str(name)],
                    len(rows),
                    label=None if name is None else str(name),
                    **_point_style(len(rows)),
                )
            fit = fits[
                (fits["setting"] == setting)
                & (fits["figure"] == figure)
                & (fits["measure"] == measure)
            ]
            if not fit.empty:
                r = fit.iloc[0]
                xs = pd.to_numeric(rows[measure], errors="coerce")
                line = np.geomspace(xs.min(), xs.max(), 50)
                intercept = (
                    np.log(pd.to_numeric(rows[figure])).mean() - r.exponent * np.log(xs).mean()
                )
                ax.plot(line, np.exp(intercept) * line**r.exponent, color="k", lw=1.5)
                ax.set_title(
                    f"R^2 {r.r2:.2f} [{r.r2_lo:.2f}, {r.r2_hi:.2f}], e {r.exponent:.2f}",
                    fontsize="small",
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(measure)
        fig.axes[0].set_ylabel(FIGURES.get(figure, figure))
        handles, labels = fig.axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(
                handles, labels, loc="outside lower center", ncols=len(handles), fontsize="small"
            )
        fig.suptitle(setting, fontsize="small")
    return fig
