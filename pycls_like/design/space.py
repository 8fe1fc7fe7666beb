"""Design spaces: YAML files declaring a distribution over model specs, plus constraints.

Schema (validated on load; every error names the file and the key):

    description: one line for `pycls-like spaces` (more lines allowed)
    family: anynet | regnet | vit        # the spec class sampled (families.py)
    stages: 4                            # anynet only: the number of stages
    params:                              # spec fields (or vit pseudo-parameters), in draw order
      NAME: VALUE                        # a constant; a list for a per-stage field
      NAME: {type: TYPE, ...}            # a sampler (samplers.py):
        uniform      range: [lo, hi], q (optional)
        log_uniform  range: [lo, hi], q (optional); lo > 0
        int          range: [lo, hi], q (default 1)
        power2       range: [lo, hi], powers of two
        power2_or_log_uniform  range: [lo, hi], q
        choice       values: [...]
      # anynet per-stage fields (ds ws ss bs gs) draw once per stage, or once when `shared: true`;
      # `order: non_decreasing` sorts the per-stage draws (see Param)
    optim: MAPPING | NAME                # optional optimizer settings (optim.py)
    cross: [NAME, ...]                   # choice parameters crossed with every draw (see below)
    constraints:                         # constraints.py
      flops: [lo, hi] | "LO:HI"          # also params, acts; inclusive, open ends allowed
      stages: [lo, hi]                   # number of stages as built (CNN families)
      full_stages: true                  # regnet (default true): pycls check_regnet_constraints
      where: [PREDICATE, ...]            # expr.py, e.g. "w0 <= wa"
    max_candidates: 1000000              # rejection budget before the "(nearly) empty" error

Every sampled model is one spec; sampled values appear flat as `d`, `w0`, `ds_0..ds_3`, `bs`
(shared), `resolution`, `optim.lr`, ... (constants only in the spec).

`cross` makes paired populations: each draw of the other parameters (a *setting*, e.g. one
optimizer, lr, wd and schedule) is taken at every combination of the crossed choices' values,
as consecutive samples that share a flat `setting` column (the setting's number). A setting is
accepted only when all its combinations satisfy the constraints, so pairs are never broken. This is
how a study compares architectures on the *same* training settings (a paired test, far stronger
than independent draws: examples/studies/vit_stem_stability.yaml).
"""

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycls_like.design.constraints import METRICS, Constraints, parse_constraints
from pycls_like.design.families import STAGE_VARS, Family, get_family
from pycls_like.design.optim import OptimParam, parse_optim
from pycls_like.design.population import SETTING, Draw, Sample, draw
from pycls_like.design.registry import find_space
from pycls_like.design.samplers import Choice, Constant, Sampler, finite_values, parse_sampler
from pycls_like.errors import ConfigError
from pycls_like.io import apply_overrides, read_yaml

SPACE_KEYS = (
    "description", "family", "stages", "params", "optim", "cross", "constraints", "max_candidates",
)  # fmt: skip
ORDERS = ("non_decreasing",)
PROBE = 64  # candidates built on load, so a bad field value fails there and not mid-sweep


@dataclass(frozen=True)
class Param:
    """One sampled (or constant) parameter; a per-stage field draws arrays of shape (n, stages).

    `order: non_decreasing` sorts a draw's per-stage values. For continuous samplers that is
    exactly the law of i.i.d. draws conditioned on being ordered (the paper's AnyNetX_D/E
    constraint) at no rejection cost; for discrete ones it differs only in how often ties occur.
    The pooled per-stage values keep the declared marginal law either way.
    """

    name: str
    sampler: Sampler
    stages: int = 0  # > 0 for a per-stage list field (anynet ds ws ss bs gs)
    shared: bool = False  # per-stage field drawn once for all stages
    order: str | None = None

    @property
    def sampled(self) -> bool:
        return not isinstance(self.sampler, Constant)

    @property
    def per_stage(self) -> bool:
        """One independent draw per stage (flat names ws_0, ws_1, ...)."""
        return self.stages > 0 and self.sampled and not self.shared

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.per_stage:
            values = self.sampler.draw(rng, (n, self.stages))
            return np.sort(values, axis=1) if self.order else values
        if isinstance(self.sampler, Constant) and isinstance(self.sampler.value, tuple):
            return self.sampler.draw(rng, (n, self.stages))
        values = self.sampler.draw(rng, n)
        return np.repeat(values[:, None], self.stages, axis=1) if self.stages else values

    def flat_names(self) -> list[str]:
        if not self.sampled:
            return []
        return [f"{self.name}_{i}" for i in range(self.stages)] if self.per_stage else [self.name]


