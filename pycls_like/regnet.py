"""Quantized-linear width rule of RegNet (Designing Network Design Spaces, sec. 3.3).

Torch- and numpy-free so complexity queries stay fast; the vectorized sampler re-implements the
same formulas in numpy and is tested against this module.
"""

import math


def regnet_block_widths(d: int, w0: int, wa: float, wm: float, q: int = 8) -> list[int]:
    """Per-block widths: u_j = w0 + wa*j, s_j = round(log(u_j/w0)/log(wm)), w_j = q*round(w0*wm**s_j/q)."""
    log_wm = math.log(wm)
    widths = []
    for j in range(d):
        s = round(math.log((w0 + wa * j) / w0) / log_wm)
        widths.append(round(w0 * wm**s / q) * q)
    return widths


def regnet_block_exponents(d: int, w0: int, wa: float, wm: float) -> list[int]:
    """The quantization exponents s_j; max(s_j) + 1 is the number of stages the rule could make."""
    log_wm = math.log(wm)
    return [round(math.log((w0 + wa * j) / w0) / log_wm) for j in range(d)]


def stages_from_block_widths(block_widths: list[int]) -> tuple[list[int], list[int]]:
    """Group equal consecutive widths into stages: returns (stage widths, stage depths)."""
    ws: list[int] = []
    ds: list[int] = []
    for w in block_widths:
        if ws and ws[-1] == w:
            ds[-1] += 1
        else:
            ws.append(w)
            ds.append(1)
    return ws, ds


def adjust_block_compatibility(
    ws: list[int], bs: list[float], gs: list[int]
) -> tuple[list[int], list[float], list[int]]:
    """Make width*bottleneck divisible by the group width (CONVENTIONS.md, pycls blocks.py)."""
    out_ws, out_gs = [], []
    for w, b, g in zip(ws, bs, gs, strict=True):
        v = max(1, int(w * b))
        g = min(g, v)
        m = math.lcm(g, int(b)) if b > 1 else g
        v = max(m, round(v / m) * m)
        out_ws.append(int(v / b))
        out_gs.append(g)
    return out_ws, list(bs), out_gs
