"""Quantized-linear fits (Designing Network Design Spaces, sec. 3.3): exact recovery of RegNet
widths, small e_fit for perturbed widths, input validation."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycls_like.analysis import qlinear_search
from pycls_like.analysis.qlinear import (
    e_fit,
    e_fit_column,
    fit_quantized_linear,
    fit_quantized_linear_many,
    widths_before_adjustment,
)
from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_widths

# (name, d, w0, wa, wm) of the 24 published presets (shared/CONVENTIONS.md).
PRESETS = [
    ("RegNetX-200MF", 13, 24, 36.44, 2.49),
    ("RegNetX-400MF", 22, 24, 24.48, 2.54),
    ("RegNetX-600MF", 16, 48, 36.97, 2.24),
    ("RegNetX-800MF", 16, 56, 35.73, 2.28),
    ("RegNetX-1.6GF", 18, 80, 34.01, 2.25),
    ("RegNetX-3.2GF", 25, 88, 26.31, 2.25),
    ("RegNetX-4.0GF", 23, 96, 38.65, 2.43),
    ("RegNetX-6.4GF", 17, 184, 60.83, 2.07),
    ("RegNetX-8.0GF", 23, 80, 49.56, 2.88),
    ("RegNetX-12GF", 19, 168, 73.36, 2.37),
    ("RegNetX-16GF", 22, 216, 55.59, 2.1),
    ("RegNetX-32GF", 23, 320, 69.86, 2.0),
    ("RegNetY-200MF", 13, 24, 36.44, 2.49),
    ("RegNetY-400MF", 16, 48, 27.89, 2.09),
    ("RegNetY-600MF", 15, 48, 32.54, 2.32),
    ("RegNetY-800MF", 14, 56, 38.84, 2.4),
    ("RegNetY-1.6GF", 27, 48, 20.71, 2.65),
    ("RegNetY-3.2GF", 21, 80, 42.63, 2.66),
    ("RegNetY-4.0GF", 22, 96, 31.41, 2.24),
    ("RegNetY-6.4GF", 25, 112, 33.22, 2.27),
    ("RegNetY-8.0GF", 17, 192, 76.82, 2.19),
    ("RegNetY-12GF", 19, 168, 73.36, 2.37),
    ("RegNetY-16GF", 18, 200, 106.23, 2.48),
    ("RegNetY-32GF", 20, 232, 115.89, 2.53),
]


def test_all_presets_recovered_exactly():
    widths = [regnet_block_widths(d, w0, wa, wm) for _, d, w0, wa, wm in PRESETS]
    fits = fit_quantized_linear_many(widths)
    for (name, d, w0, _, _), w, fit in zip(PRESETS, widths, fits, strict=True):
        assert fit.exact and fit.e_fit == 0.0, name
        assert list(fit.widths_fit) == w, name
        assert (fit.d, fit.w0) == (d, w0), name
        assert regnet_block_widths(fit.d, fit.w0, fit.wa, fit.wm) == w, name
        assert fit.wm > 1 and fit.wa >= 0


@pytest.mark.parametrize(("name", "d", "w0", "wa", "wm"), PRESETS[:3])
def test_single_fit_and_dict(name, d, w0, wa, wm):
    fit = fit_quantized_linear(regnet_block_widths(d, w0, wa, wm))
    record = fit.to_dict()
    assert set(record) == {"d", "w0", "wa", "wm", "e_fit", "widths_fit"}
    assert isinstance(record["widths_fit"], list) and record["e_fit"] == 0.0


def test_perturbed_presets_fit_closely():
    widths = [regnet_block_widths(d, w0, wa, wm) for _, d, w0, wa, wm in PRESETS]
    scaled = [[8 * round(w * 1.03 / 8) for w in ws] for ws in widths]
    rng = np.random.default_rng(0)
    jittered = [[8 * max(1, round(w * rng.uniform(0.95, 1.05) / 8)) for w in ws] for ws in widths]
    for fit, ws in zip(
        fit_quantized_linear_many(scaled + jittered), scaled + jittered, strict=True
    ):
        assert fit.e_fit < 0.05, ws
        assert fit.e_fit == pytest.approx(e_fit(ws, fit.widths_fit))


def test_off_grid_widths_use_the_grid_search():
    fit = fit_quantized_linear(
        [30, 60, 60, 150, 150, 150, 370, 370, 370, 370]
    )  # not multiples of 8
    assert not fit.exact and fit.e_fit < 0.05
    assert fit.w0 % 8 == 0 and all(w % 8 == 0 for w in fit.widths_fit)


def test_single_stage_and_single_block():
    assert fit_quantized_linear([64] * 5).to_dict() | {"wm": None} == {
        "d": 5,
        "w0": 64,
        "wa": 0.0,
        "wm": None,
        "e_fit": 0.0,
        "widths_fit": [64] * 5,
    }
    assert fit_quantized_linear([40]).exact


def test_e_fit_definition():
    assert e_fit([8, 16], [8, 8]) == pytest.approx(np.log(2) / 2)


@pytest.mark.parametrize("bad", [[], [24, -8], [24, float("nan")], ["a", 24]])
def test_bad_widths(bad):
    with pytest.raises(ConfigError, match="widths"):
        fit_quantized_linear(bad)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 60),
    st.integers(1, 40).map(lambda k: 8 * k),
    st.floats(0.5, 256),
    st.floats(1.5, 3.0),
)
def test_random_regnets_recovered_exactly(d, w0, wa, wm):
    widths = regnet_block_widths(d, w0, wa, wm)
    fit = fit_quantized_linear(widths)
    assert fit.exact and list(fit.widths_fit) == widths


def test_never_worse_than_the_exhaustive_reference():
    """tests/golden_qlinear.json (tools/make_qlinear_golden.py): every w0, a 1024-point wm grid,
    every interval of wa, on 300 random sorted, unsorted and noisy RegNet widths. The fit covers
    the same domain (w0 a multiple of 8 up to the largest width, wm in [1.1, 10], wa >= 0)."""
    golden = json.loads((Path(__file__).parent / "golden_qlinear.json").read_text())
    cases = golden["cases"]
    assert len(cases) >= 40 and {c["kind"] for c in cases} == {"sorted", "unsorted", "noisy_regnet"}
    fits = fit_quantized_linear_many([c["widths"] for c in cases])
    for case, fit in zip(cases, fits, strict=True):
        assert fit.e_fit <= case["e_fit"] + 1e-6, case
        assert fit.e_fit == pytest.approx(e_fit(case["widths"], fit.widths_fit), abs=1e-12)
        assert fit.w0 % 8 == 0 and 8 <= fit.w0 <= max(8, max(case["widths"]))
        assert 1.1 <= fit.wm <= 10 and fit.wa >= 0


def test_search_bounds_never_exceed_the_exact_cost():
    """The search prunes with lower bounds; each must stay at or below the exact best cost over
    wa (`sweep_a`) at every (w0, wm) it covers: the level DP with steps capped by linear growth,
    at points and over boxes around them, and the per-w0 isotonic bound."""
    rng = np.random.default_rng(4)
    seqs = [rng.integers(8, 513, rng.integers(3, 17)).astype(float) for _ in range(12)]
    seqs += [np.sort(8.0 * rng.integers(1, 65, rng.integers(3, 17))) for _ in range(12)]
    seqs += [
        np.array(regnet_block_widths(12, 32, 20.0, 2.2)) * rng.uniform(0.85, 1.15, 12)
        for _ in range(6)
    ]
    n, d = len(seqs), max(len(ws) for ws in seqs)
    logw, mask = np.zeros((n, d)), np.zeros((n, d), dtype=bool)
    for i, ws in enumerate(seqs):
        logw[i, : len(ws)], mask[i, : len(ws)] = np.log(ws), True
    maxw = np.array([ws.max() for ws in seqs])
    k_max = np.maximum(np.floor(maxw / 8), 1).astype(int)
    seq = np.repeat(np.arange(n), 100)
    k = 1 + (rng.random(seq.size) * k_max[seq]).astype(int)
    L = rng.uniform(np.log(1.1), np.log(10), seq.size)
    data = (logw, mask, maxw)
    _, exact = qlinear_search.sweep_a(*data, seq, 8 * k, L)
    assert np.all(qlinear_search.lower_bound(*data, seq, 8 * k, L, L) <= exact + 1e-9)
    k_lo = np.maximum(k - rng.integers(0, 4, seq.size), 1)
    k_hi = np.minimum(k + rng.integers(0, 4, seq.size), k_max[seq])
    L_lo, L_hi = L - rng.uniform(0, 0.05, seq.size), L + rng.uniform(0, 0.05, seq.size)
    box = qlinear_search.lower_bound(*data, seq, 8 * k_lo, L_lo, L_hi, 8 * k_hi)
    assert np.all(box <= exact + 1e-9)
    iso = qlinear_search.isotonic_bound(logw, mask, k_max)
    assert np.all(iso[seq, k - 1] <= exact + 1e-9)
    assert np.mean(box > 0) > 0.5  # and they are not vacuous


def test_issue_example_finds_the_global_optimum():
    """The local search stopped at e_fit 0.1281 (w0 144) here; (336, 20.633, 1.6582) gives 0.0489
    and (328, 20.58, 1.6711) 0.04814, in an L interval 40x narrower than the grid step."""
    widths = [136] + [296] * 4 + [560] * 14 + [912] * 12
    fit = fit_quantized_linear(widths)
    assert fit.e_fit <= e_fit(widths, regnet_block_widths(31, 336, 20.633, 1.6582))
    assert fit.e_fit <= e_fit(widths, regnet_block_widths(31, 328, 20.58, 1.6711)) + 1e-9


def test_collect_time_helpers():
    """RegNet widths are taken before the group-width adjustment (they are exactly
    quantized-linear); e_fit of table cells, None where a row has no widths (a ViT)."""
    model = {"family": "regnet", "d": 13, "w0": 24, "wa": 36.44, "wm": 2.49, "g": 8}
    assert widths_before_adjustment(model) == regnet_block_widths(13, 24, 36.44, 2.49)
    assert widths_before_adjustment({"family": "anynet"}) is None
    cells = [json.dumps(regnet_block_widths(13, 24, 36.44, 2.49)), "[]", "", "[30, 60, 150]"]
    out = e_fit_column(cells)
    assert out[0] == 0.0 and out[1] is None and out[2] is None and out[3] > 0


def test_reachable_min_is_the_capped_window_minimum():
    """The DP step of the bound, against a direct loop: block j - 1 may sit at most `cap` levels
    below block j (cap from linear growth, at each row's L), or anywhere below past MAX_STEP."""
    rng = np.random.default_rng(2)
    for levels, wm_max in ((1, 10), (2, 10), (5, 10), (12, 10), (12, 1.5)):
        f = rng.normal(size=(levels, 300))
        L = np.sort(rng.uniform(np.log(1.1), np.log(wm_max), 300))  # rows sorted by L, as used
        for j in range(2, 12):
            got = qlinear_search._reachable_min(f, j, L)
            cap = np.floor(np.log(j / (j - 1)) / L + 1e-9).astype(int) + 1
            for r in range(f.shape[1]):
                width = levels if cap[r] > qlinear_search.MAX_STEP else cap[r]
                want = [f[max(0, s - width) : s + 1, r].min() for s in range(levels)]
                np.testing.assert_array_equal(got[:, r], want)


def test_sweep_finds_the_best_wa_among_all_intervals():
    """`sweep_a` only sorts the exponent steps up to a1 (where every block has reached the first
    level at or above its own width); its cost must still be the best over every interval of wa,
    each evaluated with the RegNet width rule itself at the interval's midpoint."""
    rng = np.random.default_rng(7)
    seqs = [rng.integers(8, 513, rng.integers(2, 12)).astype(float) for _ in range(10)]
    seqs += [np.sort(8.0 * rng.integers(1, 65, rng.integers(2, 12))) for _ in range(10)]
    n, d = len(seqs), max(len(ws) for ws in seqs)
    logw, mask = np.zeros((n, d)), np.zeros((n, d), dtype=bool)
    for i, ws in enumerate(seqs):
        logw[i, : len(ws)], mask[i, : len(ws)] = np.log(ws), True
    maxw = np.array([ws.max() for ws in seqs])
    seq = np.repeat(np.arange(n), 12)
    w0 = 8 * (1 + (rng.random(seq.size) * np.floor(maxw[seq] / 8)).astype(int))
    L = rng.uniform(np.log(1.1), np.log(10), seq.size)
    a, cost = qlinear_search.sweep_a(logw, mask, maxw, seq, w0, L)
    for i in range(seq.size):
        ws, dl = seqs[seq[i]], len(seqs[seq[i]])
        # Every step of every block up to where block 1 passes twice the largest width.
        s = np.arange(int(np.log(2 * maxw[seq[i]] / w0[i]) / L[i] * 2) + 8)
        ev = np.unique((np.expm1((s + 0.5) * L[i])[None, :] / np.arange(1, dl)[:, None]).ravel())
        mids = np.r_[ev[0] / 2, (ev[:-1] + ev[1:]) / 2, 2 * ev[-1]] if ev.size else np.zeros(1)
        best = min(
            np.abs(np.log(ws / regnet_block_widths(dl, int(w0[i]), m * w0[i], np.exp(L[i])))).sum()
            for m in mids
        )
        assert cost[i] == pytest.approx(best, abs=1e-9)
        got = regnet_block_widths(dl, int(w0[i]), a[i] * w0[i], np.exp(L[i]))
        assert np.abs(np.log(ws / got)).sum() == pytest.approx(cost[i], abs=1e-9)


@pytest.mark.parametrize("rank_bits", [24, 12])  # 12: arrays of 5,000 take the lexsort path
def test_lexorder_is_lexsort(monkeypatch, rank_bits):
    """The packed-key sort the search uses instead of np.lexsort: the same order, ties (kept in
    the order of the later keys, then by position), inf and -0.0 included."""
    monkeypatch.setattr(qlinear_search, "_RANK_BITS", rank_bits)
    rng = np.random.default_rng(8)
    for n in (0, 1, 7, 5000):
        seq = rng.integers(0, 40, n)
        w0 = 8 * rng.integers(1, 9, n)
        cost = np.round(rng.random(n), 2)  # many ties
        cost[: n // 4] = np.inf
        cost[n // 4 : n // 3] = -0.0
        L = rng.uniform(0.09, 2.3, n)
        L[: n // 3] = 0.5
        for keys in ((cost, seq), (L, w0, seq), (L, w0, cost, seq), (cost,)):
            np.testing.assert_array_equal(qlinear_search._lexorder(*keys), np.lexsort(keys))


@pytest.mark.parametrize("rows", [5, 300])
def test_prefix_helpers_match_numpy(rows):
    """Both paths (few rows: numpy's accumulate and cumsum; many: one vector operation per
    column) give numpy's results exactly."""
    rng = np.random.default_rng(9)
    f = rng.normal(size=(13, rows))
    np.testing.assert_array_equal(qlinear_search._prefix_min(f), np.minimum.accumulate(f, 0))
    values = rng.normal(size=rows * 20)
    values[::17] = np.inf
    order = np.stack([rng.permutation(20) + 20 * r for r in range(rows)])
    total = np.cumsum(values[order], 1)
    k, low = qlinear_search._cheapest_prefix(values, order)
    np.testing.assert_array_equal(k, np.argmin(total, 1))
    np.testing.assert_array_equal(low, total.min(1))


def test_sorted_with_index_sorts_permutes_and_ignores_padding():
    """Values sorted with their columns; padding columns after the real ones (at inf or beyond
    the rest) change neither the order nor the values of the real ones."""
    rng = np.random.default_rng(3)
    values = np.exp(rng.normal(scale=5, size=(50, 333)))
    values[:, :3] = values[:, 3:6]  # ties
    got, order = qlinear_search._sorted_with_index(values)
    np.testing.assert_array_equal(np.sort(order, axis=1), np.tile(np.arange(333), (50, 1)))
    picked = np.take_along_axis(values, order, 1)
    assert np.all(np.diff(picked, axis=1) >= 0)
    np.testing.assert_allclose(got, picked, rtol=2.0**-36)
    padded = np.concatenate([values, np.full((50, 40), np.inf), np.full((50, 9), 1e300)], 1)
    got_p, order_p = qlinear_search._sorted_with_index(padded)
    np.testing.assert_array_equal(got_p[:, :333], got)
    np.testing.assert_array_equal(order_p[:, :333], order)


def test_parallel_search_equals_serial_search(monkeypatch):
    """Large batches are searched in forked processes; every result must be the one the batch
    gets in one process (each sequence's search depends only on its own widths)."""
    monkeypatch.setattr(qlinear_search, "PARALLEL_MIN", 8)
    monkeypatch.setattr(qlinear_search, "available_cores", lambda: 3)
    rng = np.random.default_rng(6)
    seqs = [rng.integers(8, 513, rng.integers(3, 9)).astype(float) for _ in range(18)]
    seqs += [np.sort(8.0 * rng.integers(1, 40, 6)) for _ in range(6)]
    assert qlinear_search.workers(len(seqs)) == 3 and qlinear_search.workers(15) == 1
    serial = qlinear_search._search(seqs, (1.1, 10.0))
    assert qlinear_search.search(seqs, (1.1, 10.0)) == serial
