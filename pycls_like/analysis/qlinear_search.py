"""Global search for the quantized-linear parameters of widths no RegNet reproduces exactly.

Domain (the same as the reference search in tools/make_qlinear_golden.py): w0 every multiple of 8
up to the largest width, wm in `wm_range` (L = log wm), a = wa/w0 >= 0. Cost: the summed
|log(w_j / w_fit_j)| (e_fit times d).

- For fixed (w0, L) the best a is found exactly (`sweep_a`): the cost is piecewise constant in a,
  changing only where a block's exponent round(log(1 + a*j)/L) steps, so sorting those events and
  accumulating the cost changes gives it on every interval.
- w0 is pruned with an admissible bound: block 0 always gets width w0 and every fitted width is
  >= w0, so cost >= |log(w_0/w0)| + sum_j max(0, log(w0/w_j)).
- L: every surviving w0 gets a log grid of N_GRID values of wm; a grid point is swept only if
  its admissible bound (`lower_bound`: the best non-decreasing choice of levels) can beat the
  best cost; so is every "aligned" L, which puts a level on (or at a rounding edge of) an
  observed width (optima are often narrower than the grid step and sit there; `_aligned`).
  Then the REFINE_TOP best distinct points are refined on finer grids between their
  neighbours (and w0 +- 8), REFINE_ROUNDS times. The grid is exhaustive up to the bounds; the
  refinement is a heuristic (a bound over whole cells was tried: exact, but 10-20x slower).
- Bounds prune in waves (most promising w0 and candidates first) so the best cost tightens early.
"""

import math

import numpy as np

Q = 8
N_GRID = 200  # log-grid points of wm (the issue asks for >= 200); step 1.1% of wm
REFINE_TOP = 8  # distinct (w0, L) starts refined per sequence (4 passed the golden test too)
ALIGN_WIDTHS, ALIGN_S = 8, 6  # aligned L per w0: 8 width quantiles x 3 (centre, edges) x s <= 6
REFINE_SUB = 8  # each refinement round divides the step by this
REFINE_ROUNDS = 3  # final step: grid step / 512 (the reference grid's: L range / 1023)
WAVES = (8, 32, 128, 512)  # candidates swept per sequence before the bound is re-applied
W0_WAVES = (2, 6, 16, 48)  # w0 values per sequence searched before their bound is re-applied
_CHUNK = 3_000_000  # elements per vectorized block: bounds the memory of the float64 temporaries


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
    # A first upper bound, unpruned: w0 nearest the first width (block 0's width is w0), whole grid.
    k0 = np.clip(np.rint(np.exp(logw[:, 0]) / Q), 1, k_max).astype(int)
    rows, l_rows = np.repeat(np.arange(n), g), np.tile(grid, n)
    best.update(rows, Q * k0[rows], l_rows, *sweep_a(logw, mask, maxw, rows, Q * k0[rows], l_rows))
    seq_i = np.repeat(np.arange(n), k_max)
    w0s = Q * (np.arange(seq_i.size) - np.repeat(np.cumsum(k_max) - k_max, k_max) + 1)
    seq_i, w0s = seq_i[w0s != Q * k0[seq_i]], w0s[w0s != Q * k0[seq_i]]
    bound = _w0_bound(logw, mask, seq_i, w0s)
    order = np.lexsort((bound, seq_i))
    seq_i, w0s, bound = seq_i[order], w0s[order], bound[order]
    rank, lo = _rank_within(seq_i), 0
    for hi in (*W0_WAVES, np.inf):
        wave = (rank >= lo) & (rank < hi) & (bound < best.cost[seq_i] - 1e-9)
        m = int(wave.sum())
        if m:
            evaluate(np.repeat(seq_i[wave], g), np.repeat(w0s[wave], g), np.tile(grid, m))
            # The L that put a level on (or at a rounding edge of) an observed width: optima
            # are often narrower than the grid step and sit where levels and widths align.
            evaluate(*_aligned(seq_i[wave], w0s[wave], logw, mask, grid))
        lo = hi
    # Refine the best few grid points: finer L grids between their neighbours, w0 +- Q.
    step = grid[1] - grid[0] if g > 1 else 0.0
    for _ in range(REFINE_ROUNDS):
        starts = best.top(REFINE_TOP)
        offs = np.arange(-REFINE_SUB, REFINE_SUB + 1) * (step / REFINE_SUB)
        c = offs.size * 3
        seq_r = np.repeat(starts[0], c)
        w0_r = np.repeat(starts[1], c) + np.tile(np.repeat([-Q, 0, Q], offs.size), starts[0].size)
        l_r = np.clip(
            np.repeat(starts[2], c) + np.tile(offs, 3 * starts[0].size), grid[0], grid[-1]
        )
        ok = (w0_r >= Q) & (w0_r <= Q * k_max[seq_r])
        evaluate(seq_r[ok], w0_r[ok], l_r[ok])
        step /= REFINE_SUB
    return [
        # exp(log(wm)) may round past the domain's ends (10.000000000000002): clamp to them.
        (int(w0), float(a * w0), min(max(math.exp(L), wm_range[0]), wm_range[1]))
        for w0, a, L in zip(best.w0, best.a, best.L, strict=True)
    ]


class _Evaluator:
    """Sweep the candidates whose lower bound can still beat their sequence's best."""

    def __init__(self, best: "_Best", logw, mask, maxw) -> None:
        self.best, self.data = best, (logw, mask, maxw)

    def cell_bound(self, seq, w0, lo, hi) -> np.ndarray:
        return lower_bound(*self.data, seq, w0, lo, hi)

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


