"""Vectorized complexity of many AnyNet/RegNet candidates at once (numpy, no torch).

The sampler scores thousands of candidates per chunk, so it cannot afford `complexity(spec)` on
each. It runs the very layer lists of `pycls_like.layers` through `complexity.Tally` on arrays of
candidates (a stage at a time: first block, then one later block times depth - 1), and the width
rules of `pycls_like.regnet` on arrays; the tests check equality with the scalar path on
thousands of specs of every shipped space. A block or stem kind not in the registries raises.

Exactness notes: numpy's `np.round` rounds half to even like Python's `round`, and + - * / are
IEEE-exact in both. Only `log` and `pow` may differ from libm by an ulp, which matters only when a
value lies within rounding noise of a .5 tie; those few entries are recomputed with `math`.
"""

from dataclasses import dataclass

import numpy as np

from pycls_like.complexity import Tally
from pycls_like.layers import block_layers, get_block, get_stem, head_layers
from pycls_like.regnet import bad_groups, compatible_width, groups_error, regnet_t, regnet_width

_TIE_TOL = 1e-9  # far above ulp noise (~1e-15 relative), far below any real distance from a tie


@dataclass
class StageArrays:
    """Per-stage arrays of shape (n, S); a stage with ds == 0 is absent (skipped).

    ss, bs, gs may instead have one column (the same value in every stage, as in RegNet), and
    bs, gs none at all (blocks without a bottleneck).
    """

    ds: np.ndarray  # int64
    ws: np.ndarray  # int64
    ss: np.ndarray  # int64
    bs: np.ndarray  # float64
    gs: np.ndarray  # int64

    def rows(self, idx: np.ndarray) -> "StageArrays":
        return StageArrays(self.ds[idx], self.ws[idx], self.ss[idx], self.bs[idx], self.gs[idx])

    def columns(self, count: int) -> "StageArrays":
        """The first `count` stages."""
        return StageArrays(
            *(
                a[:, :count] if a.shape[1] > 1 else a
                for a in (self.ds, self.ws, self.ss, self.bs, self.gs)
            )
        )

    def stage(self, i: int, name: str, empty: float) -> np.ndarray | float:
        """Column i of a per-stage array (`empty` when the array has no columns)."""
        a = getattr(self, name)
        return a[:, i if a.shape[1] > 1 else 0] if a.shape[1] else empty


def _near_half(x: np.ndarray) -> np.ndarray:
    """Entries within rounding noise of a .5 tie (x >= 0), where log/pow ulps could flip round()."""
    return np.abs(x - np.floor(x) - 0.5) < _TIE_TOL * np.maximum(1.0, x)


