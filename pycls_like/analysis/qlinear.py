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
2. Search, for the sequences no RegNet reproduces (hand-designed, unsorted or perturbed widths): a
   global search over every w0 (multiple of 8 up to the largest width) with admissible pruning, a
   log grid of wm refined around the best points, and the exactly best a for each (w0, wm); see
   `qlinear_search`. A test holds it to an exhaustive reference search (tests/golden_qlinear.json).
"""

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pycls_like.analysis.qlinear_search import search
from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_widths, stages_from_block_widths

Q = 8  # width quantum of regnet_block_widths
WM_RANGE = (1.1, 10.0)  # wide enough for the published (2.0..2.9) and sampled (1.5..3) spaces
_CHUNK = 4_000_000  # elements per vectorized block: bounds the memory of the float64 temporaries
_GOLDEN = (math.sqrt(5) - 1) / 2
GOLDEN_STEPS = 28  # shrinks the L interval 0.618**28 = 1.4e-6-fold: ample, the result is verified


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
    verified = set()  # the exact pass checked these against regnet_block_widths already
    for i, p in zip(todo, _exact_pass([seqs[i] for i in todo], wm_range), strict=True):
        params[i] = p
        if p is not None:
            verified.add(i)
    rest = [i for i, p in enumerate(params) if p is None]
    for i, p in zip(rest, search([seqs[i] for i in rest], wm_range), strict=True):
        params[i] = p
    fits = []
    for i, (ws, p) in enumerate(zip(seqs, params, strict=True)):
        w0, wa, wm = p  # type: ignore[misc]
        verified_widths = [int(w) for w in ws] if i in verified else None
        wf = verified_widths or regnet_block_widths(len(ws), w0, wa, wm)
        fits.append(QLinearFit(len(ws), w0, wa, wm, e_fit(ws, wf), tuple(wf)))
    return fits


def widths_before_adjustment(model: dict) -> list[int] | None:
    """A RegNet model section's widths as its (d, w0, wa, wm) generate them, before the group-width
    compatibility adjustment (the adjusted widths are no longer quantized-linear); None otherwise."""
    if model.get("family") != "regnet":
        return None
    try:
        d, w0, wa, wm = (model[k] for k in ("d", "w0", "wa", "wm"))
        return regnet_block_widths(int(d), int(w0), float(wa), float(wm))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def e_fit_column(cells: Iterable[object]) -> list[float | None]:
    """e_fit of every `block_widths` cell (JSON list or list); None where a row has no widths."""
    seqs: list[list[int] | None] = []
    for cell in cells:
        widths = json.loads(cell) if isinstance(cell, str) and cell.strip() else cell
        seqs.append(list(widths) if isinstance(widths, list) and widths else None)
    have = [i for i, w in enumerate(seqs) if w]
    out: list[float | None] = [None] * len(seqs)
    for i, fit in zip(have, fit_quantized_linear_many([seqs[i] for i in have]), strict=True):
        out[i] = fit.e_fit
    return out


def _validated(seq: Sequence[float], index: int) -> np.ndarray:
    try:
        ws = np.asarray(seq, dtype=float)  # one conversion, not one float() per width
    except (TypeError, ValueError):
        ws = np.empty((0, 0))
    if ws.ndim != 1:
        raise ConfigError(f"widths must be numbers, got {list(seq)!r}", key=f"sequence {index}")
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
    # Rows sorted by stage count and exponent range, chunked: padding to the largest row of the
    # whole population (the breakpoint arrays grow with both) would cost most of the time.
    stages = mask.sum(1)
    need = np.ceil(np.nanmax(hi, axis=1) / lmin).astype(int)
    order = np.lexsort((need, stages))
    out: list[tuple | None] = [None] * len(seqs)
    start = 0
    while start < len(seqs):
        k, s_max = int(stages[order[start]]), int(need[order[start]])
        step = max(1, _CHUNK // (2 * s_max * k**2 + 1))
        rows = order[start : start + step]
        k, s_max = int(stages[rows].max()), int(need[rows].max())
        rows = rows[: max(1, _CHUNK // (2 * s_max * k**2 + 1))]
        found = _exact_chunk(
            w0[rows],
            lo[rows, :k],
            hi[rows, :k],
            first[rows, :k],
            last[rows, :k],
            mask[rows, :k],
            lmin,
            lmax,
            s_max,
        )
        for r, p in zip(rows, found, strict=True):
            out[r] = p
        start += rows.size
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
    rows, cols = np.nonzero(np.isfinite(mid) & (right - left > 1e-12))
    # An interval is feasible if every stage has an exponent there (S(W) not empty); few are, so
    # stages filter the candidates one at a time, the widest (most selective) first.
    for st in range(k - 1, 0, -1):
        mid_c = mid[rows, cols]
        ok = ~mask[rows, st] | (
            np.maximum(np.ceil(lo[rows, st] / mid_c), 0) <= np.floor(hi[rows, st] / mid_c)
        )
        rows, cols = rows[ok], cols[ok]
    if rows.size == 0:
        return [None] * n
    mid_c = mid[rows, cols][:, None]
    m, big_m = np.maximum(np.ceil(lo[rows] / mid_c), 0), np.floor(hi[rows] / mid_c)
    # Stay a hair inside the interval: at its ends a stage width sits on a rounding tie.
    pad = 1e-3 * (right - left)[rows, cols]
    a_lo, a_hi = left[rows, cols] + pad, right[rows, cols] - pad
    args = (m, big_m, first[rows], last[rows], mask[rows])
    for _ in range(GOLDEN_STEPS):  # golden-section search for the widest feasible a-interval
        c, d = a_hi - _GOLDEN * (a_hi - a_lo), a_lo + _GOLDEN * (a_hi - a_lo)
        keep_left = _margin(c, *args)[0] >= _margin(d, *args)[0]
        a_hi, a_lo = np.where(keep_left, d, a_hi), np.where(keep_left, a_lo, c)
    best_l = (a_lo + a_hi) / 2
    g, a_min, a_max = _margin(best_l, *args)
    ok = np.flatnonzero(g > 1e-9)
    order = ok[np.lexsort((-g[ok], rows[ok]))]  # per row, widest margin first
    pick = order[np.r_[True, rows[order][1:] != rows[order][:-1]]] if order.size else order
    with np.errstate(invalid="ignore"):  # 0 * inf where a_min is 0: that branch is not taken
        a = np.where(a_min[pick] > 0, np.sqrt(a_min[pick] * a_max[pick]), a_max[pick] / 2)
    out: list[tuple | None] = [None] * n
    for r, a_r, l_r in zip(rows[pick], a, best_l[pick], strict=True):
        out[r] = (int(w0[r]), float(a_r * w0[r]), float(math.exp(l_r)))
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
