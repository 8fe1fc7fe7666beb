"""The width rules, each written once: RegNet's quantized-linear widths (Designing Network Design
Spaces, sec. 3.3), the width/bottleneck/group compatibility rule and the group check.

Every function reads the same on Python numbers and numpy arrays (`pycls_like.arith`): the scalar
counter calls them with ints and never imports numpy; the sampler (`design/batch.py`) calls them with
arrays of candidates.
"""

import math
from typing import Any

from pycls_like.arith import iround, itrunc, lcm, maximum, minimum
from pycls_like.errors import ConfigError


def regnet_t(w0: Any, wa: Any, wm: Any, j: Any, log: Any = math.log, log_wm: Any = None) -> Any:
    """t_j = log(u_j / w0) / log(wm) with u_j = w0 + wa*j; the exponent is s_j = round(t_j).

    `log` is `math.log` or `np.log`: the vectorized caller passes numpy's (and re-checks the few
    values within an ulp of a .5 tie with this scalar form). `log_wm`: log(wm), if already known.
    """
    return log((w0 + wa * j) / w0) / (log(wm) if log_wm is None else log_wm)


def regnet_width(w0: Any, wm: Any, s: Any, q: int = 8) -> Any:
    """w_j = q * round(w0 * wm**s_j / q): the width of the blocks with exponent s_j."""
    return iround(w0 * wm**s / q) * q


def regnet_block_exponents(d: int, w0: int, wa: float, wm: float) -> list[int]:
    """The quantization exponents s_j; max(s_j) + 1 is the number of stages the rule could make."""
    from pycls_like.stagecount import regnet_runs  # regnet_t and regnet_width, recorded

    exps, counts, _ = regnet_runs()(w0, wa, wm, d, 8)
    return [s for s, n in zip(exps, counts, strict=True) for _ in range(n)]


def regnet_block_widths(d: int, w0: int, wa: float, wm: float, q: int = 8) -> list[int]:
    """Per-block widths w_j (see `regnet_t`, `regnet_width`); one width per distinct exponent."""
    from pycls_like.stagecount import regnet_runs

    _, counts, widths = regnet_runs()(w0, wa, wm, d, q)
    return [w for w, n in zip(widths, counts, strict=True) for _ in range(n)]


def regnet_stages(d: int, w0: int, wa: float, wm: float, q: int = 8) -> tuple[list[int], list[int]]:
    """(stage widths, stage depths): `stages_from_block_widths(regnet_block_widths(...))`, counted
    per exponent (s_j never decreases) instead of per block."""
    from pycls_like.stagecount import regnet_runs

    ws: list[int] = []
    ds: list[int] = []
    _, counts, widths = regnet_runs()(w0, wa, wm, d, q)
    for w, n in zip(widths, counts, strict=True):
        if ws and ws[-1] == w:  # two exponents can quantize to one width
            ds[-1] += n
        else:
            ws.append(w)
            ds.append(n)
    return ws, ds


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


def compatible_width(w: Any, b: Any, g: Any) -> tuple[Any, Any]:
    """Make w*b divisible by the group width (CONVENTIONS.md, pycls `adjust_block_compatibility`).

    v = max(1, int(w*b)); g = min(g, v); m = lcm(g, int(b)) if b > 1 else g;
    v = max(m, round(v/m)*m); returns (int(v/b), g). Numbers or arrays alike.
    """
    v = maximum(1, itrunc(w * b))
    g = minimum(g, v)
    m = lcm(g, maximum(itrunc(b), 1))  # = g when b <= 1 (int(b) <= 1)
    v = maximum(m, iround(v / m) * m)
    return itrunc(v / b), g


def adjust_block_compatibility(
    ws: list[int], bs: list[float], gs: list[int]
) -> tuple[list[int], list[float], list[int]]:
    """`compatible_width` per stage: (widths, bottleneck multipliers, group widths)."""
    pairs = [compatible_width(w, b, g) for w, b, g in zip(ws, bs, gs, strict=True)]
    return [w for w, _ in pairs], list(bs), [g for _, g in pairs]


def bad_groups(w: Any, b: Any, g: Any) -> Any:
    """True where round(w*b) is not a positive multiple of g: the grouped 3x3 cannot exist.

    The compatibility rule makes it hold for whole b and for b = 0.25, 0.5 (exact in binary); other
    fractional b (1.5, 0.76) can miss once `int(v/b)` truncates.
    """
    w_b = iround(w * b)
    return (w_b < g) | (w_b % g != 0)


def groups_error(stage: int, w: int, b: float, g: int) -> ConfigError:
    """The one message for a stage that fails `bad_groups` (scalar and vectorized paths)."""
    return ConfigError(
        f"stage {stage}: bottleneck width round({w}*{b:g}) = {round(w * b)} is not a multiple of "
        f"group width {g} even after the compatibility rule; use multipliers such as 0.25, 0.5, "
        "1, 2, 4",
        key="bs",
    )
