"""Per-parameter samplers: vectorized draws from an explicit `np.random.Generator`.

Quantization `q` follows pycls `sweep/random.py`: a quantized sampler returns multiples of q in
[lo, hi] (both ends included, both multiples of q). Values are built as integers k times q's exact
fraction (k * num / den), so `wa` with q 0.1 gives 24.3, never 24.300000000000001, and the same
float that `float("24.3")` gives when the spec is read back.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from pycls_like.coerce import yaml_number
from pycls_like.errors import ConfigError


class Sampler:
    """A distribution over one value; `draw(rng, shape)` returns an array of that shape."""

    integral: bool = False  # True when every value is an integer (may feed an int spec field)

    @property
    def low(self) -> Any:
        """The smallest value it can draw (None for non-numbers): what range checks read."""
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Sampler):
    """A fixed value (number, string, or list for a per-stage field); consumes no randomness."""

    value: Any

    @property
    def integral(self) -> bool:  # type: ignore[override]
        return isinstance(self.value, int) and not isinstance(self.value, bool)

    @property
    def low(self) -> Any:
        return _low(self.value if isinstance(self.value, tuple) else (self.value,))

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        if isinstance(self.value, tuple):  # per-stage list: shape is (n, stages)
            return np.broadcast_to(np.array(self.value), shape)
        return np.full(shape, self.value, dtype=object if isinstance(self.value, str) else None)


@dataclass(frozen=True)
class Grid:
    """Multiples k*q of q for k in [k_lo, k_hi]; q = num/den exactly (from its decimal text)."""

    k_lo: int
    k_hi: int
    num: int
    den: int

    @property
    def q(self) -> float:
        return self.num / self.den

    def values(self, k: np.ndarray) -> np.ndarray:
        """Exact k*q: integers when q is, else the correctly rounded float of the fraction."""
        k = np.clip(k, self.k_lo, self.k_hi).astype(np.int64)
        return k * self.num if self.den == 1 else (k * self.num) / self.den


def _grid(lo: float, hi: float, q: float, key: str) -> Grid:
    fq, flo, fhi = (Fraction(str(v)) for v in (q, lo, hi))
    if fq <= 0:
        raise ConfigError(f"q must be > 0, got {q}", key=f"{key}.q")
    for name, value in (("lo", flo), ("hi", fhi)):
        if value % fq:
            msg = f"range end {name}={float(value):g} is not a multiple of q={q}"
            raise ConfigError(msg, key=f"{key}.range")
    return Grid(int(flo / fq), int(fhi / fq), fq.numerator, fq.denominator)


@dataclass(frozen=True)
class _Ranged(Sampler):
    """A law on [lo, hi], optionally quantized to a grid of multiples of q."""

    lo: float
    hi: float
    grid: Grid | None = None

    @property
    def integral(self) -> bool:  # type: ignore[override]
        return self.grid is not None and self.grid.den == 1

    @property
    def low(self) -> float:
        return self.lo


@dataclass(frozen=True)
class Uniform(_Ranged):
    """Uniform on [lo, hi); with q, every multiple of q in [lo, hi] is equally likely.

    pycls draws from [lo, hi + q) and floors to q: the same distribution as drawing k uniformly.
    """

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        if self.grid is None:
            return self.lo + (self.hi - self.lo) * rng.random(shape)
        return self.grid.values(rng.integers(self.grid.k_lo, self.grid.k_hi + 1, shape))


@dataclass(frozen=True)
class LogUniform(_Ranged):
    """Log-uniform on [lo, hi); with q, log-uniform on [lo, hi + q) floored to a multiple of q.

    Flooring keeps the log-uniform mass of each cell [kq, (k+1)q): P(kq) ~ log((k+1)/k), so
    small widths stay as likely as the continuous law says (pycls `log_uniform`).
    """

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        top = self.hi if self.grid is None else self.hi + self.grid.q
        x = np.exp(math.log(self.lo) + (math.log(top) - math.log(self.lo)) * rng.random(shape))
        if self.grid is None:
            return x
        return self.grid.values(np.floor(x / self.grid.q))


@dataclass(frozen=True)
class Power2(Sampler):
    """Uniform over the powers of two in [lo, hi] (pycls `power2_uniform`): 1, 2, 4, ..."""

    e_lo: int
    e_hi: int
    integral = True

    @property
    def low(self) -> int:
        return 2**self.e_lo

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        return np.left_shift(1, rng.integers(self.e_lo, self.e_hi + 1, shape)).astype(np.int64)


@dataclass(frozen=True)
class Power2OrLogUniform(Sampler):
    """Log-uniform on [lo, hi + q), mapped to powers of two below q and to multiples of q above.

    The group-width sampler of pycls sweeps: small group widths (1, 2, 4) are powers of two,
    larger ones multiples of q (8, 16, 24, ...); each keeps the log-uniform mass of its cell.
    """

    lo: int
    hi: int
    q: int
    integral = True

    @property
    def low(self) -> int:
        return self.lo

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        top = math.log(self.hi + self.q)
        x = np.exp(math.log(self.lo) + (top - math.log(self.lo)) * rng.random(shape))
        small = np.left_shift(1, np.floor(np.log2(np.minimum(x, self.q))).astype(np.int64))
        big = np.minimum(np.floor(x / self.q).astype(np.int64), self.hi // self.q) * self.q
        # the clips only guard against exp/log rounding at the ends of the interval
        return np.where(x < self.q, np.maximum(small, self.lo), big)


@dataclass(frozen=True)
class Choice(Sampler):
    """Uniform over a list of values (numbers or strings)."""

    values: tuple[Any, ...]

    @property
    def integral(self) -> bool:  # type: ignore[override]
        return all(isinstance(v, int) and not isinstance(v, bool) for v in self.values)

    @property
    def low(self) -> Any:
        return _low(self.values)

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        table = np.array(self.values, dtype=object if self._mixed() else None)
        return table[rng.integers(0, len(self.values), shape)]

    def _mixed(self) -> bool:
        return any(isinstance(v, str | bool) for v in self.values)


def _low(values: tuple[Any, ...]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return min(numbers) if numbers and len(numbers) == len(values) else None


def finite_values(sampler: Sampler) -> tuple[Any, ...]:
    """The values a constant or a choice can take (a constant list's entries); () for ranges."""
    if isinstance(sampler, Constant):
        v = sampler.value
        return v if isinstance(v, tuple) else (v,)
    return sampler.values if isinstance(sampler, Choice) else ()


def _range(data: dict[str, Any], key: str, positive: bool) -> tuple[float, float]:
    rng = data.get("range")
    if not isinstance(rng, list | tuple) or len(rng) != 2:
        raise ConfigError(
            f"needs `range: [lo, hi]` with two numbers, got {rng!r}", key=f"{key}.range"
        )
    lo, hi = (yaml_number(v, f"{key}.range") for v in rng)
    if lo > hi:
        raise ConfigError(f"inverted range [{lo}, {hi}]: lo must be <= hi", key=f"{key}.range")
    if positive and lo <= 0:
        raise ConfigError(f"needs lo > 0, got {lo}", key=f"{key}.range")
    return lo, hi


def _power2_exponent(value: float, key: str) -> int:
    e = round(math.log2(value)) if value > 0 else 0
    if value <= 0 or 2**e != value:
        raise ConfigError(f"range ends must be powers of two, got {value}", key=f"{key}.range")
    return e


def _check_keys(data: dict[str, Any], allowed: set[str], key: str) -> None:
    for name in data:
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"unknown sampler option (known: {known})", key=f"{key}.{name}")


