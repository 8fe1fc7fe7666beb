"""Quantized-linear fits of per-block widths (Designing Network Design Spaces, sec. 3.3).

A RegNet's widths are u_j = w0 + wa*j, quantized to w0*wm**s_j with s_j = round(log(u_j/w0)/log(wm))
and rounded to multiples of 8 (`regnet_block_widths`). Given observed widths w_j, the fit finds
(w0, wa, wm) minimizing e_fit = mean_j |log(w_j / w_fit_j)| with w_fit = regnet_block_widths(d, ...).

Two passes, each vectorized over a whole population:
1. Exact: with a = wa/w0 and L = log(wm), the widths are reproduced iff (i) each stage width W is
   round8(w0*e^{sL}) for every exponent s of the stage, i.e. s in S(W) = [ceil(lo_W/L), floor(hi_W/L)]
   with lo_W, hi_W = log((W -+ 4)/w0), and (ii) each block exponent log(1 + a*j)/L rounds into its
   stage's S(W); by monotonicity only a stage's first block (lower bound on a) and last block (upper
   bound on a) matter. The sets S are constant between breakpoints L = lo_W/s, hi_W/s, and inside
   such an interval the log-width of the feasible a-interval is a minimum of functions monotone in
   L, hence quasi-concave: a golden-section search finds the most robust (L, a), verified with
   `regnet_block_widths` itself. Any sequence some RegNet generated (wm in `wm_range`) is
   recovered with e_fit == 0.
2. Search, for the sequences no RegNet reproduces (hand-designed or perturbed widths): a grid over
   (w0, L) with, for each grid point, the exactly best a (e_fit is piecewise constant in a, see
   `_sweep_a`), then shrinking local grids over (w0, log a, L) around the best few points.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_widths, stages_from_block_widths

Q = 8  # width quantum of regnet_block_widths
WM_RANGE = (1.1, 10.0)  # wide enough for the published (2.0..2.9) and sampled (1.5..3) spaces
_CHUNK = 4_000_000  # elements per vectorized block: bounds the memory of the float64 temporaries
# Search pass, tuned on random AnyNet and noisy RegNet widths against a 400k-point random search:
# 12 evenly spaced log(wm) plus the log(wm) that put w0*wm**s (s <= 8) on a width quantile, three
# w0, exponents up to 16 in the exact a-sweep; the best 6 points are refined 8 times.
N_L, S_DATA, S_SWEEP, STARTS, ROUNDS, STEP_LA = 12, 8, 16, 6, 8, 0.2
QS = [0.5, 0.75, 0.9, 1.0]
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class QLinearFit:
    """Result of a fit: RegNet parameters, the widths they generate and the mean |log| misfit."""

    d: int
    w0: int
    wa: float
    wm: float
    e_fit: float
    widths_fit: tuple[int, ...]

    @property
    def exact(self) -> bool:
        return self.e_fit == 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["widths_fit"] = list(self.widths_fit)
        return out


def e_fit(widths: Sequence[float], widths_fit: Sequence[float]) -> float:
    """Mean absolute log-ratio between observed and fitted widths (sec. 3.3)."""
    w, f = np.asarray(widths, dtype=float), np.asarray(widths_fit, dtype=float)
    return float(np.mean(np.abs(np.log(w / f))))


def fit_quantized_linear(
    widths: Sequence[float], wm_range: tuple[float, float] = WM_RANGE
) -> QLinearFit:
    """Fit (w0, wa, wm) of `regnet_block_widths` to one per-block width sequence."""
    return fit_quantized_linear_many([widths], wm_range)[0]


def fit_quantized_linear_many(
    sequences: Sequence[Sequence[float]], wm_range: tuple[float, float] = WM_RANGE
) -> list[QLinearFit]:
    """Fit many width sequences at once (exact pass, then grid search for the rest)."""
    seqs = [_validated(s, i) for i, s in enumerate(sequences)]
    params: list[tuple[int, float, float] | None] = [None] * len(seqs)
    for i, ws in enumerate(seqs):
        if all(w == ws[0] for w in ws) and ws[0] % Q == 0:
            params[i] = (int(ws[0]), 0.0, 2.0)  # one stage: wa = 0, wm is not identifiable
    todo = [i for i, ws in enumerate(seqs) if params[i] is None and _may_be_regnet(ws)]
    for i, p in zip(todo, _exact_pass([seqs[i] for i in todo], wm_range), strict=True):
        params[i] = p
    rest = [i for i, p in enumerate(params) if p is None]
    for i, p in zip(rest, _search_pass([seqs[i] for i in rest], wm_range), strict=True):
        params[i] = p
    fits = []
    for ws, p in zip(seqs, params, strict=True):
        w0, wa, wm = p  # type: ignore[misc]
        wf = regnet_block_widths(len(ws), w0, wa, wm)
        fits.append(QLinearFit(len(ws), w0, wa, wm, e_fit(ws, wf), tuple(wf)))
    return fits


def _validated(seq: Sequence[float], index: int) -> np.ndarray:
    try:
        ws = np.asarray([float(w) for w in seq])
    except (TypeError, ValueError):
        raise ConfigError(
            f"widths must be numbers, got {list(seq)!r}", key=f"sequence {index}"
        ) from None
    if ws.size == 0 or not np.all(np.isfinite(ws)) or np.any(ws <= 0):
        raise ConfigError(
            f"widths must be a non-empty list of positive numbers, got {list(seq)!r}",
            key=f"sequence {index}",
        )
    return ws


def _may_be_regnet(ws: np.ndarray) -> bool:
    """RegNet widths are multiples of 8, non-decreasing, and start at w0."""
    return bool(np.all(ws % Q == 0) and np.all(np.diff(ws) >= 0))


def _pack_stages(seqs: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Padded (n, k) stage widths, first and last block indices, and mask."""
    stages = [stages_from_block_widths([int(w) for w in ws]) for ws in seqs]
    k = max(len(sw) for sw, _ in stages)
    sw, first, last = (np.ones((len(seqs), k)) for _ in range(3))
    mask = np.zeros((len(seqs), k), dtype=bool)
    for i, (widths, depths) in enumerate(stages):
        ends = np.cumsum(depths)
        n = len(widths)
        sw[i, :n], last[i, :n], first[i, :n], mask[i, :n] = widths, ends - 1, ends - depths, True
    return sw, first, last, mask


