"""Global search for the quantized-linear parameters of widths no RegNet reproduces exactly.

Domain (the same as the reference search in tools/make_qlinear_golden.py): w0 every multiple of 8
up to the largest width, wm in `wm_range` (L = log wm), a = wa/w0 >= 0. Cost: the summed
|log(w_j / w_fit_j)| (e_fit times d).

- For fixed (w0, L) the best a is found exactly (`sweep_a`): the cost is piecewise constant in a,
  changing only where a block's exponent round(log(1 + a*j)/L) steps, so sorting those events and
  accumulating the cost changes gives it on every interval.
- (w0, L) by branch and bound (`_descend`): boxes of w0 values x L intervals of a log grid of
  N_GRID values of wm are halved on both sides while their admissible bound can beat the best
  cost; the centres of the most promising boxes are swept for upper bounds on the way. Bounds:
  `lower_bound`, the best non-decreasing choice of levels, each anywhere in its range over the
  box, with each step between neighbouring blocks capped by the linear growth of u_j (block j
  can be at most floor(log(j/(j-1))/L) + 1 levels above block j-1) and only the levels between
  the widths counted; and `isotonic_bound`, per w0 for any L (the best non-decreasing fit that
  starts at w0), which rules out most w0 of unsorted widths at the first levels.
- In every surviving grid cell, its grid point, then (if the cell can still win) each
  "aligned" L (a level on, or at a rounding edge of, an observed width: optima are often
  narrower than the grid step and sit there; `_aligned`) is swept if its point bound can win. Then the REFINE_TOP best distinct
  points are refined on finer grids between their neighbours (and w0 +- 8; a neighbourhood
  whose bound cannot win is skipped), REFINE_ROUNDS times. The grid is exhaustive up to the
  bounds; the refinement is a heuristic.
- Candidates are swept in waves (most promising first) so the best cost tightens early.
"""

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from pycls_like.cores import available_cores

Q = 8
N_GRID = 200  # log-grid points of wm (the issue asks for >= 200); step 1.1% of wm
REFINE_TOP = 8  # distinct (w0, L) starts refined per sequence (4 missed one of 240 by 0.011)
ALIGN_WIDTHS, ALIGN_S = 8, 4  # aligned L per w0: 8 width quantiles x 3 (centre, edges) x s <= 4
REFINE_SUB = 8  # each refinement round divides the step by this
REFINE_ROUNDS = 3  # final step: grid step / 512 (the reference grid's: L range / 1023)
WAVES = (8, 32, 128, 512)  # candidates swept per sequence before the bound is re-applied
MAX_STEP = 3  # level steps up to this are windowed in the bound; larger ones are left free
PROBES = 8  # box centres per sequence swept at each level of the descent (upper bounds)
_CHUNK = 300_000  # elements per vectorized block: float64 temporaries stay in cache (2 MB)
_PAD = 1e9  # log-width of the padding past a sequence's end: above any real width
PARALLEL_MIN = 128  # sequences per process: ~0.3 s of search, a forked worker costs ~10 ms


