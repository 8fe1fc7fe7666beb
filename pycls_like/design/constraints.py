"""Constraints on sampled models: complexity bands, stage counts, predicates, stratified bins.

Bands are inclusive `[lo, hi]` (pycls sweep `CONSTRAINTS`), either end may be open. They are
written as a list `[360e6, 400e6]` or as text `"360M:400M"`, `"0.36G:0.4G"`, `":400M"`; YAML reads
`360e6` as a string (YAML 1.1 wants a dot in floats), so every end goes through `parse_quantity`.
"""

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from pycls_like.design.expr import Predicate, compile_predicate
from pycls_like.errors import ConfigError
from pycls_like.results import COMPLEXITY_COLUMNS

METRICS = COMPLEXITY_COLUMNS  # the figures a band can constrain
_SUFFIX = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKMGBT]?)\s*$")


def parse_quantity(value: Any, key: str) -> float | None:
    """`400e6`, `"400M"`, `"0.4G"`, `4e8` -> 4e8; None or "" -> None (open end)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match:
        raise ConfigError(f"not a number: {value!r} (use e.g. 400e6, 400M, 0.4G)", key=key)
    return float(match.group(1)) * _SUFFIX[match.group(2)]


@dataclass(frozen=True)
class Band:
    """Inclusive [lo, hi]; None is an open end."""

    lo: float | None = None
    hi: float | None = None

    def mask(self, x: np.ndarray) -> np.ndarray:
        ok = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            ok &= x >= self.lo
        if self.hi is not None:
            ok &= x <= self.hi
        return ok


def parse_band(value: Any, key: str) -> Band | None:
    """A band from `[lo, hi]`, `"lo:hi"`, or None (no constraint)."""
    if value is None:
        return None
    if isinstance(value, str):
        lo_text, sep, hi_text = value.partition(":")
        if not sep:
            raise ConfigError(f"a band is LO:HI (either may be empty), got {value!r}", key=key)
        parts: list[Any] = [lo_text.strip(), hi_text.strip()]
    elif isinstance(value, list | tuple) and len(value) == 2:
        parts = list(value)
    else:
        hint = (
            " (quote it: YAML reads 1:30 as the base-60 number 90)"
            if isinstance(value, int)
            else ""
        )
        raise ConfigError(f"a band is [lo, hi] or 'LO:HI', got {value!r}{hint}", key=key)
    lo, hi = (parse_quantity(p, key) for p in parts)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"inverted band [{lo:g}, {hi:g}]: lo must be <= hi", key=key)
    return Band(lo, hi)


@dataclass(frozen=True)
class Constraints:
    """What an accepted sample must satisfy; `full_stages` is pycls `check_regnet_constraints`."""

    bands: tuple[tuple[str, Band], ...] = ()  # (metric, band) for flops/params/acts
    stages: Band | None = None  # number of stages (CNN families)
    full_stages: bool = False  # RegNet: distinct widths == max(s_j) + 1
    where: tuple[Predicate, ...] = ()

    def band(self, metric: str) -> Band | None:
        return dict(self.bands).get(metric)


CONSTRAINT_KEYS = (*METRICS, "stages", "full_stages", "where")


def parse_constraints(
    data: Any, *, cnn: bool, regnet: bool, names: set[str], key: str = "constraints"
) -> Constraints:
    """Validate a `constraints:` mapping; `names` are what `where` predicates may read."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping", key=key)
    for name in data:
        if name not in CONSTRAINT_KEYS:
            msg = f"unknown constraint {name!r} (metrics: {', '.join(METRICS)}; also stages, full_stages, where)"
            raise ConfigError(msg, key=f"{key}.{name}")
    bands = []
    for metric in METRICS:
        band = parse_band(data.get(metric), f"{key}.{metric}")
        if band is not None:
            bands.append((metric, band))
    stages = parse_band(data.get("stages"), f"{key}.stages")
    if stages is not None and not cnn:
        raise ConfigError("stage counts apply to CNN families only", key=f"{key}.stages")
    full = data.get("full_stages", regnet)
    if not isinstance(full, bool) or (full and not regnet):
        raise ConfigError(
            "must be true or false, and applies to regnet only", key=f"{key}.full_stages"
        )
    where = data.get("where") or []
    if isinstance(where, str):
        where = [where]
    if not isinstance(where, list):
        raise ConfigError("must be a list of predicate strings", key=f"{key}.where")
    predicates = tuple(
        compile_predicate(text, names, f"{key}.where[{i}]") for i, text in enumerate(where)
    )
    return Constraints(tuple(bands), stages, full, predicates)


@dataclass(frozen=True)
class Stratifier:
    """Equal-count bins over log(metric) in the metric's band: bin quotas sum to the population."""

    metric: str
    lo: float
    hi: float
    quotas: tuple[int, ...]

    @classmethod
    def make(cls, metric: str, bins: int, band: Band | None, total: int) -> "Stratifier":
        if metric not in METRICS:
            raise ConfigError(
                f"can stratify over {', '.join(METRICS)}, not {metric!r}", key="stratify"
            )
        if not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"bins must be an integer >= 1, got {bins!r}", key="stratify")
        if band is None or band.lo is None or band.hi is None or band.lo <= 0:
            raise ConfigError(
                f"stratifying over {metric} needs a closed {metric} band with lo > 0",
                key=f"constraints.{metric}",
            )
        base, extra = divmod(total, bins)
        return cls(metric, band.lo, band.hi, tuple(base + (i < extra) for i in range(bins)))

    def bin_of(self, x: float) -> int:
        """Bin of a value inside the band: equal widths in log(metric), hi in the last bin."""
        span = math.log(self.hi) - math.log(self.lo)
        pos = (math.log(x) - math.log(self.lo)) / span if span > 0 else 0.0
        return min(max(int(pos * len(self.quotas)), 0), len(self.quotas) - 1)
