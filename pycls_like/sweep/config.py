"""Sweep config: what population to sample, how to train it, and where runs execute.

Schema (native format; every key but `name`, `space` and `n` is optional)::

    name: cifar_regnetx        # sweep name; the sweep dir is OUT/NAME
    out: sweeps                # output root (relative to the working directory)
    dir: null                  # explicit sweep dir, instead of OUT/NAME
    space: regnetx             # design_spaces/ name, a YAML path, or an inline space mapping
    n: 32                      # number of models; a later setup with a larger n adds runs
    seed: 0                    # sampling seed: fixes the population and the run ids
    constraints:               # sampler constraints, merged over the space's own
      flops: [0, 6.0e+8]       # e.g. flops/params/acts bands (see design spaces)
    base:                      # base run config (engine format); sampled optim values override it
      data: {dataset: synthetic, ...}
      optim: {lr: 0.1, ...}
    launcher:                  # where runs execute; only placement differs between types
      type: local              # local | ray | slurm (`sweep/launchers.py` registry)
      workers: null            # parallel runs; default: one per GPU slot, or 1 on CPU
      threads_per_worker: null # torch threads per run; default: cores // workers
      gpus_per_run: null       # default: 1 if CUDA is visible, else 0 (CPU)
      runs_per_gpu: null       # runs sharing one GPU; default (local): measured (sweep/packing.py)
      retries: 1               # extra attempts for a run that raises, per launch
      max_concurrent: null     # cap on runs in flight (ray tasks, slurm array parallelism)
      ray:                     # read by the ray launcher only
        address: null          # cluster address (else $RAY_ADDRESS, else a local Ray)
      slurm:                   # read by the slurm launcher only
        partition: null        # slurm partition
        time: 60               # time limit per run, minutes
        mem_gb: null           # memory per run
        cluster: slurm         # submitit cluster: slurm, or local/debug to try without Slurm
        wait: true             # follow the jobs to the end (false: submit and return)
        sbatch: {}             # extra sbatch parameters passed to submitit (e.g. {qos: high})

The flat launcher keys of earlier versions (`address`, `partition`, `time`, `mem_gb`, `cluster`,
`wait`, and `slurm: {qos: high}` for sbatch extras) still load, with a note on stderr.

pycls sweep configs (upper-case keys: NAME, SETUP.SAMPLERS, ...) are converted by `pycls_sweep`.
"""

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycls_like.errors import ConfigError, warn_renamed
from pycls_like.io import apply_overrides, read_yaml
from pycls_like.limits import check_number
from pycls_like.sweep.launchers import check_available, get_launcher

# Keys that define the population: changing any of them on an existing sweep dir is refused.
POPULATION_KEYS = ("space", "seed", "constraints", "base")


@dataclass(frozen=True)
class RayConfig:
    """The ray launcher's section (see the module docstring)."""

    address: str | None = None


@dataclass(frozen=True)
class SlurmConfig:
    """The slurm launcher's section (see the module docstring)."""

    partition: str | None = None
    time: int = 60
    mem_gb: float | None = None
    cluster: str = "slurm"
    wait: bool = True
    sbatch: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LauncherConfig:
    """Placement of runs: what every launcher reads, then one section per launcher."""

    type: str = "local"
    workers: int | None = None
    threads_per_worker: int | None = None
    gpus_per_run: int | None = None
    runs_per_gpu: int | None = None  # None: the local launcher measures (sweep/packing.py)
    retries: int = 1
    max_concurrent: int | None = None
    ray: RayConfig = field(default_factory=RayConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)


# Deprecated flat launcher keys -> their section.
_FLAT_KEYS = {
    "address": "ray",
    **dict.fromkeys(("partition", "time", "mem_gb", "cluster", "wait"), "slurm"),
}


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config; `space` is a name, a path, or (once resolved) a mapping."""

    name: str
    space: str | dict[str, Any]
    n: int
    out: str = "sweeps"
    dir: str | None = None
    seed: int = 0
    constraints: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    source: str | None = None  # the file it came from, for error messages

    @property
    def sweep_dir(self) -> Path:
        return Path(self.dir) if self.dir else Path(self.out) / self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain data for sweep.yaml (no `source`: the sweep dir is its own source)."""
        out = dataclasses.asdict(self)
        out.pop("source")
        return out


def _kinds(cls: type, key: str) -> tuple[tuple[type, ...], bool]:
    """(accepted types, None allowed) from a field's annotation (a nested config is a mapping)."""
    hint = typing.get_type_hints(cls)[key]
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    kinds = tuple(dict if dataclasses.is_dataclass(a) else typing.get_origin(a) or a for a in args)
    return tuple(k for k in kinds if k is not type(None)), type(None) in kinds


def _check_fields(data: dict[str, Any], cls: type, source: str | None, prefix: str = "") -> None:
    """Unknown keys and wrong types, reported with the dotted key and the file."""
    known = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"unknown key (known: {', '.join(known)})", key=path, source=source)
        kinds, optional = _kinds(cls, key)
        if value is None and optional:
            continue
        numeric = float in kinds and isinstance(value, int)  # 16 is a fine float
        if (
            isinstance(value, bool)
            and bool not in kinds
            or not (numeric or isinstance(value, kinds))
        ):
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"must be {names}, got {value!r}", key=path, source=source)
        try:
            check_number(value, path)
        except ConfigError as err:
            raise err.located(source=source) from None


