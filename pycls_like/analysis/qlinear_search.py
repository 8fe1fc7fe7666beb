"""Global search for the quantized-linear parameters of widths no RegNet reproduces exactly.

Domain (the same as the reference search in tools/make_qlinear_golden.py): w0 every multiple of 8
up to the largest width, wm in `wm_range` (L = log wm), a = wa/w0 >= 0. Cost: the summed
|log(w_j / w_fit_j)| (e_fit times d).

- For fixed (w0, L) the best a is found exactly (`sweep_a`): the cost is piecewise constant in a,
  changing only where a block's exponent round(log(1 + a*j)/L) steps, so sorting those events and
  accumulating the cost changes gives it on every interval.
- (w0, L) by branch and bound (`_descend`): boxes of w0 values x L intervals of a log grid of
  N_GRID values of wm are halved on both sides while their admissible bound (`lower_bound`: the
  best non-decreasing choice of levels, each anywhere in its range over the box) can beat the
  best cost; the centres of the most promising boxes are swept for upper bounds on the way.
- In every surviving grid cell, its grid point and each "aligned" L (a level on, or at a rounding
  edge of, an observed width: optima are often narrower than the grid step and sit there;
  `_aligned`) is swept if its point bound can still win. Then the REFINE_TOP best distinct
  points are refined on finer grids between their neighbours (and w0 +- 8), REFINE_ROUNDS
  times. The grid is exhaustive up to the bounds; the refinement is a heuristic.
- Candidates are swept in waves (most promising first) so the best cost tightens early.
"""

import math

import numpy as np

Q = 8
N_GRID = 200  # log-grid points of wm (the issue asks for >= 200); step 1.1% of wm
REFINE_TOP = 8  # distinct (w0, L) starts refined per sequence (4 missed one of 240 by 0.011)
ALIGN_WIDTHS, ALIGN_S = 8, 4  # aligned L per w0: 8 width quantiles x 3 (centre, edges) x s <= 4
REFINE_SUB = 8  # each refinement round divides the step by this
REFINE_ROUNDS = 3  # final step: grid step / 512 (the reference grid's: L range / 1023)
WAVES = (8, 32, 128, 512)  # candidates swept per sequence before the bound is re-applied
PROBES = 8  # box centres per sequence swept at each level of the descent (upper bounds)
_CHUNK = 3_000_000  # elements per vectorized block: bounds the memory of float64 temporaries