def regnet_block_widths_batch(
    d: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, q: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block widths (n, max d), the valid-block mask and max(s_j) + 1 (`regnet.py` rules)."""
    j = np.arange(int(d.max()))
    mask = j < d[:, None]
    w0f = w0.astype(np.float64)[:, None]
    t = regnet_t(w0f, wa[:, None], wm[:, None], j, log=np.log)
    s = np.round(t)
    for r, c in zip(*np.nonzero(_near_half(t) & mask), strict=True):
        s[r, c] = round(regnet_t(int(w0[r]), float(wa[r]), float(wm[r]), int(c)))
    x = w0f * wm[:, None] ** s / q
    widths = regnet_width(w0f, wm[:, None], s, q)
    for r, c in zip(*np.nonzero(_near_half(x) & mask), strict=True):
        widths[r, c] = regnet_width(int(w0[r]), float(wm[r]), int(s[r, c]), q)
    max_s = np.where(mask, s, -1).max(axis=1).astype(np.int64) + 1
    return widths.astype(np.int64), mask, max_s


def stages_from_blocks(widths: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal consecutive widths -> (stage depths, stage widths), each (n, S)."""
    n = widths.shape[0]
    change = np.zeros_like(mask)
    change[:, 1:] = widths[:, 1:] != widths[:, :-1]
    k = np.where(mask, np.cumsum(change, axis=1), 0)  # stage index of each block
    s_max = int(k.max()) + 1
    rows = np.broadcast_to(np.arange(n)[:, None], k.shape)
    ds = np.bincount((rows * s_max + k)[mask], minlength=n * s_max).reshape(n, s_max)
    ws = np.zeros((n, s_max), dtype=np.int64)
    ws[rows[mask], k[mask]] = widths[mask]
    return ds, ws


def _exponent_table(
    d: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, q: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth and width of the blocks with exponent s_j == k, k = 0..K-1, without per-block work.

    s_j = round(t_j) with t_j increasing in j, so the blocks with s_j <= k are those with
    j < j*_k, where t = k + 1/2 at j*_k = w0 * (wm**(k + 1/2) - 1) / wa. Rows where some j*_k
    lies within noise of an integer (a tie) are flagged for the per-block path.
    """
    n = len(d)
    w0f = w0.astype(np.float64)
    t_max = regnet_t(w0f, wa, wm, d - 1, log=np.log)
    k_count = int(np.floor(t_max.max() + 0.5)) + 2  # one spare exponent for ulp noise
    pw = np.cumprod(np.broadcast_to(wm[:, None], (n, k_count)), axis=1) / wm[:, None]  # wm**k
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # wa ~ 0: j* = inf
        j_star = w0f[:, None] * (pw * np.sqrt(wm)[:, None] - 1) / wa[:, None]
        j_star = np.where(wa[:, None] > 0, j_star, np.inf)  # wa == 0: every s_j is 0
        near = np.abs(j_star - np.round(j_star)) < 1e-6 * (1 + j_star)
    below = np.minimum(np.ceil(j_star), d[:, None])  # number of blocks with s_j <= k
    ds = np.diff(below, axis=1, prepend=0).astype(np.int64)
    tie = (near & (j_star < d[:, None] - 0.5)).any(axis=1)
    # widths of exponents no block reaches are never used; the cap keeps the cast defined
    x = np.minimum(w0f[:, None] * pw / q, 2.0**40)
    ws = np.round(x).astype(np.int64) * q  # regnet_width, with the cap
    for r, c in zip(*np.nonzero(_near_half(x) & (ds > 0)), strict=True):
        ws[r, c] = regnet_width(int(w0[r]), float(wm[r]), int(c), q)  # exact pow
    return ds, ws, tie


def regnet_stages(
    d: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, *, all_rows: bool, q: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stages of many RegNets: (ds, ws) of shape (n, S), num_stages, and pycls' full-stage test.

    `full` is pycls `check_regnet_constraints`: distinct widths == max(s_j) + 1. Full rows come
    straight from the exponent table (stage k = the blocks with s_j == k). Ties, and non-full rows
    when `all_rows`, take the per-block path; otherwise non-full rows keep rough stages that are
    only fit for rejection.
    """
    ds, ws, tie = _exponent_table(d, w0, wa, wm, q)
    present = ds > 0
    max_s = present.shape[1] - np.argmax(present[:, ::-1], axis=1)  # last present k, plus one
    increasing = (ws[:, 1:] > ws[:, :-1]) | ~present[:, 1:]
    full = (present.sum(axis=1) == max_s) & increasing.all(axis=1)
    num_stages = max_s
    slow = np.flatnonzero(tie | (~full & all_rows))
    if len(slow):
        widths, mask, max_s_b = regnet_block_widths_batch(d[slow], w0[slow], wa[slow], wm[slow], q)
        ds_b, ws_b = stages_from_blocks(widths, mask)
        width = max(ds.shape[1], ds_b.shape[1])
        ds, ws = (np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (ds, ws))
        ds[slow], ws[slow] = 0, 0
        ds[slow, : ds_b.shape[1]], ws[slow, : ds_b.shape[1]] = ds_b, ws_b
        num_stages[slow] = (ds_b > 0).sum(axis=1)
        full[slow] = num_stages[slow] == max_s_b
    return ds, ws, num_stages, full


def adjust_compatibility(
    ws: np.ndarray, bs: np.ndarray, gs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`regnet.compatible_width` elementwise: (adjusted widths, adjusted group widths)."""
    w, g = compatible_width(ws, bs, gs)
    return np.asarray(w, dtype=np.int64), np.asarray(g, dtype=np.int64)


def _check_groups(w: np.ndarray, b: np.ndarray, g: np.ndarray, present: np.ndarray) -> None:
    """`regnet.bad_groups` over every present stage; the first failure raises."""
    w, b, g = np.broadcast_arrays(w, b, g)
    rows, stages = np.nonzero(present & bad_groups(w, b, g))
    if len(rows):
        r, i = rows[0], stages[0]
        raise groups_error(int(i) + 1, int(w[r, i]), float(b[r, i]), int(g[r, i]))


def cnn_complexity_batch(
    stem_type: str,
    block_type: str,
    stem_w: np.ndarray,
    st: StageArrays,
    se_ratio: np.ndarray,
    head_w: np.ndarray,
    resolution: np.ndarray,
    num_classes: np.ndarray,
    *,
    flops_only: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact (flops, params, acts) per candidate; `st` holds compatibility-adjusted stages.

    With `flops_only`, params and acts come back as zeros (a cheaper first pass for the band).
    """
    stem, kind = get_stem(stem_type), get_block(block_type)
    t = Tally(resolution.astype(np.int64), flops_only=flops_only)
    stem_w = stem_w.astype(np.int64)
    stem(t, 3, stem_w)
    # all stages at once, as (n, S) arrays; absent stages (ds == 0) get harmless values
    present = st.ds > 0
    everywhere = bool(present.all())
    d, w, s = st.ds, st.ws, np.broadcast_to(st.ss, st.ds.shape)
    b = st.bs if st.bs.shape[1] else 1.0
    g = st.gs if st.gs.shape[1] else 1
    if not everywhere:
        w, s, b, g = (np.where(present, v, ok) for v, ok in ((w, 8), (s, 1), (b, 1.0), (g, 1)))
    if kind.bottleneck:
        _check_groups(w, b, g, present)
    # each stage's input size and width: those after the last present stage before it
    h_in, w_in = np.empty_like(d), np.empty_like(d)
    h, w_cur = t.h, stem_w
    for i in range(d.shape[1]):
        h_in[:, i], w_in[:, i] = h, w_cur
        h_next = (h - 1) // s[:, i] + 1
        if everywhere:
            h, w_cur = h_next, w[:, i]
        else:
            h, w_cur = np.where(present[:, i], h_next, h), np.where(present[:, i], w[:, i], w_cur)
    se = se_ratio.astype(np.float64)[:, None] if kind.se else 0.0
    first = Tally(h_in, flops_only=flops_only)
    kind_args = (b, g, se, 3, False)
    block_layers(first, kind, kind.args(w_in, w, s, *kind_args))
    rest = Tally(first.h, flops_only=flops_only)
    block_layers(rest, kind, kind.args(w, w, 1, *kind_args))
    mask = 1 if everywhere else present
    t.flops = t.flops + (mask * (first.flops + (d - 1) * rest.flops)).sum(axis=1)
    if not flops_only:
        t.params = t.params + (mask * (first.params + (d - 1) * rest.params)).sum(axis=1)
        t.acts = t.acts + (mask * (first.acts + (d - 1) * rest.acts)).sum(axis=1)
    t.h = h
    head_layers(t, w_cur, head_w.astype(np.int64), num_classes.astype(np.int64))
    z = np.zeros(len(resolution), dtype=np.int64)
    return z + t.flops, z + t.params, z + t.acts