def _check_kind(kind: str, sampler: Sampler, key: str) -> None:
    """The sampler's values must fit the spec field's type (int fields need integral samplers)."""
    values = finite_values(sampler)
    if kind == "str":
        if not values or not all(isinstance(v, str) for v in values):
            raise ConfigError("a text field takes a constant or a choice of strings", key=key)
    elif kind == "bool":
        if not values or not all(isinstance(v, bool) for v in values):
            raise ConfigError(
                "a true/false field takes a constant or a choice of booleans", key=key
            )
    elif any(isinstance(v, str | bool) for v in values):
        raise ConfigError(f"must be numeric, got {list(values)}", key=key)
    elif kind.endswith("int]") or kind == "int":
        integral = all(isinstance(v, int) for v in values) if values else sampler.integral
        if not integral:
            raise ConfigError(
                "an integer field needs integer values (int type, or integer q and range)", key=key
            )


def _parse_param(name: str, value: Any, family: Family, stages: int | None, key: str) -> Param:
    kind = family.kind(name)
    if kind is None:
        known = ", ".join(family.kinds)
        raise ConfigError(f"not a parameter of family {family.name} (known: {known})", key=key)
    options = dict(value) if isinstance(value, dict) else {}
    shared, order = options.pop("shared", None), options.pop("order", None)
    stage_field = name in family.stage_fields
    if (shared is not None or order is not None) and not stage_field:
        raise ConfigError("`shared` and `order` apply to per-stage fields only", key=key)
    if shared is not None and not isinstance(shared, bool):
        raise ConfigError("`shared` must be true or false", key=f"{key}.shared")
    if order is not None and (order not in ORDERS or shared):
        raise ConfigError(
            f"`order` must be one of {ORDERS}, on a per-stage (not shared) field",
            key=f"{key}.order",
        )
    sampler = parse_sampler(options if isinstance(value, dict) else value, key)
    _check_kind(kind, sampler, key)
    const_list = isinstance(sampler, Constant) and isinstance(sampler.value, tuple)
    if const_list and (not stage_field or len(sampler.value) != stages):
        raise ConfigError(f"a list needs one value per stage ({stages})", key=key)
    return Param(name, sampler, stages if stage_field else 0, bool(shared), order)


def _parse_cross(data: Any, params: tuple[Param, ...]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """`cross: [NAME, ...]`: each a (non per-stage) `choice` parameter; (name, its values) each."""
    if data is None:
        return ()
    names = [data] if isinstance(data, str) else data
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError("must be a list of parameter names, e.g. [stem_type]", key="cross")
    by_name = {p.name: p for p in params}
    out = []
    for name in names:
        p = by_name.get(name)
        if p is None or not isinstance(p.sampler, Choice) or p.per_stage:
            choices = [q.name for q in params if isinstance(q.sampler, Choice) and not q.per_stage]
            raise ConfigError(
                f"{name!r} is not a choice parameter of this space (choices: "
                f"{', '.join(choices) or 'none'})",
                key="cross",
            )
        out.append((name, p.sampler.values))
    if len({n for n, _ in out}) < len(out):
        raise ConfigError(f"a parameter appears twice in {names}", key="cross")
    return tuple(out)


def _as_int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"must be an integer >= {minimum}, got {value!r}", key=key)
    return value