def _w0_bound(logw, mask, seq, w0) -> np.ndarray:
    """Admissible lower bound on the summed cost of any fit with this w0 (module docstring)."""
    lw0 = np.log(w0)[:, None]
    lw = logw[seq]
    below = np.where(mask[seq], np.maximum(lw0 - lw, 0.0), 0.0)
    return np.abs(lw[:, 0] - lw0[:, 0]) + below[:, 1:].sum(1)


def sweep_a(logw, mask, maxw, seq, w0, L) -> tuple[np.ndarray, np.ndarray]:
    """For candidate rows (sequence index, w0, L): the exactly best a and its summed cost."""
    a_out, cost_out = np.empty(seq.size), np.empty(seq.size)
    for r, a1, s_b in _blocks(logw, mask, maxw, seq, w0, L):
        a_out[r], cost_out[r] = _sweep_block(logw[seq[r]], mask[seq[r]], w0[r], L[r], a1, s_b)
    return a_out, cost_out


def lower_bound(logw, mask, maxw, seq, w0, L_lo, L_hi) -> np.ndarray:
    """Admissible bound on the summed cost at (w0, any L in [L_lo, L_hi], any a): the best
    non-decreasing choice of levels (block 0 at level 0), each level anywhere between its values
    at L_lo and L_hi, by dynamic programming over blocks; no sort, so cheaper than `sweep_a`,
    and tight where the widths are sorted."""
    out = np.empty(seq.size)
    for r, _, s_b in _blocks(logw, mask, maxw, seq, w0, L_lo):
        cost = _level_costs(logw[seq[r]], mask[seq[r]], w0[r], L_lo[r], s_b, L_hi[r])
        f = np.where(np.arange(s_b + 1) == 0, cost[:, 0, :], np.inf)
        for j in range(1, cost.shape[1]):
            f = cost[:, j, :] + np.minimum.accumulate(f, axis=1)
        out[r] = f.min(1)
    return out


def _blocks(logw, mask, maxw, seq, w0, L):
    """Row blocks of similar level counts: (row indices, a1, levels S) with bounded memory.

    Only a up to a1 can win: once block 1's exponent reaches s_top (the first level >= the
    largest width) every block's width is >= every observed width and raising a never helps.
    Levels are needed up to the exponent the last block reaches at a1.
    """
    d = mask.sum(1)[seq]
    s_top = np.maximum(np.ceil(np.log((maxw[seq] + Q / 2) / w0) / L), 0)
    a1 = np.expm1((s_top - 0.5) * L)
    s_need = np.ceil(np.log1p(np.maximum(d - 1, 1) * np.maximum(a1, 0)) / L + 0.5) + 1
    bucket = 2 ** np.ceil(np.log2(np.maximum(s_need, 1))).astype(int)
    for s_b in np.unique(bucket):
        idx = np.flatnonzero(bucket == s_b)
        step = max(1, _CHUNK // (logw.shape[1] * (s_b + 1)))
        for start in range(0, idx.size, step):
            r = idx[start : start + step]
            yield r, a1[r], int(s_b)


def _level_costs(logw, mask, w0, L, S, L_hi=None) -> np.ndarray:
    """|log w_j - log V_s| for every block j and level s <= S (0 for padding blocks); with L_hi,
    the distance to the range of V_s over [L, L_hi] (V_s is non-decreasing in L)."""
    lv = _log_levels(w0, L, S)[:, None, :]
    if L_hi is None:
        dist = np.abs(logw[..., None] - lv)
    else:
        lv_hi = _log_levels(w0, L_hi, S)[:, None, :]
        dist = np.maximum(np.maximum(lv - logw[..., None], logw[..., None] - lv_hi), 0.0)
    return np.where(mask[..., None], dist, 0.0)


def _log_levels(w0, L, S) -> np.ndarray:
    """log V_s = log(Q * round(w0 * e^{sL} / Q)), s = 0..S, as regnet_block_widths rounds."""
    return np.log(
        np.maximum(np.rint(w0[:, None] * np.exp(np.arange(S + 1) * L[:, None]) / Q), 1) * Q
    )


def _sweep_block(logw, mask, w0, L, a1, S) -> tuple[np.ndarray, np.ndarray]:
    b, dlen = logw.shape
    s = np.arange(S + 1)
    ll = L[:, None]
    cost = _level_costs(logw, mask, w0, L, S)  # (b, D, S+1)
    base = cost[:, :, 0].sum(1)  # a -> 0: every exponent 0
    if dlen == 1:
        return np.zeros(b), base
    delta = np.diff(cost[:, 1:, :], axis=-1).reshape(b, -1)  # (b, (D-1)*S)
    j = np.arange(1, dlen)[:, None]
    events = np.expm1((s[:-1] + 0.5) * ll[:, None, :]) / j  # (b, D-1, S)
    events = np.where(mask[:, 1:, None], events, np.inf).reshape(b, -1)
    order = np.argsort(events, axis=-1)
    events = np.take_along_axis(events, order, -1)
    total = np.cumsum(np.take_along_axis(delta, order, -1), -1) + base[:, None]
    total = np.where(events <= a1[:, None], total, np.inf)
    totals = np.concatenate([base[:, None], total], -1)
    k = np.argmin(totals, -1)
    # Past the last computed level the next event is at least a_cap (block D-1 at level S).
    d = mask.sum(1)
    a_cap = np.expm1((S + 0.5) * L) / np.maximum(d - 1, 1)
    bounds = np.concatenate([np.zeros((b, 1)), events, np.full((b, 1), np.inf)], -1)
    rows = np.arange(b)
    lo, hi = bounds[rows, k], np.minimum(bounds[rows, k + 1], a_cap)
    with np.errstate(invalid="ignore"):
        a = np.where(lo > 0, np.sqrt(lo * hi), hi / 2)
    return a, totals[rows, k]
