"""Drawing a population: chunked rejection sampling with deterministic, split-stable seeding.

Candidates are drawn in fixed-size chunks; chunk c uses its own generator
`SeedSequence(seed, spawn_key=(c,))` and is scanned in order. So a population is one fixed
sequence of accepted samples per seed: `sample(n, seed)` is a prefix of `sample(m, seed)` for
m > n, and workers can take disjoint slices with `start` (without stratification, whose bin
quotas depend on the total). CHUNK is part of that contract: changing it changes populations.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pycls_like.complexity import Complexity, complexity
from pycls_like.design.constraints import Stratifier
from pycls_like.design.families import STAGE_VARS
from pycls_like.errors import ConfigError
from pycls_like.specs import ModelSpec, spec_to_dict

SETTING = "setting"  # flat column numbering the draws of a crossed space (space.py `cross`)

if TYPE_CHECKING:  # space.py imports this module
    from pycls_like.design.space import DesignSpace

CHUNK = 16384
# Without a budget a (nearly) empty space would loop for ever. 10,000 candidates per requested
# sample tolerates acceptance rates down to 0.01%; the floor keeps small requests patient too.
# Families scored one candidate at a time (ViT, ~20k candidates/s) get a tenth of that.
MIN_BUDGET = 200_000
BUDGET_PER_SAMPLE = 10_000


@dataclass(frozen=True)
class Sample:
    """One sampled model: its spec, flat sampled parameters, exact complexity, optimizer settings."""

    index: int
    spec: ModelSpec
    params: dict[str, Any]
    complexity: Complexity
    optim: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """One JSONL line: spec dict, flat parameters, flops/params/acts, optim dict (if any)."""
        out = {"index": self.index, "spec": spec_to_dict(self.spec), **self.params}
        out.update(self.complexity.as_dict())
        if self.optim:
            out["optim"] = dict(self.optim)
        return out


@dataclass(frozen=True)
class Draw:
    """What one draw from a space gave (named apart from `analysis.table.Population`, a table)."""

    samples: list[Sample]  # the requested slice [start, start + n)
    candidates: int  # candidates examined up to the last accepted one
    accepted: int  # start + n

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.candidates if self.candidates else 0.0


def _flat_plan(space: "DesignSpace") -> list[tuple[str, str, int | None]]:
    """(flat name, column, stage index or None) for every sampled value."""
    plan = []
    for p in space.params:
        for i, flat in enumerate(p.flat_names()):
            # per-stage: its own entry; shared per-stage: every entry is the same draw
            plan.append((flat, p.name, i if p.per_stage else 0 if p.stages else None))
    return plan


def _build(space: "DesignSpace", values: dict[str, Any]) -> ModelSpec:
    try:
        return space.family.build(values)
    except ConfigError as err:
        msg = f"sampled values {values} give an invalid spec: {err.message}"
        raise ConfigError(msg, key=f"params.{err.key}" if err.key else "params") from None


def _survivors(space: "DesignSpace", cols: dict[str, np.ndarray], n: int):
    """Yield (offset, spec, (flops, params, acts), values) of candidates inside the bands, in order."""
    family, cons = space.family, space.constraints
    names = list(cols)
    if family.vectorized:
        idx, *metrics = family.accept(cols, n, cons)
        sub = {k: cols[k][idx].tolist() for k in names}
        cx = [m.tolist() for m in metrics]
        for r, i in enumerate(idx.tolist()):
            values = {k: sub[k][r] for k in names}
            yield i, _build(space, values), (cx[0][r], cx[1][r], cx[2][r]), values
        return
    bands = [(name, band.lo, band.hi) for name, band in cons.bands]
    rows = {k: cols[k].tolist() for k in names}
    for i in range(n):
        values = {k: rows[k][i] for k in names}
        spec = _build(space, values)
        c = complexity(spec).as_dict()
        if all((lo is None or c[k] >= lo) and (hi is None or c[k] <= hi) for k, lo, hi in bands):
            yield i, spec, (c["flops"], c["params"], c["acts"]), values


def _namespace(
    space: "DesignSpace", wanted: set[str], spec: ModelSpec, cx: dict, values: dict, flat: dict
) -> dict:
    ns: dict[str, Any] = {}
    if wanted & set(STAGE_VARS):
        ns.update(space.family.stage_vars(spec))
    for name in wanted - ns.keys():
        if name in cx:
            ns[name] = cx[name]
        elif name in flat:
            ns[name] = flat[name]
        elif name in values:
            ns[name] = values[name]
        else:
            v = getattr(spec, name)
            ns[name] = list(v) if isinstance(v, tuple) else v
    return ns


def _empty_error(space: "DesignSpace", accepted: int, examined: int, need: int) -> ConfigError:
    rate = accepted / examined if examined else 0.0
    msg = (
        f"accepted {accepted} of {examined} candidates (acceptance rate {rate:.4%}) but {need} were "
        "requested: the space and its constraints are (nearly) empty; widen the bands or ranges, "
        "or raise max_candidates"
    )
    return ConfigError(msg, key="constraints", source=space.source)


def draw(
    space: "DesignSpace",
    n: int,
    seed: int,
    *,
    start: int = 0,
    dedupe: bool = False,
    stratify: int | None = None,
    stratify_by: str = "flops",
    max_candidates: int | None = None,
) -> Draw:
    """Accepted samples [start, start + n) of the population of `seed` (see module docstring)."""
    for name, value, low in (("n", n, 0), ("seed", seed, 0), ("start", start, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ConfigError(f"must be an integer >= {low}, got {value!r}", key=name)
    need = start + n
    k = space.cross_size  # rows per draw; a crossed draw is accepted whole or not at all
    if k > 1 and stratify is not None:
        msg = "stratified sampling cannot be combined with crossed parameters"
        raise ConfigError(msg, key="cross", source=space.source)
    strat = None
    if stratify is not None:
        strat = Stratifier.make(stratify_by, stratify, space.constraints.band(stratify_by), need)
    filled = [0] * len(strat.quotas) if strat else []
    scale = 1 if space.family.vectorized else 10
    default = max(MIN_BUDGET, BUDGET_PER_SAMPLE * need) // scale
    budget = max_candidates or space.max_candidates or default
    predicates = space.constraints.where
    wanted = set().union(*(p.names for p in predicates)) if predicates else set()
    plan = _flat_plan(space)
    seen: set = set()
    accepted: list[Sample] = []
    last, chunk = 0, 0
    try:
        while len(accepted) < need:
            if chunk * CHUNK >= budget:
                raise _empty_error(space, len(accepted), chunk * CHUNK, need)
            rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(chunk,)))
            cols, ocols = space.columns(rng, CHUNK)
            orows = {name: v.tolist() for name, v in ocols.items()}
            members: list[tuple[int, ModelSpec, dict, dict, Complexity]] | None = []
            current = -1  # the draw whose rows `members` holds (None: a row failed a predicate)
            # inside every band (vectorized, or one by one), then predicates, dedupe, bin quotas
            for i, spec, (f, p, a), values in _survivors(space, cols, CHUNK * k):
                if i // k != current:
                    members, current = [], i // k
                if members is None:
                    continue
                flat = {name: values[col] if s is None else values[col][s] for name, col, s in plan}
                optim = {name: v[i] for name, v in orows.items()}
                flat.update({f"optim.{o.name}": optim[o.name] for o in space.optim if o.sampled})
                cx = {"flops": f, "params": p, "acts": a}
                if predicates:
                    ns = _namespace(space, wanted, spec, cx, values, flat)
                    if not all(pred(ns) for pred in predicates):
                        members = None
                        continue
                members.append((i, spec, flat, optim, Complexity(f, p, a)))
                if len(members) < k:  # rows of a draw missing from the bands never arrive
                    continue
                if dedupe:
                    key = tuple((m[1], tuple(m[3].items())) for m in members)
                    if key in seen:
                        continue
                    seen.add(key)
                if strat:
                    b = strat.bin_of(cx[strat.metric])
                    if filled[b] >= strat.quotas[b]:
                        continue
                    filled[b] += 1
                setting = len(accepted) // k
                for _, m_spec, m_flat, m_optim, m_cx in members:
                    if k > 1:
                        m_flat = {**m_flat, SETTING: setting}
                    accepted.append(Sample(len(accepted), m_spec, m_flat, m_cx, m_optim))
                    if len(accepted) == need:
                        break
                last = chunk * CHUNK + current + 1
                if len(accepted) == need:
                    break
            chunk += 1
    except ConfigError as err:
        raise err.located(source=err.source or space.source) from None
    return Draw(accepted[start:], last, len(accepted))