def _parse_choice(value: dict[str, Any], key: str) -> Sampler:
    _check_keys(value, {"type", "values"}, key)
    values = value.get("values")
    if not isinstance(values, list) or not values:
        raise ConfigError("choice needs a non-empty `values` list", key=f"{key}.values")
    return Choice(tuple(values))


def _parse_power2(value: dict[str, Any], key: str) -> Sampler:
    _check_keys(value, {"type", "range"}, key)
    lo, hi = _range(value, key, positive=True)
    return Power2(_power2_exponent(lo, key), _power2_exponent(hi, key))


def _quantum(value: dict[str, Any], key: str) -> float | None:
    _check_keys(value, {"type", "range", "q"}, key)
    q = value.get("q")
    return None if q is None else yaml_number(q, f"{key}.q")


def _parse_power2_or_log_uniform(value: dict[str, Any], key: str) -> Sampler:
    q = _quantum(value, key)
    lo, hi = _range(value, key, positive=True)
    if not isinstance(q, int) or q < 1:
        raise ConfigError("power2_or_log_uniform needs an integer q >= 1", key=f"{key}.q")
    if hi < q:
        raise ConfigError(f"needs hi >= q={q}, got {hi}", key=f"{key}.range")
    if lo < q:
        _power2_exponent(lo, key)
    _grid(max(lo, q), hi, q, key)  # hi (and lo when >= q) multiples of q
    return Power2OrLogUniform(int(lo), int(hi), q)


def _ranged(cls: type, positive: bool, default_q: int | None = None) -> Callable:
    def parse(value: dict[str, Any], key: str) -> Sampler:
        q = _quantum(value, key)
        lo, hi = _range(value, key, positive=positive)
        if default_q is not None:  # int: q defaults to 1 and must be an integer
            q = default_q if q is None else q
            if not isinstance(q, int):
                raise ConfigError(f"int sampler needs an integer q, got {q}", key=f"{key}.q")
        return cls(lo, hi, None if q is None else _grid(lo, hi, q, key))

    return parse


# type -> parser of its YAML mapping: a new sampler is one entry here.
SAMPLERS: dict[str, Callable[[dict[str, Any], str], Sampler]] = {
    "uniform": _ranged(Uniform, positive=False),
    "log_uniform": _ranged(LogUniform, positive=True),
    "int": _ranged(Uniform, positive=False, default_q=1),
    "power2": _parse_power2,
    "power2_or_log_uniform": _parse_power2_or_log_uniform,
    "choice": _parse_choice,
}
SAMPLER_TYPES = tuple(SAMPLERS)


def parse_sampler(value: Any, key: str) -> Sampler:
    """A sampler from its YAML form: a mapping with `type`, or a bare value for a constant."""
    if not isinstance(value, dict):
        return Constant(tuple(value) if isinstance(value, list) else value)
    kind = value.get("type")
    if kind not in SAMPLERS:
        raise ConfigError(
            f"unknown sampler type {kind!r} (known: {', '.join(SAMPLERS)})", key=f"{key}.type"
        )
    return SAMPLERS[kind](value, key)
