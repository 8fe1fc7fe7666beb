"""Figures of the analysis: each function takes numbers (EDFs, tables, fits) and returns a Figure.

Figures are `matplotlib.figure.Figure` objects created without pyplot, so no global backend or
window is involved (saving to PNG uses Agg, to SVG the SVG backend); the seaborn style is applied
in a local context, never through global rcParams. Colors follow population order everywhere.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from pycls_like.analysis.edf import EDF, Band, BestOfN
from pycls_like.analysis.table import DIVERGED_ERROR, as_numeric
from pycls_like.analysis.trends import GoodRange, binned_median, log_scale

AXIS_LABELS = {
    "top1_err": "top-1 error (%)",
    "top5_err": "top-5 error (%)",
    "best_top1_err": "best top-1 error (%)",
    "best_top5_err": "best top-5 error (%)",
    "flops": "flops (multiply-adds)",
    "params": "parameters",
    "acts": "activations",
    "e_fit": "e_fit (mean |log w / w_fit|)",
    "train_loss": "training loss",
    "epoch": "epoch",
}


def label(column: str) -> str:
    """Axis label with units for a table column."""
    return AXIS_LABELS.get(column, column)


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
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=True, fontsize="small")


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
        for name, curve in curves.items():
            n = f"n_eff={curve.n_eff:.0f}" if curve.weighted else f"n={curve.n}"
            diverged = int(np.sum(curve.errors >= DIVERGED_ERROR))
            n += f", {diverged} diverged" if diverged else ""
            ax.step(x, curve(x), where="post", color=colors[name], lw=2, label=f"{name} ({n})")
            if bands and name in bands:
                band = bands[name]
                ax.fill_between(
                    band.x, band.lower, band.upper, step="post", color=colors[name], alpha=0.2
                )
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, 1)
        _finish(ax, label(error), "cumulative prob. (error < e)", title)
    return fig


def plot_best_of_n(results: Mapping[str, BestOfN], error: str = "top1_err") -> Figure:
    """Expected best error of n random models, with its percentile spread (random-search efficiency)."""
    colors = palette(list(results))
    with _style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for name, r in results.items():
            ax.plot(r.n, r.expected, marker="o", ms=3, color=colors[name], label=name)
            ax.fill_between(r.n, r.lower, r.upper, color=colors[name], alpha=0.15)
        ax.set_xscale("log")
        pct = next(iter(results.values())).percentiles if results else (5, 95)
        title = f"expected best of n random models (band: {pct[0]:g}-{pct[1]:g}th percentiles)"
        _finish(ax, "n (models sampled)", f"min {label(error)}", title)
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
    """Error of every model against its complexity, with per-population binned medians."""
    colors = palette(list(tables))
    data = _scatter_tables(tables, metric, error)
    with _style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        sns.scatterplot(
            data=data,
            x=metric,
            y=error,
            hue="population",
            palette=colors,
            s=18,
            alpha=0.5,
            ax=ax,
            legend=False,
        )
        for name, group in data.groupby("population", sort=False):
            med = binned_median(group[metric], group[error], log=log_scale(data[metric]))
            ax.plot(
                med["center"],
                med["median"],
                color=colors[name],
                lw=2,
                label=f"{name} (n={len(group)}, binned median)",
            )
        if log_scale(data[metric]):
            ax.set_xscale("log")
        _finish(ax, label(metric), label(error), "error vs complexity (diverged runs not shown)")
    return fig


def plot_error_vs_params(
    tables: Mapping[str, pd.DataFrame],
    params: Sequence[str],
    error: str = "top1_err",
    ranges: Mapping[str, Mapping[str, GoodRange]] | None = None,
    ncols: int = 3,
) -> Figure:
    """One panel per parameter: errors by population, good range (bootstrap 95%) shaded."""
    colors = palette(list(tables))
    nrows = max(1, -(-len(params) // ncols))
    with _style(font_scale=0.85):
        fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, param in zip(axes, params, strict=False):
            data = _scatter_tables(tables, param, error)
            numbers = as_numeric(data[param])
            if numbers is not None:
                data[param] = numbers
                sns.scatterplot(
                    data=data,
                    x=param,
                    y=error,
                    hue="population",
                    palette=colors,
                    s=12,
                    alpha=0.5,
                    ax=ax,
                    legend=False,
                )
                for name, r in ((n, (ranges or {}).get(n, {}).get(param)) for n in tables):
                    if r is not None:
                        ax.axvspan(r.lo, r.hi, color=colors[name], alpha=0.15)
                        ax.axvline(r.mid, color=colors[name], ls="--", lw=1)
                if log_scale(data[param]):
                    ax.set_xscale("log")
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
                )
            ax.set_xlabel(label(param))
            ax.set_ylabel(label(error))
        for ax in axes[len(params) :]:
            ax.set_visible(False)
        handles = [
            Line2D([], [], ls="", marker="o", color=colors[n], label=f"{n} (n={len(t)})")
            for n, t in tables.items()
        ]
        fig.legend(
            handles=handles,
            loc="outside upper center",
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
            ax.scatter(
                group["e_fit"],
                group[error],
                s=18,
                alpha=0.6,
                color=colors[name],
                label=f"{name} (n={len(group)})",
            )
        _finish(ax, label("e_fit"), label(error), "error vs quantized-linear fit quality")
    return fig


def plot_training_curves(curves: Mapping[str, pd.DataFrame], error: str = "top1_err") -> Figure:
    """Training loss and test error per epoch for the given runs (label -> metrics.jsonl frame);
    the test error is `error` where the metrics have it, else top1_err (always logged)."""
    colors = dict(zip(curves, sns.color_palette("tab10", max(len(curves), 1)), strict=False))
    with _style():
        fig = Figure(figsize=(11, 4), layout="constrained")
        left, right = fig.subplots(1, 2)
        logged = set()
        for name, frame in curves.items():
            style = {"color": colors[name], "marker": ".", "label": name}
            if "train_loss" in frame:
                left.plot(frame["epoch"], frame["train_loss"], **style)
            column = error if error in frame else "top1_err"
            if column in frame:
                right.plot(frame["epoch"], frame[column], **style)
                logged.add(column)
        _finish(left, "epoch", label("train_loss"), "training loss")
        ylabel = " / ".join(f"test {label(c)}" for c in sorted(logged)) or "test error"
        _finish(right, "epoch", ylabel, "test error")
    return fig