def _at_least(value: int | None, low: int, key: str, source: str | None) -> None:
    if value is not None and value < low:
        raise ConfigError(f"must be >= {low}, got {value}", key=key, source=source)


def _sections(data: dict[str, Any], source: str | None) -> dict[str, Any]:
    """Move deprecated flat keys into their launcher's section (a note on stderr)."""
    data = dict(data)
    slurm = data.get("slurm")
    known = {f.name for f in dataclasses.fields(SlurmConfig)}
    if isinstance(slurm, dict) and slurm and not set(slurm) <= known:  # old form: sbatch extras
        warn_renamed("launcher.slurm: {...}", "launcher.slurm.sbatch", source)
        data["slurm"] = {"sbatch": slurm}
    for key, section in _FLAT_KEYS.items():
        if key in data:
            warn_renamed(f"launcher.{key}", f"launcher.{section}.{key}", source)
            data[section] = {**(data.get(section) or {}), key: data.pop(key)}
    return data


def _launcher(data: dict[str, Any], source: str | None) -> LauncherConfig:
    data = _sections(data, source)
    _check_fields(data, LauncherConfig, source, "launcher.")
    sections = {}
    for name, cls in (("ray", RayConfig), ("slurm", SlurmConfig)):
        values = dict(data.get(name) or {})
        _check_fields(values, cls, source, f"launcher.{name}.")
        sections[name] = cls(**values)
    launcher = LauncherConfig(**{**data, **sections})
    get_launcher(launcher.type, source)
    for key in ("workers", "threads_per_worker", "runs_per_gpu", "max_concurrent"):
        _at_least(getattr(launcher, key), 1, f"launcher.{key}", source)
    for key in ("gpus_per_run", "retries"):
        _at_least(getattr(launcher, key), 0, f"launcher.{key}", source)
    _at_least(launcher.slurm.time, 1, "launcher.slurm.time", source)
    if launcher.slurm.cluster not in ("slurm", "local", "debug"):
        msg = f"must be slurm, local or debug, got {launcher.slurm.cluster!r}"
        raise ConfigError(msg, key="launcher.slurm.cluster", source=source)
    return launcher


def sweep_from_dict(data: dict[str, Any], source: str | None = None) -> SweepConfig:
    """Validate a native (or converted pycls) sweep mapping."""
    from pycls_like.sweep.pycls_sweep import is_pycls_sweep, sweep_from_pycls

    if is_pycls_sweep(data):
        # Lower-case keys (e.g. `--set launcher.type=ray`) are laid over the conversion.
        native = sweep_from_pycls({k: v for k, v in data.items() if k.isupper()}, source)
        for key, value in data.items():
            if not key.isupper():
                both = isinstance(value, dict) and isinstance(native.get(key), dict)
                native[key] = {**native[key], **value} if both else value
        data = native
    for key in ("name", "space", "n"):
        if key not in data:
            raise ConfigError("missing required key", key=key, source=source)
    _check_fields(data, SweepConfig, source)
    name = data["name"]
    if not name or name.startswith("/") or ".." in Path(name).parts:
        msg = f"must be a relative name like 'cifar/regnetx', got {name!r}"
        raise ConfigError(msg, key="name", source=source)
    _at_least(data["n"], 1, "n", source)
    launcher = _launcher(dict(data.get("launcher") or {}), source)
    return SweepConfig(**{**data, "launcher": launcher, "source": source})


def load_sweep_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepConfig:
    """A sweep YAML file, or a sweep dir (its sweep.yaml), with `--set KEY=VALUE` overrides."""
    path = Path(path)
    in_dir = path.is_dir()
    if in_dir:
        path = path / "sweep.yaml"
        if not path.exists():
            raise ConfigError(
                "not a sweep directory (no sweep.yaml; run `sweep setup`)", source=str(path.parent)
            )
    try:
        data = apply_overrides(read_yaml(path), overrides)
    except ConfigError as err:
        raise err.located(source=str(path)) from None
    config = sweep_from_dict(data, str(path))
    if in_dir:  # the directory is the sweep, wherever it was created
        config = dataclasses.replace(config, dir=str(path.parent))
    if isinstance(config.space, str):
        space = _space_path(config.space, path.parent)
        if space is not None:
            config = dataclasses.replace(config, space=str(space))
    return config


def _space_path(space: str, base: Path) -> Path | None:
    """A space given as a path is read relative to the sweep file, then the working directory."""
    if not space.endswith((".yaml", ".yml")) and os.sep not in space:
        return None  # a name in design_spaces/
    for candidate in (base / space, Path(space)):
        if candidate.exists():
            return candidate
    return Path(space)  # missing: the space loader reports it


def check_launcher_available(launcher: LauncherConfig) -> None:
    """Optional extras: asking for a launcher whose package is missing is a config error."""
    check_available(launcher.type)
