"""Global search for the quantized-linear parameters of widths no RegNet reproduces exactly.

Domain (the same as the reference search in tools/make_qlinear_golden.py): w0 every multiple of 8
up to the largest width, wm in `wm_range` (L = log wm), a = wa/w0 >= 0. Cost: the summed
|log(w_j / w_fit_j)| (e_fit times d).

- For fixed (w0, L) the best a is found exactly (`sweep_a`): the cost is piecewise constant in a,
  changing only where a block's exponent round(log(1 + a*j)/L) steps, so sorting those events and
  accumulating the cost changes gives it on every interval. Only a up to where every block has
  reached the first level at or above its own width can win; events past it are never sorted.
- (w0, L) by branch and bound (`_descend`): boxes of w0 values x L intervals of a log grid of
  N_GRID values of wm are halved on both sides while their admissible bound can beat the best
  cost; the centres of the most promising boxes are swept for upper bounds on the way. A box of
  one w0 and at most LEAF_CELLS grid cells ends the descent (its cells' grid points are bounded
  one by one next, which prunes as well as bounding smaller boxes, and cheaper). Bounds:
  `isotonic_bound`, per w0 for any L (the best non-decreasing fit that starts at w0), which
  rules out most w0 of unsorted widths at the first levels and is applied first; and
  `lower_bound`, the best non-decreasing choice of levels, each anywhere in its range over the
  box, with each step between neighbouring blocks capped by the linear growth of u_j (block j
  can be at most floor(log(j/(j-1))/L) + 1 levels above block j-1) and only the levels between
  the widths counted.
- In every surviving grid cell, its grid point, then (if the cell can still win) each "aligned"
  L (a level on, or at a rounding edge of, an observed width: optima are often narrower than the
  grid step and sit there; `_aligned`) is swept if its point bound can win.
- Refinement (`_refine`): the points of a FINE-point log grid of wm (the reference search's)
  within SPAN grid steps of the FINE_TOP best points, then REFINE_ROUNDS rounds of finer grids
  around the REFINE_TOP best distinct points (the first round also at w0 +- 8); a neighbourhood
  whose bound cannot win is skipped. The grid is exhaustive up to the bounds; the refinement is
  a heuristic, but around its starts never worse than the FINE grid.
- Candidates are swept in waves (most promising first) so the best cost tightens early.
"""

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from pycls_like.cores import available_cores