@dataclass(frozen=True)
class DesignSpace:
    """A validated design space; `sample(n, seed)` draws a population (population.py)."""

    name: str
    source: str
    description: str
    family: Family
    stages: int  # anynet stage count; 0 for other families
    params: tuple[Param, ...]
    optim: tuple[OptimParam, ...]
    constraints: Constraints
    max_candidates: int | None = None
    cross: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # crossed choices and their values

    @property
    def cross_size(self) -> int:
        """Samples per draw: the number of combinations of the crossed values (1: no `cross`)."""
        return math.prod(len(values) for _, values in self.cross)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str, base_dir: Path) -> "DesignSpace":
        try:
            return cls._parse(data, source, base_dir)
        except ConfigError as err:
            raise err.located(source=err.source or source) from None

    @classmethod
    def _parse(cls, data: dict[str, Any], source: str, base_dir: Path) -> "DesignSpace":
        for key in data:
            if key not in SPACE_KEYS:
                raise ConfigError(f"unknown key (known: {', '.join(SPACE_KEYS)})", key=key)
        family = get_family(data.get("family"))
        stages = 0
        if family.stage_fields:
            stages = _as_int(data.get("stages"), "stages", 1)
        elif "stages" in data:
            raise ConfigError(
                f"only anynet spaces take `stages` (family {family.name})", key="stages"
            )
        raw = data.get("params")
        if not isinstance(raw, dict) or not raw:
            raise ConfigError("needs a mapping of parameters", key="params")
        raw = family.canonical_params(raw, source)
        params = tuple(_parse_param(k, v, family, stages, f"params.{k}") for k, v in raw.items())
        optim = parse_optim(data["optim"], base_dir) if data.get("optim") is not None else ()
        names_given = {p.name for p in params}
        for field, pseudo in family.exclusive:
            if field in names_given and pseudo in names_given:
                raise ConfigError(
                    f"give {field} or {pseudo} (which sets {field}), not both",
                    key=f"params.{pseudo}",
                )
        flat = [f for p in params for f in p.flat_names()]
        names = {*family.defaults, *family.kinds, *flat, *METRICS}
        names |= set(STAGE_VARS) if family.cnn else set()
        constraints = parse_constraints(
            data.get("constraints"), cnn=family.cnn, regnet=family.name == "regnet", names=names
        )
        budget = data.get("max_candidates")
        budget = None if budget is None else _as_int(budget, "max_candidates", 1)
        description = str(data.get("description", "")).strip()
        cross = _parse_cross(data.get("cross"), params)
        space = cls(
            Path(source).stem,
            source,
            description,
            family,
            stages,
            params,
            optim,
            constraints,
            budget,
            cross,
        )
        space._probe()
        return space

    def _probe(self) -> None:
        """Required parameters present, and a few candidates build into valid specs."""
        given = {p.name for p in self.params}
        given |= {field for field, pseudo in self.family.exclusive if pseudo in given}
        required = [f for f in self.family.kinds if f not in self.family.pseudo]
        missing = [f for f in required if f not in given and f not in self.family.defaults]
        if missing:
            raise ConfigError(
                f"family {self.family.name} needs this parameter", key=f"params.{missing[0]}"
            )
        cols, _ = self.columns(np.random.default_rng(0), PROBE)
        for i in range(PROBE * self.cross_size):
            values = {k: v[i : i + 1].tolist()[0] for k, v in cols.items()}
            try:
                self.family.build(values)
            except ConfigError as err:
                key = f"params.{err.key}" if err.key else "params"
                raise ConfigError(f"gives an invalid spec ({err.message})", key=key) from None

    @property
    def flat_names(self) -> list[str]:
        """Names of the flat sampled-parameter columns, in draw order."""
        names = [f for p in self.params for f in p.flat_names()]
        names += [SETTING] if self.cross else []
        return names + [f"optim.{o.name}" for o in self.optim if o.sampled]

    def columns(
        self, rng: np.random.Generator, n: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Draw n candidates: model parameter arrays, then optimizer arrays (fixed order). A
        crossed space gives n * cross_size rows: each draw repeated at every combination of the
        crossed values (rows k*j .. k*j + k-1 are draw j)."""
        cols = {p.name: p.draw(rng, n) for p in self.params}
        optim: dict[str, np.ndarray] = {}
        for o in self.optim:
            optim[o.name] = o.draw(rng, n, optim.get("optimizer"))
        if not self.cross:
            return cols, optim
        k = self.cross_size
        cols = {name: np.repeat(v, k, axis=0) for name, v in cols.items()}
        optim = {name: np.repeat(v, k, axis=0) for name, v in optim.items()}
        combos = list(itertools.product(*(values for _, values in self.cross)))
        for i, (name, _) in enumerate(self.cross):
            levels = np.array([c[i] for c in combos], dtype=cols[name].dtype)
            cols[name] = np.tile(levels, n)
        return cols, optim

    def draw(self, n: int, seed: int, **options: Any) -> Draw:
        """Population plus how many candidates it took; options as `sample`."""
        return draw(self, n, seed, **options)

    def sample(
        self,
        n: int,
        seed: int,
        *,
        start: int = 0,
        dedupe: bool = False,
        stratify: int | None = None,
        stratify_by: str = "flops",
        max_candidates: int | None = None,
    ) -> list[Sample]:
        """Samples [start, start + n) of the population of `seed` (prefix-stable, split-stable)."""
        return self.draw(
            n,
            seed,
            start=start,
            dedupe=dedupe,
            stratify=stratify,
            stratify_by=stratify_by,
            max_candidates=max_candidates,
        ).samples

    def sample_table(self, n: int, seed: int, **options: Any) -> list[dict[str, Any]]:
        """The population as plain dicts (one JSONL line each; pandas-free)."""
        return [s.record() for s in self.sample(n, seed, **options)]


def load_space(
    arg: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    optim: str | dict[str, Any] | None = None,
    bands: dict[str, str] | None = None,
) -> DesignSpace:
    """A space from a YAML path or a shipped name (`regnetx`), with `--set KEY=VALUE` overrides.

    `optim` replaces the space's `optim:` section (a shipped name, a path or a mapping); `bands`
    replaces constraint bands, e.g. {"flops": "360M:400M"} (the CLI's --flops/--params/--acts).
    """
    path = find_space(str(arg))
    try:
        data = apply_overrides(read_yaml(path), list(overrides))
    except ConfigError as err:
        raise err.located(source=err.source or str(path)) from None
    if optim is not None:
        data["optim"] = optim
    if bands:
        constraints = data.get("constraints")
        data["constraints"] = {**(constraints if isinstance(constraints, dict) else {}), **bands}
    return DesignSpace.from_dict(data, str(path), path.parent)