def search(seqs: list[np.ndarray], wm_range: tuple[float, float]) -> list[tuple[int, float, float]]:
    """(w0, wa, wm) minimizing e_fit for each sequence, over the whole domain."""
    if not seqs:
        return []
    n, d_max = len(seqs), max(len(ws) for ws in seqs)
    logw, mask = np.zeros((n, d_max)), np.zeros((n, d_max), dtype=bool)
    for i, ws in enumerate(seqs):
        logw[i, : len(ws)], mask[i, : len(ws)] = np.log(ws), True
    maxw = np.array([ws.max() for ws in seqs])
    k_max = np.maximum(np.floor(maxw / Q), 1).astype(int)  # w0 = Q*k, k = 1..k_max
    grid = np.linspace(math.log(wm_range[0]), math.log(wm_range[1]), N_GRID)
    g = grid.size
    best = _Best(n)
    evaluate = _Evaluator(best, logw, mask, maxw)
    seq, w0s, cells = _descend(best, (logw, mask, maxw), k_max, grid)
    # Every grid point and "aligned" L (a level on, or at a rounding edge of, an observed width:
    # optima are often narrower than the grid step and sit there; `_aligned`) of a surviving cell.
    if seq.size:
        pair = seq * (k_max.max() + 1) + w0s // Q
        _, first = np.unique(pair, return_index=True)
        a_seq, a_w0, a_l = _aligned(seq[first], w0s[first], logw, mask, grid)
        a_cell = np.minimum(np.searchsorted(grid, a_l, side="right") - 1, g - 1)
        ok = np.isin((a_seq * (k_max.max() + 1) + a_w0 // Q) * g + a_cell, pair * g + cells)
        evaluate(*(np.r_[v, a[ok]] for v, a in ((seq, a_seq), (w0s, a_w0), (grid[cells], a_l))))
    _refine(evaluate, best, grid, k_max, REFINE_TOP)
    return [
        # exp(log(wm)) may round past the domain's ends (10.000000000000002): clamp to them.
        (int(w0), float(a * w0), min(max(math.exp(L), wm_range[0]), wm_range[1]))
        for w0, a, L in zip(best.w0, best.a, best.L, strict=True)
    ]


def _refine(evaluate: "_Evaluator", best: "_Best", grid, k_max, top: int) -> None:
    """Refine the `top` best points evaluated so far: finer L grids between their grid
    neighbours, with w0 - Q, w0 and w0 + Q, REFINE_ROUNDS times."""
    step = grid[1] - grid[0] if grid.size > 1 else 0.0
    for _ in range(REFINE_ROUNDS):
        seq, w0, L = best.top(top)
        offs = np.arange(-REFINE_SUB, REFINE_SUB + 1) * (step / REFINE_SUB)
        c = offs.size * 3
        seq_r = np.repeat(seq, c)
        w0_r = np.repeat(w0, c) + np.tile(np.repeat([-Q, 0, Q], offs.size), seq.size)
        l_r = np.clip(np.repeat(L, c) + np.tile(offs, 3 * seq.size), grid[0], grid[-1])
        ok = (w0_r >= Q) & (w0_r <= Q * k_max[seq_r])
        evaluate(seq_r[ok], w0_r[ok], l_r[ok])
        step /= REFINE_SUB


class _Evaluator:
    """Sweep the candidates whose lower bound can still beat their sequence's best."""

    def __init__(self, best: "_Best", logw, mask, maxw) -> None:
        self.best, self.data = best, (logw, mask, maxw)

    def __call__(self, seq, w0, L) -> None:
        bound = lower_bound(*self.data, seq, w0, L, L)
        keep = bound < self.best.cost[seq] - 1e-9
        seq, w0, L, bound = seq[keep], w0[keep], L[keep], bound[keep]
        # Most promising first, in waves: each wave's results tighten the next wave's pruning.
        order = np.lexsort((bound, seq))
        seq, w0, L, bound = seq[order], w0[order], L[order], bound[order]
        rank = _rank_within(seq)
        lo = 0
        for hi in (*WAVES, np.inf):
            wave = (rank >= lo) & (rank < hi)
            wave &= bound < self.best.cost[seq] - 1e-9
            if wave.any():
                self.best.update(
                    seq[wave], w0[wave], L[wave], *sweep_a(*self.data, seq[wave], w0[wave], L[wave])
                )
            lo = hi


def _rank_within(seq: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    if seq.size == 0:
        return seq
    start = np.r_[0, np.flatnonzero(seq[1:] != seq[:-1]) + 1]
    return np.arange(seq.size) - np.repeat(start, np.diff(np.r_[start, seq.size]))


class _Best:
    """Per sequence: the cheapest (w0, a, L) evaluated so far."""

    def __init__(self, n: int) -> None:
        self.cost = np.full(n, np.inf)
        self.seen: list[tuple[np.ndarray, ...]] = []
        self.w0, self.a, self.L = np.zeros(n, dtype=int), np.zeros(n), np.zeros(n)

    def update(self, seq, w0, L, a, cost) -> None:
        self.seen.append((seq, w0, L, cost))
        order = np.lexsort((cost, seq))
        seq_o = seq[order]
        first = order[np.r_[True, seq_o[1:] != seq_o[:-1]]]
        better = cost[first] < self.cost[seq[first]] - 1e-12
        pick, at = first[better], seq[first[better]]
        self.cost[at], self.w0[at], self.a[at], self.L[at] = cost[pick], w0[pick], a[pick], L[pick]

    def top(self, k: int) -> tuple[np.ndarray, ...]:
        """The k cheapest distinct (w0, L) per sequence among everything evaluated."""
        seq, w0, L, cost = (np.concatenate(v) for v in zip(*self.seen, strict=True))
        order = np.lexsort((L, w0, cost, seq))
        seq, w0, L = seq[order], w0[order], L[order]
        dup = np.r_[False, (seq[1:] == seq[:-1]) & (w0[1:] == w0[:-1]) & (L[1:] == L[:-1])]
        seq, w0, L = seq[~dup], w0[~dup], L[~dup]
        keep = _rank_within(seq) < k
        return seq[keep], w0[keep], L[keep]


def _aligned(seq, w0, logw, mask, grid) -> tuple[np.ndarray, ...]:
    """Candidates (seq, w0, L) with L = log(t/w0)/s or a hair inside log((t -+ Q/2)/w0)/s, for t
    the observed widths rounded to Q (ALIGN_WIDTHS quantiles) and s = 1..ALIGN_S."""
    qs = np.linspace(0, 1, ALIGN_WIDTHS)
    masked = np.where(mask[seq], np.exp(logw[seq]), np.nan)
    t = np.maximum(np.rint(np.nanquantile(masked, qs, axis=1).T / Q), 1) * Q  # (m, ALIGN_WIDTHS)
    edge = np.array([-Q / 2 + 1e-6, 0.0, Q / 2 - 1e-6])
    s_ = np.arange(1, ALIGN_S + 1)
    ratio = (t[:, :, None] + edge) / w0[:, None, None]  # (m, T, 3)
    L = np.log(np.maximum(ratio, 1e-9))[..., None] / s_  # (m, T, 3, S)
    L = L.reshape(len(seq), -1)
    ok = (grid[0] <= L) & (grid[-1] >= L)
    rows = np.repeat(np.arange(len(seq)), L.shape[1]).reshape(L.shape)
    return seq[rows[ok]], w0[rows[ok]], L[ok]


def _descend(
    best: _Best, data: tuple, k_max: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Branch and bound over boxes of (w0, L cells): (seq, w0, cell) of every grid cell whose
    bound can still beat its sequence's best. A box is w0 in Q*[k_lo, k_hi] and L in
    [grid[i_lo], grid[i_hi + 1]]; each level halves both sides and sweeps the centres of the
    PROBES most promising boxes per sequence, so the best cost tightens as the boxes shrink."""
    g, n = grid.size, k_max.size
    seq, k_lo, k_hi = np.arange(n), np.ones(n, dtype=int), k_max.copy()
    i_lo, i_hi = np.zeros(n, dtype=int), np.full(n, g - 1)
    leaves: list[tuple[np.ndarray, ...]] = []
    while seq.size:
        bound = lower_bound(
            *data, seq, Q * k_lo, grid[i_lo], grid[np.minimum(i_hi + 1, g - 1)], Q * k_hi
        )
        order = np.lexsort((bound, seq))
        probe = order[_rank_within(seq[order]) < PROBES]
        w0_p, l_p = Q * ((k_lo[probe] + k_hi[probe]) // 2), grid[(i_lo[probe] + i_hi[probe]) // 2]
        best.update(seq[probe], w0_p, l_p, *sweep_a(*data, seq[probe], w0_p, l_p))
        keep = bound < best.cost[seq] - 1e-9
        leaf = keep & (k_lo == k_hi) & (i_lo == i_hi)
        leaves.append((seq[leaf], Q * k_lo[leaf], i_lo[leaf]))
        keep &= ~leaf
        seq, k_lo, k_hi, i_lo, i_hi = (v[keep] for v in (seq, k_lo, k_hi, i_lo, i_hi))
        k_mid, i_mid = (k_lo + k_hi) // 2, (i_lo + i_hi) // 2
        # Children: lower and upper halves of each side (a side of one value is not split).
        kids = []
        for upper_k in (False, True):
            for upper_i in (False, True):
                ok = ((k_lo < k_hi) | (not upper_k)) & ((i_lo < i_hi) | (not upper_i))
                kl = np.where(upper_k, k_mid + 1, k_lo)
                kh = np.where(upper_k | (k_lo == k_hi), k_hi, k_mid)
                il = np.where(upper_i, i_mid + 1, i_lo)
                ih = np.where(upper_i | (i_lo == i_hi), i_hi, i_mid)
                kids.append(tuple(v[ok] for v in (seq, kl, kh, il, ih)))
        seq, k_lo, k_hi, i_lo, i_hi = (np.concatenate(v) for v in zip(*kids, strict=True))
    return tuple(np.concatenate(v) for v in zip(*leaves, strict=True))


def sweep_a(logw, mask, maxw, seq, w0, L) -> tuple[np.ndarray, np.ndarray]:
    """For candidate rows (sequence index, w0, L): the exactly best a and its summed cost."""
    a_out, cost_out = np.empty(seq.size), np.empty(seq.size)
    d = mask.sum(1)[seq]
    # Only a up to a1 can win: once block 1's exponent reaches s_top (the first level >= the
    # largest width) every block's width is >= every observed width and raising a never helps.
    # Levels are needed up to the exponent the last block reaches at a1.
    s_top = np.maximum(np.ceil(np.log((maxw[seq] + Q / 2) / w0) / L), 0)
    a1 = np.expm1((s_top - 0.5) * L)
    s_need = np.ceil(np.log1p(np.maximum(d - 1, 1) * np.maximum(a1, 0)) / L + 0.5) + 1
    for r, s_b, d_b in _groups(s_need, d):
        lw = logw[seq[r], :d_b]
        a_out[r], cost_out[r] = _sweep_block(lw, w0[r], L[r], a1[r], s_b)
    return a_out, cost_out


def lower_bound(logw, mask, maxw, seq, w0, L_lo, L_hi, w0_hi=None) -> np.ndarray:
    """Admissible bound on the summed cost at any w0 in [w0, w0_hi], L in [L_lo, L_hi] and a: the
    best non-decreasing choice of levels (block 0 at level 0), each level anywhere in its range
    over the box, by dynamic programming over blocks; no sort, so cheaper than `sweep_a`, and
    tight where the widths are sorted. Levels past the first one above every width (s_top at
    the box's lowest corner) never help: they are cut."""
    w0_hi = w0 if w0_hi is None else w0_hi
    s_top = np.ceil(np.log((maxw[seq] + Q / 2) / w0) / L_lo)
    out = np.empty(seq.size)
    for r, s_b, d_b in _groups(s_top, mask.sum(1)[seq]):
        # Layout (block, level, row): each DP step is one vector operation over the rows.
        lw = logw[seq[r], :d_b].T[:, None, :]
        lv_lo = _log_levels(w0[r], L_lo[r], s_b).T[None]
        lv_hi = _log_levels(w0_hi[r], L_hi[r], s_b).T[None]
        cost = np.maximum(np.maximum(lv_lo - lw, lw - lv_hi), 0.0)
        f = np.full(cost.shape[1:], np.inf)
        f[0] = cost[0, 0]
        for j in range(1, d_b):
            f = cost[j] + np.minimum.accumulate(f, axis=0)
        out[r] = f.min(0)
    return out


def _groups(levels: np.ndarray, d: np.ndarray):
    """Row blocks of one sequence length and similar level counts (rounded up to 4), with
    bounded memory: (row indices, levels S, length d); no padded blocks or levels computed."""
    bucket = 4 * np.ceil(np.maximum(levels, 1) / 4).astype(int)
    key = bucket * (d.max() + 1) + d
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        s_b, d_b = divmod(int(k), int(d.max()) + 1)
        step = max(1, _CHUNK // (d_b * (s_b + 1)))
        for start in range(0, idx.size, step):
            yield idx[start : start + step], s_b, d_b


def _log_levels(w0, L, S) -> np.ndarray:
    """log V_s = log(Q * round(w0 * e^{sL} / Q)), s = 0..S, as regnet_block_widths rounds."""
    return np.log(
        np.maximum(np.rint(w0[:, None] * np.exp(np.arange(S + 1) * L[:, None]) / Q), 1) * Q
    )


def _sweep_block(logw, w0, L, a1, S) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one length d: sort the exponent steps of blocks 1..d-1 in a, accumulate."""
    b, dlen = logw.shape
    s = np.arange(S + 1)
    ll = L[:, None]
    cost = np.abs(logw[..., None] - _log_levels(w0, L, S)[:, None, :])  # (b, d, S+1)
    base = cost[:, :, 0].sum(1)  # a -> 0: every exponent 0
    if dlen == 1:
        return np.zeros(b), base
    delta = np.diff(cost[:, 1:, :], axis=-1).reshape(b, -1)  # (b, (D-1)*S)
    j = np.arange(1, dlen)[:, None]
    events = np.expm1((s[:-1] + 0.5) * ll[:, None, :]) / j  # (b, D-1, S)
    events = events.reshape(b, -1)
    order = np.argsort(events, axis=-1)
    events = np.take_along_axis(events, order, -1)
    total = np.cumsum(np.take_along_axis(delta, order, -1), -1) + base[:, None]
    total = np.where(events <= a1[:, None], total, np.inf)
    totals = np.concatenate([base[:, None], total], -1)
    k = np.argmin(totals, -1)
    # Past the last computed level the next event is at least a_cap (block D-1 at level S).
    a_cap = np.expm1((S + 0.5) * L) / max(dlen - 1, 1)
    bounds = np.concatenate([np.zeros((b, 1)), events, np.full((b, 1), np.inf)], -1)
    rows = np.arange(b)
    lo, hi = bounds[rows, k], np.minimum(bounds[rows, k + 1], a_cap)
    with np.errstate(invalid="ignore"):
        a = np.where(lo > 0, np.sqrt(lo * hi), hi / 2)
    return a, totals[rows, k]