def workers(n: int) -> int:
    """Processes `search` uses for n sequences: one per available core, each with at least
    PARALLEL_MIN sequences; one where fork is missing or in a child process (a caller that runs
    processes already has the cores busy)."""
    if "fork" not in multiprocessing.get_all_start_methods() or multiprocessing.parent_process():
        return 1
    return max(1, min(available_cores(), n // PARALLEL_MIN))


def search(seqs: list[np.ndarray], wm_range: tuple[float, float]) -> list[tuple[int, float, float]]:
    """(w0, wa, wm) minimizing e_fit for each sequence, over the whole domain. Large batches are
    split over `workers` forked processes: each sequence's search depends only on its own
    widths, so the result is the same as in one process."""
    count = workers(len(seqs))
    if count == 1:
        return _search(seqs, wm_range)
    parts = [seqs[i::count] for i in range(count)]  # interleaved: kinds and lengths mix evenly
    context = multiprocessing.get_context("fork")  # starts fast: numpy is imported already
    with ProcessPoolExecutor(count - 1, mp_context=context) as pool:
        futures = [pool.submit(_search, part, wm_range) for part in parts[1:]]
        results = [_search(parts[0], wm_range)] + [f.result() for f in futures]
    return [results[i % count][i // count] for i in range(len(seqs))]


def _search(
    seqs: list[np.ndarray], wm_range: tuple[float, float]
) -> list[tuple[int, float, float]]:
    """`search` in this process."""
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
    seq, w0s, cells, bound = _descend(best, (logw, mask, maxw), k_max, grid)
    # Every grid point and "aligned" L (a level on, or at a rounding edge of, an observed width:
    # optima are often narrower than the grid step and sit there; `_aligned`) of a surviving cell:
    # the grid points first, then the aligned points of the cells they have not ruled out.
    evaluate(seq, w0s, grid[cells])
    keep = bound < best.cost[seq] - 1e-9
    seq, w0s, cells = seq[keep], w0s[keep], cells[keep]
    if seq.size:
        pair = seq * (k_max.max() + 1) + w0s // Q
        _, first = np.unique(pair, return_index=True)
        a_seq, a_w0, a_l = _aligned(seq[first], w0s[first], logw, mask, grid)
        a_cell = np.minimum(np.searchsorted(grid, a_l, side="right") - 1, g - 1)
        ok = np.isin((a_seq * (k_max.max() + 1) + a_w0 // Q) * g + a_cell, pair * g + cells)
        evaluate(a_seq[ok], a_w0[ok], a_l[ok])
    _refine(evaluate, best, grid, k_max, REFINE_TOP)
    return [
        # exp(log(wm)) may round past the domain's ends (10.000000000000002): clamp to them.
        (int(w0), float(a * w0), min(max(math.exp(L), wm_range[0]), wm_range[1]))
        for w0, a, L in zip(best.w0, best.a, best.L, strict=True)
    ]


def _refine(evaluate: "_Evaluator", best: "_Best", grid, k_max, top: int) -> None:
    """Refine the `top` best points evaluated so far: finer L grids between their grid
    neighbours, with w0 - Q, w0 and w0 + Q, REFINE_ROUNDS times; a neighbourhood whose bound
    cannot beat the best is skipped whole."""
    step = grid[1] - grid[0] if grid.size > 1 else 0.0
    logw, mask, maxw = evaluate.data
    for _ in range(REFINE_ROUNDS):
        seq, w0, L = best.top(top)
        shift = np.tile([-Q, 0, Q], w0.size)
        seq, L, w0 = np.repeat(seq, 3), np.repeat(L, 3), np.repeat(w0, 3) + shift
        ok = (w0 >= Q) & (w0 <= Q * k_max[seq])
        seq, w0, L, shift = seq[ok], w0[ok], L[ok], shift[ok]
        lo, hi = np.maximum(L - step, grid[0]), np.minimum(L + step, grid[-1])
        ok = lower_bound(logw, mask, maxw, seq, w0, lo, hi) < best.cost[seq] - 1e-9
        offs = np.arange(-REFINE_SUB, REFINE_SUB + 1) * (step / REFINE_SUB)
        seq_r, w0_r = np.repeat(seq[ok], offs.size), np.repeat(w0[ok], offs.size)
        l_r = np.clip(np.repeat(L[ok], offs.size) + np.tile(offs, int(ok.sum())), grid[0], grid[-1])
        # The start itself (offset 0 at its own w0) was swept already.
        new = ~(np.repeat(shift[ok] == 0, offs.size) & np.tile(offs == 0, int(ok.sum())))
        evaluate(seq_r[new], w0_r[new], l_r[new])
        step /= REFINE_SUB


class _Evaluator:
    """Sweep the candidates whose lower bound can still beat their sequence's best."""

    def __init__(self, best: "_Best", logw, mask, maxw) -> None:
        self.best, self.data = best, (logw, mask, maxw)

    def __call__(self, seq, w0, L) -> None:
        # Overlapping refinement neighbourhoods propose the same point more than once (up to
        # rounding in L): sweep it once.
        order = np.lexsort((L, w0, seq))
        seq, w0, L = seq[order], w0[order], L[order]
        new = np.ones(seq.size, dtype=bool)
        new[1:] = (seq[1:] != seq[:-1]) | (w0[1:] != w0[:-1]) | (np.diff(L) > 1e-12)
        seq, w0, L = seq[new], w0[new], L[new]
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
        seq, w0, L, cost = seq[order], w0[order], L[order], cost[order]
        dup = np.r_[False, (seq[1:] == seq[:-1]) & (w0[1:] == w0[:-1]) & (L[1:] == L[:-1])]
        seq, w0, L, cost = seq[~dup], w0[~dup], L[~dup], cost[~dup]
        keep = _rank_within(seq) < k
        # The k best of everything seen are among these and whatever is seen later: keep only them.
        self.seen = [(seq[keep], w0[keep], L[keep], cost[keep])]
        return seq[keep], w0[keep], L[keep]


def _aligned(seq, w0, logw, mask, grid) -> tuple[np.ndarray, ...]:
    """Candidates (seq, w0, L) with L = log(t/w0)/s or a hair inside log((t -+ Q/2)/w0)/s, for t
    the observed widths rounded to Q (ALIGN_WIDTHS quantiles) and s = 1..ALIGN_S."""
    t = np.maximum(np.rint(_quantiles(logw, mask, ALIGN_WIDTHS)[seq] / Q), 1) * Q  # (m, T)
    t[:, 1:][t[:, 1:] == t[:, :-1]] = np.nan  # quantiles sort ascending: repeats are adjacent
    edge = np.array([-Q / 2 + 1e-6, 0.0, Q / 2 - 1e-6])
    s_ = np.arange(1, ALIGN_S + 1)
    ratio = (t[:, :, None] + edge) / w0[:, None, None]  # (m, T, 3)
    L = np.log(np.maximum(ratio, 1e-9))[..., None] / s_  # (m, T, 3, S)
    L = L.reshape(len(seq), -1)
    ok = (grid[0] <= L) & (grid[-1] >= L)
    rows = np.repeat(np.arange(len(seq)), L.shape[1]).reshape(L.shape)
    return seq[rows[ok]], w0[rows[ok]], L[ok]


def _quantiles(logw: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """(n, count) widths at evenly spaced quantiles 0..1 of each sequence (linear interpolation,
    as np.quantile; vectorized over sequences of different lengths)."""
    widths = np.sort(np.where(mask, np.exp(logw), np.inf), axis=1)
    pos = np.linspace(0, 1, count)[None, :] * (mask.sum(1)[:, None] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, mask.sum(1)[:, None] - 1)
    v_lo, v_hi = np.take_along_axis(widths, lo, 1), np.take_along_axis(widths, hi, 1)
    return v_lo + (pos - lo) * (v_hi - v_lo)


def _descend(
    best: _Best, data: tuple, k_max: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Branch and bound over boxes of (w0, L cells): (seq, w0, cell, bound) of every grid cell
    whose bound can still beat its sequence's best. A box is w0 in Q*[k_lo, k_hi] and L in
    [grid[i_lo], grid[i_hi + 1]]; each level halves both sides and sweeps the centres of the
    PROBES most promising boxes per sequence, so the best cost tightens as the boxes shrink."""
    g, n = grid.size, k_max.size
    seq, k_lo, k_hi = np.arange(n), np.ones(n, dtype=int), k_max.copy()
    i_lo, i_hi = np.zeros(n, dtype=int), np.full(n, g - 1)
    leaves: list[tuple[np.ndarray, ...]] = []
    by_w0 = _RangeMin(isotonic_bound(*data[:2], k_max))
    while seq.size:
        bound = lower_bound(
            *data, seq, Q * k_lo, grid[i_lo], grid[np.minimum(i_hi + 1, g - 1)], Q * k_hi
        )
        bound = np.maximum(bound, by_w0(seq, k_lo - 1, k_hi - 1))
        order = np.lexsort((bound, seq))
        probe = order[_rank_within(seq[order]) < PROBES]
        w0_p, l_p = Q * ((k_lo[probe] + k_hi[probe]) // 2), grid[(i_lo[probe] + i_hi[probe]) // 2]
        best.update(seq[probe], w0_p, l_p, *sweep_a(*data, seq[probe], w0_p, l_p))
        keep = bound < best.cost[seq] - 1e-9
        leaf = keep & (k_lo == k_hi) & (i_lo == i_hi)
        leaves.append((seq[leaf], Q * k_lo[leaf], i_lo[leaf], bound[leaf]))
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


def isotonic_bound(logw: np.ndarray, mask: np.ndarray, k_max: np.ndarray) -> np.ndarray:
    """(n, max k) bound on the summed cost at w0 = Q*k, any L and a (inf past k_max): the best
    non-decreasing log-widths y with y_0 = log w0 and every y_j >= log w0 (every level is at
    least w0), free of levels. Weak on sorted widths, but it rules out most w0 of unsorted ones
    before any L is looked at. By dynamic programming over the observed widths (an L1 isotonic
    fit takes its values among them) clipped to log w0, one chunk of sequences at a time."""
    n, d = logw.shape
    ks = np.arange(1, int(k_max.max()) + 1)
    out = np.full((n, ks.size), np.inf)
    step = max(1, _CHUNK // (ks.size * d * (d + 1)))
    for start in range(0, n, step):
        r = slice(start, start + step)
        x = np.where(mask[r], logw[r], _PAD)  # padding sorts last; its steps are skipped
        floor = np.log(Q * ks)[None, :, None]  # (1, K, 1)
        values = np.maximum(np.sort(x, axis=1)[:, None, :], floor)  # (b, K, d), sorted
        values = np.concatenate([np.broadcast_to(floor, values.shape[:2] + (1,)), values], -1)
        f = np.where(np.arange(d + 1) == 0, np.abs(x[:, 0, None, None] - values), np.inf)
        for j in range(1, d):
            cost = np.abs(x[:, j, None, None] - values)
            step_j = cost + np.minimum.accumulate(f, axis=-1)
            f = np.where(mask[r, j, None, None], step_j, f)
        out[r] = f.min(-1)
    return np.where(ks[None, :] <= k_max[:, None], out, np.inf)


class _RangeMin:
    """Minimum of each row of a table over index ranges [lo, hi], in O(1) (sparse table)."""

    def __init__(self, table: np.ndarray) -> None:
        self.levels = [table]
        while 2 ** len(self.levels) <= table.shape[1]:
            prev, half = self.levels[-1], 2 ** (len(self.levels) - 1)
            self.levels.append(np.minimum(prev[:, :-half], prev[:, half:]))

    def __call__(self, row: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        p = np.floor(np.log2(hi - lo + 1)).astype(int)
        out = np.empty(row.size)
        for level in np.unique(p):
            i = np.flatnonzero(p == level)
            t = self.levels[level]
            out[i] = np.minimum(t[row[i], lo[i]], t[row[i], hi[i] - 2**level + 1])
        return out


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
    over the box and each step within what linear growth allows (`_reachable_min`), by dynamic
    programming over blocks; no sort, so cheaper than `sweep_a`, and tight where the widths are
    sorted. Only levels s_low..s_top count: past s_top (the first level above every width, at
    the box's lowest corner) and below s_low (the last level below every width of blocks 1..)
    a level is never better than the nearest of the two, and moving a block there keeps the
    levels non-decreasing and every step as short."""
    if seq.size == 0:
        return np.empty(0)
    point = w0_hi is None and L_lo is L_hi
    w0_hi = w0 if w0_hi is None else w0_hi
    s_top = np.ceil(np.log((maxw[seq] + Q / 2) / w0) / L_lo)
    low = np.where(mask[:, 1:], np.exp(logw[:, 1:]), np.inf).min(1, initial=np.inf)[seq]
    with np.errstate(divide="ignore", invalid="ignore"):  # a width below 4: no level is below it
        s_low = np.floor(np.log(np.maximum(low - Q / 2, 1e-300) / w0_hi) / L_hi)
    s_low = np.clip(np.nan_to_num(s_low, nan=0.0, posinf=0.0), 0, s_top)
    # Block 0 sits at level 0 (w0 itself); block 1 may take any level.
    first = logw[seq, 0]
    out = np.maximum(np.maximum(np.log(w0) - first, first - np.log(w0_hi)), 0.0)
    d = mask.sum(1)[seq]
    for r, s_b, d_b in _groups(s_top - s_low, d):
        if d_b < 2:
            continue
        r = r[np.argsort(L_lo[r], kind="stable")]  # `_reachable_min` wants rows sorted by L
        # Layout (block, level, row): each DP step is one vector operation over the rows.
        lw = np.ascontiguousarray(logw[seq[r], 1:d_b].T)[:, None, :]
        lv_lo = np.ascontiguousarray(_log_levels(w0[r], L_lo[r], s_b, s_low[r]).T)
        if point:
            cost = lw - lv_lo  # (d_b - 1, levels, rows)
            np.abs(cost, out=cost)
        else:
            lv_hi = np.ascontiguousarray(_log_levels(w0_hi[r], L_hi[r], s_b, s_low[r]).T)
            cost = lv_lo - lw
            np.maximum(cost, lw - lv_hi, out=cost)
            np.maximum(cost, 0.0, out=cost)
        f = cost[0]
        for j in range(2, d_b):
            f = _reachable_min(f, j, L_lo[r])  # a fresh array: add in place
            f += cost[j - 1]
        out[r] += f.min(0)
    return out


def _reachable_min(f: np.ndarray, j: int, L: np.ndarray) -> np.ndarray:
    """min of f (levels x rows) over the levels block j - 1 can hold below block j's level s.
    Linear growth caps the step: t_j - t_{j-1} = log((1 + a*j) / (1 + a*(j-1))) / L is at most
    log(j / (j-1)) / L, so s_j - s_{j-1} <= floor(that) + 1 (any step from block 0 to 1).
    The rows come sorted by L, so the cap falls along them and each window width is applied to
    a leading slice of the columns; caps above MAX_STEP take the plain prefix minimum."""
    if j < 2:
        return np.minimum.accumulate(f, axis=0)
    neg_step = -(np.floor(math.log(j / (j - 1)) / L + 1e-9) + 1)  # non-decreasing
    # cols[w - 1]: the number of (leading) rows whose cap is at least w, w = 1..MAX_STEP + 1.
    cols = neg_step.searchsorted(-np.arange(1, MAX_STEP + 2), side="right").tolist()
    window = f.copy()
    for width in range(1, min(MAX_STEP, f.shape[0] - 1) + 1):
        c = cols[width - 1]
        if c == 0:
            break
        np.minimum(window[width:, :c], f[:-width, :c], out=window[width:, :c])
    if cols[MAX_STEP]:
        c = cols[MAX_STEP]
        window[:, :c] = np.minimum.accumulate(f[:, :c], axis=0)
    return window


def _groups(levels: np.ndarray, d: np.ndarray):
    """Row blocks of one sequence length and similar level counts (rounded up to 4), with
    bounded memory: (row indices, levels S, length d); no padded blocks or levels computed."""
    bucket = 4 * np.ceil(np.maximum(levels, 1) / 4).astype(int)
    key = bucket * (d.max() + 1) + d
    order = np.argsort(key, kind="stable")  # one sort, not one comparison pass per group
    keys, starts = np.unique(key[order], return_index=True)
    for k, lo, hi in zip(keys, starts, np.r_[starts[1:], order.size], strict=True):
        idx = order[lo:hi]
        s_b, d_b = divmod(int(k), int(d.max()) + 1)
        step = max(1, _CHUNK // (d_b * (s_b + 1)))
        for start in range(0, idx.size, step):
            yield idx[start : start + step], s_b, d_b


def _log_levels(w0, L, S, first=0) -> np.ndarray:
    """log V_s = log(Q * round(w0 * e^{sL} / Q)), s = first..first + S, as regnet_block_widths
    rounds (`first`: a number or one per row)."""
    s = np.arange(S + 1) + np.asarray(first)[..., None]
    return np.log(np.maximum(np.rint(w0[:, None] * np.exp(s * L[:, None]) / Q), 1) * Q)


def _sweep_block(logw, w0, L, a1, S) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one length d: sort the exponent steps of blocks 1..d-1 in a, accumulate."""
    b, dlen = logw.shape
    cost = logw[..., None] - _log_levels(w0, L, S)[:, None, :]  # (b, d, S+1)
    np.abs(cost, out=cost)
    base = cost[:, :, 0].sum(1)  # a -> 0: every exponent 0
    if dlen == 1:
        return np.zeros(b), base
    delta = np.diff(cost[:, 1:, :], axis=-1).reshape(b, -1)  # (b, (D-1)*S)
    j = np.arange(1, dlen)[:, None]
    events = np.expm1((np.arange(S) + 0.5) * L[:, None])[:, None, :] / j  # (b, D-1, S)
    events = events.reshape(b, -1)
    # States past a1 never win (see `sweep_a`), and past a_cap some events are missing: every
    # event past a1 gets an infinite step, so every cumulative cost from the first on is infinite.
    delta[events > a1[:, None]] = np.inf
    events, order = _sorted_with_index(events)
    n_ev = events.shape[1]
    order += np.arange(b)[:, None] * n_ev  # flat indices: cheaper than take_along_axis
    steps = delta.ravel()[order]
    rows = np.arange(b)
    total = np.cumsum(steps, -1)  # cost after each event, relative to base
    k = np.argmin(total, -1)
    gain = total[rows, k]
    stay = ~(gain < 0)  # no event at all (a below the first one) is at least as good
    # The interval of a: [0, events[0]) for no event, else (events[k], events[k + 1]).
    lo = np.where(stay, 0.0, events[rows, k])
    nxt = np.where(stay, 0, k + 1)
    hi = np.where(nxt < n_ev, events[rows, np.minimum(nxt, n_ev - 1)], np.inf)
    # Past the last computed level the next event is at least a_cap (block D-1 at level S).
    hi = np.minimum(hi, np.expm1((S + 0.5) * L) / max(dlen - 1, 1))
    with np.errstate(invalid="ignore"):
        a = np.where(lo > 0, np.sqrt(lo * hi), hi / 2)
    return a, base + np.where(stay, 0.0, gain)


def _sorted_with_index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of positive floats sorted, with the permutation: the column index is written
    into the low mantissa bits and the rows sorted as integers (a plain sort is several times
    faster than argsort plus a gather). The values come back with those bits cleared (relative
    error < 2**-36 for rows up to 65,536 long): enough for interval ends; longer rows argsort."""
    cols = values.shape[-1]
    bits = max(1, (cols - 1).bit_length())
    if bits > 16:
        order = np.argsort(values, axis=-1)
        return np.take_along_axis(values, order, -1), order
    low = np.uint64((1 << bits) - 1)
    keys = (values.view(np.uint64) & ~low) | np.arange(cols, dtype=np.uint64)
    keys.sort(axis=-1)  # non-negative floats order as their bit patterns
    return (keys & ~low).view(np.float64), (keys & low).view(np.int64)
