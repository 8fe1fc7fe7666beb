"""Vectorized complexity of many AnyNet/RegNet candidates at once (numpy, no torch).

The sampler scores thousands of candidates per chunk, so it cannot afford `complexity(spec)` on
each. This module re-implements, over arrays of candidates, exactly the integer formulas of
`complexity.py` (CONVENTIONS.md) and the RegNet / compatibility rules of `regnet.py`; the tests
check equality with the scalar reference on thousands of specs of every shipped space.

Exactness notes: numpy's `np.round` rounds half to even like Python's `round`, and + - * / are
IEEE-exact in both. Only `log` and `pow` may differ from libm by an ulp, which matters only when a
value lies within rounding noise of a .5 tie; those few entries are recomputed with `math`.
"""

import math
from dataclasses import dataclass

import numpy as np

from pycls_like.errors import ConfigError

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
    """Per-block widths (n, max d), the valid-block mask and max(s_j) + 1 (as `regnet.py`)."""
    j = np.arange(int(d.max()))
    mask = j < d[:, None]
    w0f = w0.astype(np.float64)[:, None]
    t = np.log((w0f + wa[:, None] * j) / w0f) / np.log(wm)[:, None]
    s = np.round(t)
    for r, c in zip(*np.nonzero(_near_half(t) & mask), strict=True):
        w0_r, wa_r, wm_r = int(w0[r]), float(wa[r]), float(wm[r])
        s[r, c] = round(math.log((w0_r + wa_r * int(c)) / w0_r) / math.log(wm_r))
    x = w0f * wm[:, None] ** s / q
    widths = np.round(x)
    for r, c in zip(*np.nonzero(_near_half(x) & mask), strict=True):
        widths[r, c] = round(int(w0[r]) * float(wm[r]) ** int(s[r, c]) / q)
    max_s = np.where(mask, s, -1).max(axis=1).astype(np.int64) + 1
    return widths.astype(np.int64) * q, mask, max_s


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
    t_max = np.log((w0f + wa * (d - 1)) / w0f) / np.log(wm)
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
    ws = np.round(x)
    for r, c in zip(*np.nonzero(_near_half(x) & (ds > 0)), strict=True):
        ws[r, c] = round(int(w0[r]) * float(wm[r]) ** int(c) / q)  # exact pow, as regnet.py
    return ds, ws.astype(np.int64) * q, tie


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
    """`regnet.adjust_block_compatibility` elementwise: (adjusted widths, adjusted group widths)."""
    v = np.maximum(1, np.trunc(ws * bs).astype(np.int64))
    g = np.minimum(gs, v)
    big_b = bs > 1
    m = (
        np.where(big_b, np.lcm(g, np.maximum(np.trunc(bs).astype(np.int64), 1)), g)
        if big_b.any()
        else g
    )
    v = np.maximum(m, np.round(v / m).astype(np.int64) * m)
    return np.trunc(v / bs).astype(np.int64), g


def _check_groups(w: np.ndarray, b: np.ndarray, g: np.ndarray, present: np.ndarray) -> None:
    """The grouped 3x3 needs round(w*b) to be a positive multiple of g (as `plan._check_groups`).

    The compatibility rule ensures it for whole b and b = 0.25, 0.5; b such as 1.5 can miss.
    """
    w, b, g = np.broadcast_arrays(w, b, g)
    w_b = np.round(w * b).astype(np.int64)
    rows, stages = np.nonzero(present & ((w_b < g) | (w_b % g != 0)))
    if len(rows):
        r, i = rows[0], stages[0]
        msg = (
            f"stage {i + 1}: bottleneck width round({w[r, i]}*{b[r, i]:g}) = {w_b[r, i]} is not a "
            f"multiple of group width {g[r, i]} even after the compatibility rule; use "
            "multipliers such as 0.25, 0.5, 1, 2, 4"
        )
        raise ConfigError(msg, key="bs")


def _conv_out(h: np.ndarray, stride: np.ndarray | int) -> np.ndarray:
    return (h - 1) // stride + 1