Q = 8
N_GRID = 200  # log-grid points of wm (the issue asks for >= 200); step 1.1% of wm
LEAF_CELLS = 4  # the descent stops at one w0 and this many grid cells (bounding fewer cost more)
ALIGN_WIDTHS, ALIGN_S = 8, 4  # aligned L per w0: 8 width quantiles x 3 (centre, edges) x s <= 4
FINE, FINE_TOP, SPAN = 1024, 16, 1.5  # fine-grid points within 1.5 grid steps of the 16 best
REFINE_TOP = 8  # distinct (w0, L) starts refined per sequence per round
REFINE_SUB = 8  # each refinement round divides the step by this
REFINE_ROUNDS = 2  # final step: grid step / 64 (the fine grid's is about / 5)
WAVES = (8, 32, 128, 512)  # candidates swept per sequence before the bound is re-applied
MAX_STEP = 3  # level steps up to this are windowed in the bound; larger ones are left free
MERGE_ROWS = 64  # row blocks smaller than this join the next (`_groups`): fewer numpy calls
PROBES = 8  # box centres per sequence swept at each level of the descent (upper bounds)
SUM_ROWS = 256  # `_cheapest_prefix` adds column by column from this many rows on
_CHUNK = 300_000  # elements per vectorized block: float64 temporaries stay in cache (2 MB)
_RANK_BITS = 24  # `_lexorder` packs ranks of arrays up to 2**24 rows into 64-bit keys
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
        ks = k_max.max() + 1
        pair = seq * ks + w0s // Q
        pairs = np.sort(pair)  # sorting beats np.unique and np.isin here
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
        a_seq, a_w0, a_l = _aligned(pairs // ks, Q * (pairs % ks), logw, mask, grid)
        a_cell = np.minimum(np.searchsorted(grid, a_l, side="right") - 1, g - 1)
        alive = np.sort(pair * g + cells)  # the surviving cells, as sorted keys
        key = (a_seq * ks + a_w0 // Q) * g + a_cell
        ok = alive[np.minimum(np.searchsorted(alive, key), alive.size - 1)] == key
        evaluate(a_seq[ok], a_w0[ok], a_l[ok])
    _refine(evaluate, best, grid, k_max, REFINE_TOP)
    return [
        # exp(log(wm)) may round past the domain's ends (10.000000000000002): clamp to them.
        (int(w0), float(a * w0), min(max(math.exp(L), wm_range[0]), wm_range[1]))
        for w0, a, L in zip(best.w0, best.a, best.L, strict=True)
    ]


def _refine(evaluate: "_Evaluator", best: "_Best", grid, k_max, top: int) -> None:
    """Refine around the best points evaluated so far: first the FINE-grid points within SPAN
    grid steps of the FINE_TOP best (the exhaustive reference search's grid: never worse than it
    there), then REFINE_ROUNDS times a finer grid around the `top` best (the first round SPAN
    steps wide and also at w0 - Q and w0 + Q, each later one the previous step wide); a
    neighbourhood whose bound cannot beat the best is skipped whole."""
    step = grid[1] - grid[0] if grid.size > 1 else 0.0
    logw, mask, maxw = evaluate.data

    def neighbourhoods(starts, shift: int, span: float) -> tuple[np.ndarray, ...]:
        seq, w0, L, own = _neighbours(*starts, k_max, shift)
        lo, hi = np.maximum(L - span * step, grid[0]), np.minimum(L + span * step, grid[-1])
        ok = lower_bound(logw, mask, maxw, seq, w0, lo, hi) < best.cost[seq] - 1e-9
        return seq[ok], w0[ok], L[ok], own[ok], lo[ok], hi[ok]

    seq, w0, _, _, lo, hi = neighbourhoods(best.top(max(FINE_TOP, top)), 0, SPAN)
    fine = np.linspace(grid[0], grid[-1], FINE)
    first, last = np.searchsorted(fine, lo), np.searchsorted(fine, hi, side="right")
    count = last - first
    evaluate(np.repeat(seq, count), np.repeat(w0, count), fine[_ranges(first, count)])
    span = SPAN
    for round_ in range(REFINE_ROUNDS):
        seq, w0, L, own, _, _ = neighbourhoods(best.top(top), Q if round_ == 0 else 0, span)
        half = int(round(REFINE_SUB * span))
        offs = np.arange(-half, half + 1) * (step / REFINE_SUB)
        seq_r, w0_r = np.repeat(seq, offs.size), np.repeat(w0, offs.size)
        l_r = np.clip(np.repeat(L, offs.size) + np.tile(offs, seq.size), grid[0], grid[-1])
        # The start itself (offset 0 at its own w0) was swept already.
        new = ~(np.repeat(own, offs.size) & np.tile(offs == 0, seq.size))
        evaluate(seq_r[new], w0_r[new], l_r[new])
        step, span = step / REFINE_SUB, 1.0


def _neighbours(seq, w0, L, k_max, shift: int) -> tuple[np.ndarray, ...]:
    """(seq, w0 + {-shift, 0, shift}, L, is w0 itself) inside the domain (w0 alone for 0)."""
    shifts = np.array([-shift, 0, shift]) if shift else np.array([0])
    seq, L = np.repeat(seq, shifts.size), np.repeat(L, shifts.size)
    moved = np.tile(shifts, w0.size)
    w0 = np.repeat(w0, shifts.size) + moved
    ok = (w0 >= Q) & (w0 <= Q * k_max[seq])
    return seq[ok], w0[ok], L[ok], moved[ok] == 0


class _Evaluator:
    """Sweep the candidates whose lower bound can still beat their sequence's best."""

    def __init__(self, best: "_Best", logw, mask, maxw) -> None:
        self.best, self.data = best, (logw, mask, maxw)

    def __call__(self, seq, w0, L) -> None:
        # Overlapping refinement neighbourhoods propose the same point more than once (up to
        # rounding in L): sweep it once.
        order = _lexorder(L, w0, seq)
        seq, w0, L = seq[order], w0[order], L[order]
        new = np.ones(seq.size, dtype=bool)
        new[1:] = (seq[1:] != seq[:-1]) | (w0[1:] != w0[:-1]) | (np.abs(np.diff(L)) > 1e-12)
        seq, w0, L = seq[new], w0[new], L[new]
        bound = lower_bound(*self.data, seq, w0, L, L)
        keep = bound < self.best.cost[seq] - 1e-9
        seq, w0, L, bound = seq[keep], w0[keep], L[keep], bound[keep]
        # Most promising first, in waves: each wave's results tighten the next wave's pruning.
        order = _lexorder(bound, seq)
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


def _lexorder(*keys: np.ndarray) -> np.ndarray:
    """`np.lexsort(keys)` (the last key primary) for integer keys and float keys >= 0, about 8x
    faster: each key is sorted as 64-bit values carrying the rank so far in their low bits (or
    as key * n + rank), so every pass is a plain sort of distinct values. Float keys closer
    than 2**-28 relative keep the order of the keys after them; arrays of 2**24 rows or more use
    lexsort on floats cut to the same precision (the same order)."""
    n = keys[0].size
    low = np.uint64((1 << _RANK_BITS) - 1)
    if n >= 1 << _RANK_BITS:  # the same order: floats cut to the same precision
        cut = [(k + 0.0).view(np.uint64) & ~low if k.dtype.kind == "f" else k for k in keys]
        return np.lexsort(cut)
    order, rank = np.arange(n), np.arange(n)
    for key in keys:
        if key.dtype.kind == "f":
            packed = ((key + 0.0).view(np.uint64) & ~low) | rank.astype(np.uint64)  # + 0.0: no -0.0
            packed.sort()
            order = order[(packed & low).astype(np.intp)]
        else:
            packed = key.astype(np.int64) * n + rank
            packed.sort()
            order = order[packed % n]
        rank[order] = np.arange(n)
    return order


def _ranges(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """first[i], first[i] + 1, ..., first[i] + count[i] - 1 for every i, concatenated."""
    return np.repeat(first - np.cumsum(np.r_[0, count[:-1]]), count) + np.arange(count.sum())


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
        order = _lexorder(cost, seq)
        seq_o = seq[order]
        first = order[np.r_[True, seq_o[1:] != seq_o[:-1]]]
        better = cost[first] < self.cost[seq[first]] - 1e-12
        pick, at = first[better], seq[first[better]]
        self.cost[at], self.w0[at], self.a[at], self.L[at] = cost[pick], w0[pick], a[pick], L[pick]

    def top(self, k: int) -> tuple[np.ndarray, ...]:
        """The k cheapest distinct (w0, L) per sequence among everything evaluated."""
        seq, w0, L, cost = (np.concatenate(v) for v in zip(*self.seen, strict=True))
        order = _lexorder(L, w0, cost, seq)
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
    in a box of one w0 and at most LEAF_CELLS cells whose bound (the box's) can still beat its
    sequence's best. A box is w0 in Q*[k_lo, k_hi] and L in [grid[i_lo], grid[i_hi + 1]]; each
    level halves both sides and sweeps the centres of the PROBES most promising boxes per
    sequence, so the best cost tightens as the boxes shrink."""
    g, n = grid.size, k_max.size
    seq, k_lo, k_hi = np.arange(n), np.ones(n, dtype=int), k_max.copy()
    i_lo, i_hi = np.zeros(n, dtype=int), np.full(n, g - 1)
    leaves: list[tuple[np.ndarray, ...]] = []
    by_w0 = _RangeMin(isotonic_bound(*data[:2], k_max))
    while seq.size:
        # The per-w0 bound first: boxes it rules out need no level bound.
        bound = by_w0(seq, k_lo - 1, k_hi - 1)
        r = np.flatnonzero(bound < best.cost[seq] - 1e-9)
        l_lo, l_hi = grid[i_lo[r]], grid[np.minimum(i_hi[r] + 1, g - 1)]
        level = lower_bound(*data, seq[r], Q * k_lo[r], l_lo, l_hi, Q * k_hi[r])
        bound[r] = np.maximum(bound[r], level)
        order = _lexorder(bound, seq)
        probe = order[_rank_within(seq[order]) < PROBES]
        w0_p, l_p = Q * ((k_lo[probe] + k_hi[probe]) // 2), grid[(i_lo[probe] + i_hi[probe]) // 2]
        best.update(seq[probe], w0_p, l_p, *sweep_a(*data, seq[probe], w0_p, l_p))
        keep = bound < best.cost[seq] - 1e-9
        leaf = keep & (k_lo == k_hi) & (i_hi - i_lo < LEAF_CELLS)
        count = i_hi[leaf] - i_lo[leaf] + 1
        seq_l, w0_l, bound_l = (np.repeat(v[leaf], count) for v in (seq, Q * k_lo, bound))
        leaves.append((seq_l, w0_l, _ranges(i_lo[leaf], count), bound_l))
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
    floor = np.log(Q * ks)  # (K,)
    for start in range(0, n, step):
        r = slice(start, start + step)
        x = np.where(mask[r], logw[r], _PAD)  # padding sorts last; its steps are skipped
        # Layout (value, sequence, w0): the DP's prefix minimum runs over the first axis.
        values = np.empty((d + 1,) + x.shape[:1] + floor.shape)
        values[0] = floor
        values[1:] = np.maximum(np.sort(x, axis=1).T[:, :, None], floor)  # sorted
        f = np.full(values.shape, np.inf)
        f[0] = np.abs(x[:, 0, None] - floor)
        for j in range(1, d):
            step_j = np.abs(x[None, :, j, None] - values)
            step_j += _prefix_min(f)
            f = np.where(mask[r, j, None], step_j, f)
        out[r] = f.min(0)
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
    # Only a up to a1 can win: past a1 every block j is at or above s_j, the first level >= its
    # own width (reached at a = expm1((s_j - 0.5) L) / j), where its cost grows with its level,
    # and levels only grow with a. Levels are needed up to the exponent the last block reaches
    # at a1.
    log_up = np.log(np.exp(logw[:, 1:]) + Q / 2)[seq]  # per sequence, then per row
    s_j = np.maximum(np.ceil((log_up - np.log(w0)[:, None]) / L[:, None]), 0)
    reach = np.expm1((s_j - 0.5) * L[:, None]) / np.arange(1, log_up.shape[1] + 1)
    a1 = np.where(mask[seq, 1:], reach, 0.0).max(1, initial=0.0)
    s_need = np.ceil(np.log1p(np.maximum(d - 1, 1) * a1) / L + 0.5) + 1
    for r, s_b, d_b in _groups(s_need, d, MERGE_ROWS):
        a_out[r], cost_out[r] = _sweep_block(
            logw[seq[r], :d_b], mask[seq[r], :d_b], w0[r], L[r], a1[r], s_b, _bucket(s_need[r])
        )
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
    for r, s_b, d_b in _groups(s_top - s_low, d, MERGE_ROWS):
        if d_b < 2:
            continue
        r = r[np.argsort(L_lo[r])]  # `_reachable_min` wants rows sorted by L
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
        own = mask[seq[r], 1:d_b].T
        if not own.all():
            cost *= own[:, None, :]  # blocks past a row's end cost nothing
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
        return _prefix_min(f)
    # cols[w - 1]: the number of (leading) rows whose cap is at least w, w = 1..MAX_STEP + 1:
    # floor(log(j / (j-1)) / L + 1e-9) + 1 >= w, i.e. L <= log(j / (j-1)) / (w - 1 - 1e-9).
    limits = math.log(j / (j - 1)) / (np.arange(1, MAX_STEP + 1) - 1e-9)
    cols = [L.size] + L.searchsorted(limits, side="right").tolist()
    window = f.copy()
    for width in range(1, min(MAX_STEP, f.shape[0] - 1) + 1):
        c = cols[width - 1]
        if c == 0:
            break
        np.minimum(window[width:, :c], f[:-width, :c], out=window[width:, :c])
    if cols[MAX_STEP]:
        c = cols[MAX_STEP]
        window[:, :c] = _prefix_min(f[:, :c])
    return window


def _prefix_min(f: np.ndarray) -> np.ndarray:
    """np.minimum.accumulate(f, axis=0); with many columns one vector minimum per row is several
    times faster (accumulate walks the columns one element at a time)."""
    if f[0].size < 128:
        return np.minimum.accumulate(f, axis=0)
    out = f.copy()
    for i in range(1, out.shape[0]):
        np.minimum(out[i], out[i - 1], out=out[i])
    return out


def _bucket(levels: np.ndarray) -> np.ndarray:
    """Level counts rounded up to a multiple of 4 (at least 4): a row's levels in `_groups`."""
    return 4 * np.ceil(np.maximum(levels, 1) / 4).astype(int)


def _groups(levels: np.ndarray, d: np.ndarray, merge: int = 0):
    """Row blocks of one sequence length and level count (`_bucket`), with bounded memory:
    (row indices, levels S, length d). Blocks of fewer than `merge` rows join the next ones
    (larger S or d, which the callers pad without changing any row's result): each block costs
    a fixed number of numpy calls."""
    key = _bucket(levels) * (d.max() + 1) + d
    if key.max(initial=0) < 1 << 16:
        key = key.astype(np.uint16)  # sorts by radix
    order = np.argsort(key, kind="stable")  # one sort, not one comparison pass per group
    sorted_keys = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], order.size]
    lo, s_b, d_b = 0, 0, 0
    for k, hi in zip(sorted_keys[starts].tolist(), ends.tolist(), strict=True):
        s_k, d_k = divmod(k, int(d.max()) + 1)
        s_b, d_b = max(s_b, s_k), max(d_b, d_k)
        if hi - lo < merge and hi < order.size:
            continue
        idx = order[lo:hi]
        step = max(1, _CHUNK // (d_b * (s_b + 1)))
        for start in range(0, idx.size, step):
            yield idx[start : start + step], s_b, d_b
        lo, s_b, d_b = hi, 0, 0


def _log_levels(w0, L, S, first=0) -> np.ndarray:
    """log V_s = log(Q * round(w0 * e^{sL} / Q)), s = first..first + S, as regnet_block_widths
    rounds (`first`: a number or one per row)."""
    s = np.arange(S + 1) + np.asarray(first)[..., None]
    return np.log(np.maximum(np.rint(w0[:, None] * np.exp(s * L[:, None]) / Q), 1) * Q)


def _sweep_block(logw, mask, w0, L, a1, S, S_own) -> tuple[np.ndarray, np.ndarray]:
    """Rows of at most d blocks (a row's blocks past its `mask` cost nothing and never step),
    levels 0..S: sort the exponent steps of blocks 1..d-1 in a, accumulate. S_own: the levels
    each row would get alone, so a row's result does not depend on the others in the block."""
    b, dlen = logw.shape
    cost = logw[..., None] - _log_levels(w0, L, S)[:, None, :]  # (b, d, S+1)
    np.abs(cost, out=cost)
    padded = not mask.all()
    if padded:
        cost *= mask[..., None]
    # a -> 0: every exponent 0. Summed one block after the other (np.sum's pairwise order
    # changes with the row length), so padding blocks add exact zeros.
    base = np.cumsum(cost[:, :, 0], axis=1)[:, -1]
    if dlen == 1:
        return np.zeros(b), base
    delta = np.diff(cost[:, 1:, :], axis=-1).reshape(b, -1)  # (b, (D-1)*S)
    j = np.arange(1, dlen)[:, None]
    events = np.expm1((np.arange(S) + 0.5) * L[:, None])[:, None, :] / j  # (b, D-1, S)
    if padded:
        np.copyto(events, np.inf, where=~mask[:, 1:, None])  # padding blocks never step
    events = events.reshape(b, -1)
    # States past a1 never win (see `sweep_a`), and past a_cap some events are missing: every
    # event past a1 gets an infinite step, so every cumulative cost from the first on is infinite.
    np.copyto(delta, np.inf, where=events > a1[:, None])
    events, order = _sorted_with_index(events)
    n_ev = events.shape[1]
    order += np.arange(b)[:, None] * n_ev  # flat indices: cheaper than take_along_axis
    k, gain = _cheapest_prefix(delta.ravel(), order)  # cost after each event, relative to base
    rows = np.arange(b)
    stay = ~(gain < 0)  # no event at all (a below the first one) is at least as good
    # The interval of a: [0, events[0]) for no event, else (events[k], events[k + 1]).
    lo = np.where(stay, 0.0, events[rows, k])
    nxt = np.where(stay, 0, k + 1)
    hi = np.where(nxt < n_ev, events[rows, np.minimum(nxt, n_ev - 1)], np.inf)
    # Past the row's own last level the next event is at least a_cap (its last block at S_own);
    # the steps of levels beyond S_own all lie past a_cap.
    hi = np.minimum(hi, np.expm1((S_own + 0.5) * L) / np.maximum(mask.sum(1) - 1, 1))
    with np.errstate(invalid="ignore"):
        a = np.where(lo > 0, np.sqrt(lo * hi), hi / 2)
    return a, base + np.where(stay, 0.0, gain)


def _cheapest_prefix(values: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `order`: the index and value of the smallest running sum of values[order].
    numpy's cumsum adds one element at a time along a row; with many rows, one vector add per
    column over all rows is several times faster (the same additions, so the same sums)."""
    rows = np.arange(order.shape[0])
    if order.shape[0] < SUM_ROWS:
        total = np.cumsum(values[order], -1)
        k = np.argmin(total, -1)
        return k, total[rows, k]
    total = values[order.T]
    for i in range(1, total.shape[0]):
        np.add(total[i], total[i - 1], out=total[i])
    k = np.argmin(total, 0)
    return k, total[k, rows]


def _sorted_with_index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of positive floats sorted, with the permutation: the column index is written
    into the low 16 mantissa bits and the rows sorted as integers (a plain sort is several times
    faster than argsort plus a gather). The values come back with those bits cleared (relative
    error < 2**-36: enough for interval ends); ties fall in column order. Neither depends on the
    row's length, so padding columns placed after (or sorting after) the real ones change
    nothing. Rows longer than 65,536 sort stably with argsort (the same order, exact values)."""
    cols = values.shape[-1]
    if cols > 1 << 16:
        order = np.argsort(values, axis=-1, kind="stable")
        return np.take_along_axis(values, order, -1), order
    low = np.uint64(0xFFFF)
    keys = (values.view(np.uint64) & ~low) | np.arange(cols, dtype=np.uint64)
    keys.sort(axis=-1)  # non-negative floats order as their bit patterns
    return (keys & ~low).view(np.float64), (keys & low).view(np.int64)
