"""The report's figures as a reader meets them (issue 14, point 5): log ticks that do not run
together, integer parameters ticked at their values, legends outside the data, an e_fit axis
that starts at 0."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pycls_like.analysis import plots
from pycls_like.analysis.trends import GoodRange


def _tick_values(axis) -> np.ndarray:
    lo, hi = sorted(axis.get_view_interval())
    ticks = np.asarray(axis.get_majorticklocs())
    return ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]


def test_log_ticks_stay_apart_over_four_decades():
    for hi in (12, 300, 10_000, 1e6):
        ax = Figure().subplots()
        ax.plot([1, hi], [0, 1])
        plots.readable_log_axis(ax, "x", 1, hi)
        ticks = _tick_values(ax.xaxis)
        assert ticks.size >= 2, hi
        assert np.diff(np.log10(ticks)).min() >= 0.29, (hi, ticks)  # 1-2-5 at most
        if hi >= 1_000:  # wide axes: about half a decade or more between labels
            assert np.diff(np.log10(ticks)).min() >= 0.47, (hi, ticks)


def _tables(n: int, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    return {
        name: pd.DataFrame(
            {
                "g": rng.choice([1, 2, 4, 8, 16], n),
                "d": rng.integers(6, 25, n),
                "flops": np.exp(rng.uniform(np.log(2e8), np.log(8e8), n)),
                "top1_err": rng.normal(40, 2, n),
                "e_fit": np.zeros(n),
            }
        )
        for name in ("a", "b")
    }


def test_integer_parameters_ticked_at_their_values_and_ranges_drawn():
    tables = _tables(200, np.random.default_rng(0))
    ranges = {
        "a": {"d": GoodRange(8, 12, 20, 100, 0.25)},
        "b": {"d": GoodRange(10, 15, 22, 100, 0.25)},
    }
    fig = plots.plot_error_vs_params(tables, ["g", "d"], ranges=ranges)
    ax_g, ax_d = fig.axes[:2]
    assert list(_tick_values(ax_g.xaxis)) == [1, 2, 4, 8, 16]
    d_ticks = _tick_values(ax_d.xaxis)
    assert np.allclose(d_ticks, np.round(d_ticks))
    # Each good range: its two edges and its median as vertical lines, per population.
    assert len([line for line in ax_d.get_lines() if len(set(line.get_xdata())) == 1]) == 6


def test_legends_sit_outside_the_axes():
    tables = _tables(500, np.random.default_rng(1))
    for fig in (
        plots.plot_error_vs_metric(tables),
        plots.plot_error_vs_efit(tables),
        plots.plot_error_vs_params(tables, ["g"]),
    ):
        assert all(ax.get_legend() is None for ax in fig.axes)
        assert len(fig.legends) == 1


def test_efit_axis_starts_at_zero_even_when_every_fit_is_exact():
    fig = plots.plot_error_vs_efit(_tables(50, np.random.default_rng(2)))
    lo, hi = fig.axes[0].get_xlim()
    assert -0.01 < lo <= 0 and hi >= 0.05
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["a (n=50, 50 exact)", "b (n=50, 50 exact)"]
