"""Optimizer hyperparameters as sampled parameters that combine with any model space.

An `optim:` section (inline mapping, or the name/path of a small YAML such as
`pycls_like/design_spaces/optim/sgd_adamw.yaml`) declares any of `lr, wd, optimizer, epochs, warmup_epochs`,
each a sampler or a constant. `lr` and `wd` may also be a mapping from optimizer name to a sampler,
because good ranges differ by optimizer (SGD lr ~0.1-1, AdamW ~1e-4-1e-2):
    lr: {sgd: {type: log_uniform, range: [0.05, 1.0]}, adamw: {type: log_uniform, range: [1e-4, 3e-3]}}
Every sample gets an `optim` dict with the declared keys; sampled ones also appear flat as
`optim.lr`, ... Draws come after the model's, from the same per-chunk generator.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycls_like.design.registry import find_optim_file
from pycls_like.design.samplers import Constant, Sampler, finite_values, parse_sampler
from pycls_like.engine.config import OPTIMIZERS  # torch-free; the engine owns the list
from pycls_like.errors import ConfigError
from pycls_like.io import read_yaml

OPTIM_KEYS = ("optimizer", "lr", "wd", "epochs", "warmup_epochs")  # parse and draw order
_KINDS = {"lr": "float", "wd": "float", "optimizer": "str", "epochs": "int", "warmup_epochs": "int"}


@dataclass(frozen=True)
class OptimParam:
    """One optimizer setting; `by_optimizer` picks the branch matching the sampled optimizer."""

    name: str
    sampler: Sampler | None
    by_optimizer: tuple[tuple[str, Sampler], ...] = ()

    @property
    def sampled(self) -> bool:
        return bool(self.by_optimizer) or not isinstance(self.sampler, Constant)

    def draw(self, rng: np.random.Generator, n: int, optimizer: np.ndarray | None) -> np.ndarray:
        if not self.by_optimizer:
            return self.sampler.draw(rng, n)
        out = np.zeros(n)
        for name, sampler in self.by_optimizer:  # every branch draws n values: fixed rng use
            values = sampler.draw(rng, n)
            out = np.where(optimizer == name, values, out)
        return out


def _check(name: str, sampler: Sampler, key: str) -> None:
    kind = _KINDS[name]
    values = finite_values(sampler)
    if kind == "str":
        bad = [v for v in values if v not in OPTIMIZERS]
        if not values or bad:
            raise ConfigError(f"must be a constant or choice of {', '.join(OPTIMIZERS)}", key=key)
        return
    if any(isinstance(v, str | bool) for v in values):
        raise ConfigError(f"must be a number, got {values}", key=key)
    if kind == "int" and not sampler.integral:
        raise ConfigError("must be an integer (int, choice of integers, or q: 1)", key=key)
    low = sampler.low
    ok = {"warmup_epochs": low >= 0, "epochs": low >= 1}.get(name, low > 0)
    if not ok:
        raise ConfigError(f"must be > 0 (epochs >= 1, warmup_epochs >= 0), got {low}", key=key)


def parse_optim(data: Any, base_dir: Path, key: str = "optim") -> tuple[OptimParam, ...]:
    """Validate an `optim:` section; a string names a YAML file (path, or shipped optim name)."""
    source = None
    if isinstance(data, str):
        path = find_optim_file(data, base_dir)
        source = str(path)
        data = {k: v for k, v in read_yaml(path).items() if k != "description"}
    try:
        return _parse(data, key if source is None else None)
    except ConfigError as err:
        raise err.located(source=source) from None


def _parse(data: Any, key: str | None) -> tuple[OptimParam, ...]:
    def at(name: str) -> str:
        return f"{key}.{name}" if key else name

    if not isinstance(data, dict) or not data:
        raise ConfigError("must be a mapping of optimizer settings or a file name", key=key)
    out: list[OptimParam] = []
    optimizer: Sampler | None = None
    for name in sorted(data, key=lambda k: OPTIM_KEYS.index(k) if k in OPTIM_KEYS else -1):
        # the optimizer is parsed (and drawn) first: lr/wd branches refer to its values
        if name not in OPTIM_KEYS:
            raise ConfigError(
                f"unknown optimizer setting (known: {', '.join(OPTIM_KEYS)})", key=at(name)
            )
        value = data[name]
        if isinstance(value, dict) and "type" not in value and name in ("lr", "wd"):
            if optimizer is None:
                raise ConfigError("ranges per optimizer need an `optimizer` setting", key=at(name))
            names = finite_values(optimizer)
            branches = []
            for opt, sub in value.items():
                if opt not in names:
                    raise ConfigError(
                        f"optimizer {opt!r} is not among {list(names)}", key=at(f"{name}.{opt}")
                    )
                sampler = parse_sampler(sub, at(f"{name}.{opt}"))
                _check(name, sampler, at(f"{name}.{opt}"))
                branches.append((opt, sampler))
            missing = [o for o in names if o not in value]
            if missing:
                raise ConfigError(f"no range for optimizer {missing[0]!r}", key=at(name))
            out.append(OptimParam(name, None, tuple(branches)))
            continue
        sampler = parse_sampler(value, at(name))
        _check(name, sampler, at(name))
        if name == "optimizer":
            optimizer = sampler
        out.append(OptimParam(name, sampler))
    return tuple(out)