def _exact_pass(seqs: list[np.ndarray], wm_range: tuple[float, float]) -> list[tuple | None]:
    """(w0, wa, wm) reproducing each sequence exactly, or None where no RegNet in range does."""
    if not seqs:
        return []
    sw, first, last, mask = _pack_stages(seqs)
    w0 = np.array([ws[0] for ws in seqs])
    lmin, lmax = math.log(wm_range[0]), math.log(wm_range[1])
    lo = np.where(mask, np.log(np.maximum(sw - Q / 2, 1e-9) / w0[:, None]), np.nan)
    hi = np.where(mask, np.log((sw + Q / 2) / w0[:, None]), np.nan)
    s_max = int(math.ceil(np.nanmax(hi) / lmin))
    step = max(1, _CHUNK // (2 * s_max * sw.shape[1] ** 2 + 1))
    out: list[tuple | None] = []
    for start in range(0, len(seqs), step):
        sl = slice(start, start + step)
        out += _exact_chunk(
            w0[sl], lo[sl], hi[sl], first[sl], last[sl], mask[sl], lmin, lmax, s_max
        )
    return [_verified(ws, p) for ws, p in zip(seqs, out, strict=True)]


def _exact_chunk(w0, lo, hi, first, last, mask, lmin, lmax, s_max) -> list[tuple | None]:
    n, k = lo.shape
    s = np.arange(1, s_max + 1)
    # Breakpoints where some S(W) changes; S(w0) = [0, ...] so stage 0 only contributes hi/s.
    bps = np.concatenate([np.where(lo > 0, lo, np.nan)[..., None] / s, hi[..., None] / s], axis=-1)
    bps = np.where((bps > lmin) & (bps < lmax), bps, np.nan).reshape(n, -1)
    bps = np.sort(
        np.concatenate([np.full((n, 1), lmin), np.full((n, 1), lmax), bps], axis=1), axis=1
    )
    left, right = bps[:, :-1], bps[:, 1:]
    mid = (left + right) / 2
    m = np.maximum(np.ceil(lo[:, None, :] / mid[..., None]), 0)
    big_m = np.floor(hi[:, None, :] / mid[..., None])
    valid = np.isfinite(mid) & (right - left > 1e-12) & ((m <= big_m) | ~mask[:, None, :]).all(-1)
    rows, cols = np.nonzero(valid)
    if rows.size == 0:
        return [None] * n
    # Stay a hair inside the interval: at its ends a stage width sits on a rounding tie.
    pad = 1e-3 * (right - left)[rows, cols]
    a_lo, a_hi = left[rows, cols] + pad, right[rows, cols] - pad
    args = (m[rows, cols], big_m[rows, cols], first[rows], last[rows], mask[rows])
    for _ in range(48):  # golden-section search for the widest feasible a-interval
        c, d = a_hi - _GOLDEN * (a_hi - a_lo), a_lo + _GOLDEN * (a_hi - a_lo)
        keep_left = _margin(c, *args)[0] >= _margin(d, *args)[0]
        a_hi, a_lo = np.where(keep_left, d, a_hi), np.where(keep_left, a_lo, c)
    best_l = (a_lo + a_hi) / 2
    g, a_min, a_max = _margin(best_l, *args)
    order = np.lexsort((-g, rows))  # per row, widest margin first
    out: list[tuple | None] = [None] * n
    for idx in order:
        r = rows[idx]
        if out[r] is None and g[idx] > 1e-9:
            a = math.sqrt(a_min[idx] * a_max[idx]) if a_min[idx] > 0 else a_max[idx] / 2
            out[r] = (int(w0[r]), float(a * w0[r]), float(math.exp(best_l[idx])))
    return out


def _margin(L, m, big_m, first, last, mask):
    """log(a_max / a_min) of the a-interval keeping every block exponent in its stage's S(W)."""
    L = L[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(mask & (first > 0), np.expm1((m - 0.5) * L) / first, 0.0)
        upper = np.where(mask & (last > 0), np.expm1((big_m + 0.5) * L) / last, np.inf)
        a_min, a_max = lower.max(1), upper.min(1)
        return np.log(a_max) - np.log(a_min), a_min, a_max


def _verified(ws: np.ndarray, p: tuple | None) -> tuple | None:
    """Check with the reference implementation; prefer the shortest decimals that stay exact."""
    if p is None:
        return None
    w0, wa, wm = p
    target = [int(w) for w in ws]
    for digits in (2, 3, 4, 6):
        rounded = (w0, round(wa, digits), round(wm, digits))
        if rounded[2] > 1 and regnet_block_widths(len(ws), *rounded) == target:
            return rounded
    return p if regnet_block_widths(len(ws), w0, wa, wm) == target else None


def _search_pass(seqs: list[np.ndarray], wm_range: tuple[float, float]) -> list[tuple]:
    """Minimize e_fit: grid over (w0, L) with the best a for each, then shrinking local grids around
    the best STARTS points (e_fit is piecewise constant and multimodal: one start gets trapped)."""
    if not seqs:
        return []
    n, d_max = len(seqs), max(len(ws) for ws in seqs)
    logw, mask = np.zeros((n, d_max)), np.zeros((n, d_max), dtype=bool)
    for i, ws in enumerate(seqs):
        logw[i, : len(ws)], mask[i, : len(ws)] = np.log(ws), True
    w0_base = np.maximum(Q * np.round(np.array([ws[0] for ws in seqs]) / Q), Q)
    l_min, l_max = math.log(wm_range[0]), math.log(wm_range[1])
    # Coarse search: w0 near the first width; L on a fixed grid plus the values that put a stage
    # width w0*wm**s on a width quantile; for each (w0, L) the exactly best a (`_sweep_a`).
    dw = Q * np.arange(-1, 2)
    w0_c = np.maximum(w0_base[:, None] + dw, Q)  # (n, 3)
    quantiles = np.array([np.quantile(ws, QS) for ws in seqs])  # (n, len(QS))
    l_data = np.log(quantiles[:, None, :] / w0_c[..., None])[..., None] / np.arange(1, S_DATA + 1)
    l_fixed = np.broadcast_to(np.linspace(l_min, l_max, N_L), (n, 3, N_L))
    l_grid = np.concatenate([l_fixed, np.clip(l_data.reshape(n, 3, -1), l_min, l_max)], 2)
    w0_g, l_g = _flat((w0_c[..., None], l_grid), l_grid.shape)
    la_g, err = _sweep_a(logw, mask, w0_g, l_g)
    top = np.argpartition(err, STARTS - 1, axis=1)[:, :STARTS]
    best = [np.take_along_axis(g, top, 1) for g in (w0_g, la_g, l_g)]
    # Refinement: a 3 x 5 x 5 grid around each start, halving the steps each round.
    rows = np.repeat(np.arange(n), STARTS)
    logw, mask, best = logw[rows], mask[rows], [b.reshape(-1) for b in best]
    step_la, step_l = STEP_LA, (l_max - l_min) / (N_L - 1)
    offs = np.arange(-2, 3) / 2
    for _ in range(ROUNDS):
        grids = (
            np.maximum(best[0][:, None, None, None] + dw[:, None, None], Q),
            best[1][:, None, None, None] + step_la * offs[:, None],
            np.clip(best[2][:, None, None, None] + step_l * offs, l_min, l_max),
        )
        *best, err = (b[:, 0] for b in _best(logw, mask, *_flat(grids, (len(rows), 3, 5, 5)), k=1))
        step_la, step_l = step_la / 2, step_l / 2
    pick = np.arange(n) * STARTS + err.reshape(n, STARTS).argmin(1)
    return [
        (int(w0), float(math.exp(la) * w0), float(math.exp(L)))
        for w0, la, L in zip(*(b[pick] for b in best), strict=True)
    ]


def _sweep_a(logw, mask, w0, L) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate (w0, L), the exact best log(a) and its summed |log| error.

    With (w0, L) fixed, e_fit is piecewise constant in a: it changes only where a block's exponent
    round(log(1 + a*j)/L) steps from s to s+1, at a = (e^{(s+0.5)L} - 1)/j. Sorting those events and
    accumulating the cost changes gives the cost on every interval; exponents above S_SWEEP are not
    modelled, so intervals past the first such step are excluded.
    """
    n, c = w0.shape
    dlen = logw.shape[1]
    s = np.arange(S_SWEEP + 1)
    j = np.arange(1, dlen)[:, None]  # block 0 always has exponent 0
    d = mask.sum(1)
    la_out, err_out = np.empty((n, c)), np.empty((n, c))
    step = max(1, _CHUNK // (c * dlen * (S_SWEEP + 1)))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        b = logw[sl].shape[0]
        ll = L[sl][..., None, None]  # (b, c, 1, 1)
        widths = np.maximum(np.rint(w0[sl][..., None] * np.exp(s * ll[..., 0]) / Q), 1) * Q
        cost = np.abs(logw[sl][:, None, :, None] - np.log(widths)[:, :, None, :])  # (b, c, D, S+1)
        cost = np.where(mask[sl][:, None, :, None], cost, 0.0)
        base = cost[..., 0].sum(-1)  # a -> 0: every exponent 0
        delta = np.diff(cost[:, :, 1:], axis=-1).reshape(b, c, -1)
        events = np.expm1((s[:-1] + 0.5) * ll) / j  # (b, c, D-1, S)
        events = np.where(mask[sl][:, None, 1:, None], events, np.inf).reshape(b, c, -1)
        order = np.argsort(events, axis=-1)
        events = np.take_along_axis(events, order, -1)
        total = base[..., None] + np.cumsum(np.take_along_axis(delta, order, -1), -1)
        end = np.expm1((S_SWEEP + 0.5) * ll[..., 0, 0]) / np.maximum(d[sl] - 1, 1)[:, None]
        total = np.where(events < end[..., None], total, np.inf)
        k = np.argmin(np.concatenate([base[..., None], total], -1), -1)[..., None]
        bounds = np.concatenate([np.zeros((b, c, 1)), events, np.full((b, c, 1), np.inf)], -1)
        lo, hi = (
            np.take_along_axis(bounds, k, -1)[..., 0],
            np.take_along_axis(bounds, k + 1, -1)[..., 0],
        )
        with np.errstate(invalid="ignore"):  # sqrt(0 * inf) in branches np.where discards
            a = np.where(np.isfinite(hi), np.where(lo > 0, np.sqrt(lo * hi), hi / 2), lo * 1.05)
        la_out[sl] = np.log(np.maximum(a, 1e-6))
        err_out[sl] = np.take_along_axis(np.concatenate([base[..., None], total], -1), k, -1)[
            ..., 0
        ]
    return la_out, err_out


def _flat(grids: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> list[np.ndarray]:
    """Broadcast per-axis candidate arrays to the full grid, flattened to (rows, candidates)."""
    return [np.broadcast_to(g, shape).reshape(shape[0], -1) for g in grids]


def _best(logw, mask, w0, la, L, k: int) -> tuple[np.ndarray, ...]:
    """Per sequence, the k candidates (w0, log a, L) with the smallest e_fit, and those e_fits."""
    n, c = w0.shape
    k = min(k, c)
    j = np.arange(logw.shape[1])
    idx, errs = np.empty((n, k), dtype=int), np.empty((n, k))
    step = max(1, _CHUNK // (c * logw.shape[1]))
    for s in range(0, n, step):
        sl = slice(s, s + step)
        ll = L[sl][..., None]
        expo = np.rint(np.log1p(np.exp(la[sl])[..., None] * j) / ll)
        wf = np.maximum(np.rint(w0[sl][..., None] * np.exp(expo * ll) / Q), 1) * Q
        err = np.where(mask[sl][:, None, :], np.abs(logw[sl][:, None, :] - np.log(wf)), 0.0).sum(-1)
        top = (
            np.argpartition(err, k - 1, axis=1)[:, :k]
            if k < c
            else np.broadcast_to(np.arange(c), err.shape)
        )
        idx[sl], errs[sl] = top, np.take_along_axis(err, top, 1)
    rows = np.arange(n)[:, None]
    return w0[rows, idx], la[rows, idx], L[rows, idx], errs
