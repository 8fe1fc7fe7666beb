"""Scaling strategies: relative weights over depth, width, group width and resolution.

Fast and Accurate Model Scaling (Dollar, Singh, Girshick 2021), sec. 3-4: scaling a model's flops
by `s` multiplies depth by `s**e_d`, width by `s**e_w` and resolution by `s**e_r` with
`e_d + 2*e_w + 2*e_r = 1` (flops grow linearly in depth and quadratically in width and resolution).
A strategy string such as `dwr` or `d1_w8_g8_r1` gives relative weights; CONVENTIONS.md "Scaling"
turns them into exponents. Pure functions, no numpy.
"""

import math
import re
from dataclasses import dataclass
from functools import reduce

from pycls_like.errors import ConfigError

DIMENSIONS = ("d", "w", "g", "r")  # depth, width, group width, resolution
# Named strategies; `fast` is the paper's fast compound scaling (sec. 4): ~80% of the flops
# increase from width (with group width alongside), 10% each from depth and resolution.
NAMED = {"fast": "d1_w8_g8_r1"}
_TOKEN = r"[dwgr](?:\d+(?:\.\d+)?)?"
_GRAMMAR = re.compile(rf"{_TOKEN}(?:_?{_TOKEN})*")


@dataclass(frozen=True)
class ScalingFactors:
    """Multipliers applied to a model scaled by `factor` (CONVENTIONS.md "Scaling")."""

    strategy: str
    factor: float
    d: float
    w: float
    g: float
    r: float


def parse_strategy(strategy: str) -> dict[str, float]:
    """`"d1_w8_g8_r1"` -> {d: 1, w: 8, g: 8, r: 1}; a bare letter weighs 1, absent letters 0."""
    text = NAMED.get(strategy, strategy)
    if not isinstance(text, str) or not _GRAMMAR.fullmatch(text):
        named = ", ".join(NAMED)
        raise ConfigError(
            f"bad scaling strategy {strategy!r}: expected letters from d, w, g, r, each optionally "
            f"weighted and joined by '_' (e.g. dw, dwr, d1_w8_g8_r1) or one of: {named}",
            key="strategy",
        )
    weights = dict.fromkeys(DIMENSIONS, 0.0)
    seen: set[str] = set()
    for token in re.findall(_TOKEN, text):
        letter = token[0]
        if letter in seen:
            raise ConfigError(
                f"bad scaling strategy {strategy!r}: {letter!r} repeats", key="strategy"
            )
        seen.add(letter)
        weights[letter] = float(token[1:]) if len(token) > 1 else 1.0
    return weights


def exponents(strategy: str) -> dict[str, float]:
    """Exponents of `s` per dimension: d `w_d/S`, w `w_w/S/2`, g `w_g/S/2`, r `w_r/S/2`.

    S = w_d + w_w + w_r so that e_d + 2*e_w + 2*e_r = 1 (flops grow ~s); a group-width-only
    strategy uses S = w_g/2 (group width then grows ~s), and all-zero weights S = 1 (no change).
    """
    wt = parse_strategy(strategy)
    total = wt["d"] + wt["w"] + wt["r"] or wt["g"] / 2 or 1.0
    return {
        "d": wt["d"] / total,
        "w": wt["w"] / total / 2,
        "g": wt["g"] / total / 2,
        "r": wt["r"] / total / 2,
    }


def scaling_factors(strategy: str, factor: float) -> ScalingFactors:
    """Per-dimension multipliers for scaling flops by `factor` with `strategy`."""
    e = exponents(strategy)
    if not (isinstance(factor, int | float) and math.isfinite(factor) and factor > 0):
        raise ConfigError(
            f"scaling factor must be a finite number > 0, got {factor!r} (strategy {strategy!r})",
            key="factor",
        )
    return ScalingFactors(strategy, float(factor), *(factor ** e[k] for k in DIMENSIONS))


def format_strategy(weights: dict[str, float]) -> str:
    """Canonical string of integer weights: `dwr` when all are 1, else `d1_w4` (zeros left out)."""
    ints = {k: weights.get(k, 0) for k in DIMENSIONS}
    if any(v < 0 or v != int(v) for v in ints.values()) or not any(ints.values()):
        raise ConfigError(f"strategy weights must be integers >= 0, not all 0, got {weights}")
    used = {k: int(v) for k, v in ints.items() if v}
    if set(used.values()) == {1}:
        return "".join(used)
    return "_".join(f"{k}{v}" for k, v in used.items())


def strategy_from_exponents(
    e_d: float, e_w: float, e_r: float, e_g: float = 0.0, *, denominator: int = 10
) -> str:
    """Turn fitted growth exponents into a strategy string usable by `scale`.

    Weights are proportional to the flops shares (e_d, 2*e_w, 2*e_r) (and 2*e_g for group width),
    normalized so the d, w, r shares sum to 1, rounded to multiples of 1/`denominator` and reduced
    by their gcd: e_d=0.2, e_w=0.4, e_r=0 -> shares 0.2, 0.8 -> 2, 8 -> "d1_w4". Negative exponents
    (a dimension that shrinks as flops grow) cannot be expressed and count as 0.
    """
    if denominator < 2:
        raise ValueError(f"denominator must be >= 2, got {denominator}")
    raw = {"d": e_d, "w": 2 * e_w, "g": 2 * e_g, "r": 2 * e_r}
    raw = {k: max(0.0, v) if math.isfinite(v) else 0.0 for k, v in raw.items()}
    total = raw["d"] + raw["w"] + raw["r"]
    if total <= 0:
        raise ConfigError(
            f"no depth, width or resolution growth to turn into a strategy (exponents d={e_d:.3g}, "
            f"w={e_w:.3g}, r={e_r:.3g})"
        )
    # The d, w, r shares sum to `denominator`, so at least one rounds to >= 1.
    ints = {k: round(v / total * denominator) for k, v in raw.items()}
    divisor = reduce(math.gcd, [v for v in ints.values() if v])
    return format_strategy({k: v // divisor for k, v in ints.items()})