def _block(kind: str, w_in, w_out, stride, h, b, g, se_ratio, *, first: bool, flops_only: bool):
    """(flops, params, acts, h_out) of one block per candidate, as `complexity._count_block`.

    `se_ratio` None means no SE anywhere; `first=False` (stride 1, w_in == w_out) has no projection.
    """
    h2 = _conv_out(h, stride) if first else h
    hw1, hw2 = h * h, h2 * h2
    p = a = 0
    if kind == "res_bottleneck_block":
        w_b = np.round(w_out * b).astype(np.int64)
        groups = w_b // g
        f = w_in * w_b * hw1 + 9 * w_b * w_b * hw2 // groups + w_b * w_out * hw2
        if not flops_only:
            p = w_in * w_b + 9 * w_b * w_b // groups + w_b * w_out + 4 * w_b + 2 * w_out
            a = w_b * hw1 + w_b * hw2 + w_out * hw2
        if se_ratio is not None:  # SE(w_b, round(w_in * se_ratio)): two biased 1x1 convs at 1x1
            se = np.where(se_ratio > 0, np.round(w_in * se_ratio), 0).astype(np.int64)
            se_cost = 2 * w_b * se + se + w_b * (se > 0)
            f = f + se_cost
            if not flops_only:
                p, a = p + se_cost, a + (se + w_b) * (se > 0)
    else:  # vanilla_block, res_basic_block: two conv3x3
        f = 9 * w_in * w_out * hw2 + 9 * w_out * w_out * hw2
        if not flops_only:
            p = 9 * w_in * w_out + 9 * w_out * w_out + 4 * w_out
            a = 2 * w_out * hw2
    if first and kind != "vanilla_block":  # projection conv1x1 (stride s) + BN on a changed shape
        proj = (w_in != w_out) | (stride != 1)
        f = f + proj * (w_in * w_out * hw2)
        if not flops_only:
            p = p + proj * (w_in * w_out + 2 * w_out)
            a = a + proj * (w_out * hw2)
    return f, p, a, h2


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
    h = resolution.astype(np.int64)
    stem_w = stem_w.astype(np.int64)
    k = 7 if stem_type == "res_stem_in" else 3
    h = h if stem_type == "res_stem_cifar" else _conv_out(h, 2)
    flops, params, acts = (
        k * k * 3 * stem_w * h * h,
        k * k * 3 * stem_w + 2 * stem_w,
        stem_w * h * h,
    )
    if stem_type == "res_stem_in":  # max pool 3x3 stride 2
        h = _conv_out(h, 2)
        acts = acts + stem_w * h * h
    # all stages at once, as (n, S) arrays; absent stages (ds == 0) get harmless values
    present = st.ds > 0
    everywhere = bool(present.all())
    d, w, s = st.ds, st.ws, np.broadcast_to(st.ss, st.ds.shape)
    b = st.bs if st.bs.shape[1] else 1.0
    g = st.gs if st.gs.shape[1] else 1
    if not everywhere:
        w, s, b, g = (np.where(present, v, ok) for v, ok in ((w, 8), (s, 1), (b, 1.0), (g, 1)))
    if block_type == "res_bottleneck_block":
        _check_groups(w, b, g, present)
    # each stage's input size and width: those after the last present stage before it
    h_in, w_in = np.empty_like(d), np.empty_like(d)
    w_cur = stem_w
    for i in range(d.shape[1]):
        h_in[:, i], w_in[:, i] = h, w_cur
        h_next = _conv_out(h, s[:, i])
        if everywhere:
            h, w_cur = h_next, w[:, i]
        else:
            h, w_cur = np.where(present[:, i], h_next, h), np.where(present[:, i], w[:, i], w_cur)
    se = se_ratio.astype(np.float64)[:, None] if np.any(se_ratio) else None
    first = _block(block_type, w_in, w, s, h_in, b, g, se, first=True, flops_only=flops_only)
    rest = _block(block_type, w, w, 1, first[3], b, g, se, first=False, flops_only=flops_only)
    mask = 1 if everywhere else present
    flops = flops + (mask * (first[0] + (d - 1) * rest[0])).sum(axis=1)
    if not flops_only:
        params = params + (mask * (first[1] + (d - 1) * rest[1])).sum(axis=1)
        acts = acts + (mask * (first[2] + (d - 1) * rest[2])).sum(axis=1)
    # head: optional conv1x1 at the last stage's size, global pool, linear
    w_in = w_cur
    head_w = head_w.astype(np.int64)
    has_head = head_w > 0
    flops = flops + has_head * (w_in * head_w * h * h)
    params = params + has_head * (w_in * head_w + 2 * head_w)
    acts = acts + has_head * (head_w * h * h)
    w_in = np.where(has_head, head_w, w_in)
    c = num_classes.astype(np.int64)
    return flops + w_in * c + c, params + w_in * c + c, acts + c
