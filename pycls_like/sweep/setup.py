"""Setup: sample the population into run directories, once and for all.

`SWEEP_DIR/sweep.yaml` records the resolved config (the space inlined, so later edits of a shipped
space file cannot silently change a sweep). Each sample i becomes `runs/<id>/` with the run config
the engine reads and `sample.json` (sampled parameters, the model, its complexity, block widths)
that collect and the engine read. Setup is idempotent: existing runs are never rewritten, a
larger `n` appends runs (samples of a seed are prefix-stable), and a different space / seed /
constraints / base is refused.
"""

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.fileio import move_aside, write_atomic
from pycls_like.io import read_yaml
from pycls_like.plan import block_widths
from pycls_like.specs import ModelSpec, spec_to_dict
from pycls_like.sweep.config import POPULATION_KEYS, SweepConfig, sweep_from_dict
from pycls_like.sweep.rundir import (
    CONFIG_FILE,
    SAMPLE_FILE,
    config_damage,
    read_json,
    run_dirs,
    run_id,
)

if TYPE_CHECKING:  # imported lazily at run time (torch, numpy)
    from pycls_like.design.population import Sample
    from pycls_like.design.space import DesignSpace
    from pycls_like.engine.config import RunConfig

SWEEP_FILE = "sweep.yaml"


@dataclass(frozen=True)
class SetupReport:
    """What setup found and added."""

    sweep_dir: Path
    existing: int
    added: int
    rebuilt: tuple[str, ...] = ()  # ids of runs whose damaged or missing files were rewritten

    def describe(self) -> str:
        total = self.existing + self.added
        line = (
            f"{self.sweep_dir}: set up {self.added} new runs ({total} in all)"
            if self.added
            else f"{self.sweep_dir}: {total} runs already set up"
        )
        if self.rebuilt:
            shown = ", ".join(self.rebuilt[:10]) + (", ..." if len(self.rebuilt) > 10 else "")
            line += f"; rebuilt the files of {len(self.rebuilt)} damaged run(s): {shown}"
        return line


def resolve_space(config: SweepConfig) -> tuple[dict[str, Any], str, Path]:
    """(space mapping with its optim file inlined, source for errors, folder for relative paths)."""
    from pycls_like.design.registry import find_optim_file, find_space

    if isinstance(config.space, dict):
        source = f"{config.source or 'sweep'}: space"
        data, base_dir = dict(config.space), Path(config.source or ".").parent
    else:
        path = find_space(config.space)
        try:
            data = read_yaml(path)
        except ConfigError as err:
            raise err.located(source=f"{config.source}: space {config.space!r}") from None
        source, base_dir = str(path), path.parent
    if isinstance(data.get("optim"), str):
        optim = read_yaml(find_optim_file(data["optim"], base_dir))
        data["optim"] = {k: v for k, v in optim.items() if k != "description"}
    return data, source, base_dir


def data_num_classes(base: dict[str, Any], source: str | None = None) -> int | None:
    """The class count of the dataset the base trains on (None: an image folder not there yet)."""
    from pycls_like.engine.config import data_config

    if "model" in base:  # run_config names this error with its key
        return None
    try:
        return data_config(base).num_classes
    except ConfigError as err:
        raise err.located(source=source, prefix="base") from None


def build_space(config: SweepConfig, resolved: tuple[dict[str, Any], str, Path]) -> "DesignSpace":
    """The design space with the sweep's constraints merged over the space's own, and the
    dataset's class count fixed before any constraint is checked (the model that trains is the
    model that was checked and is recorded)."""
    from pycls_like.design.space import DesignSpace

    data, source, base_dir = resolved
    data = copy.deepcopy(data)
    if config.constraints:
        data["constraints"] = {**(data.get("constraints") or {}), **config.constraints}
    classes = data_num_classes(config.base, config.source)
    if classes is not None and isinstance(data.get("params"), dict):
        data["params"]["num_classes"] = classes
    return DesignSpace.from_dict(data, source, base_dir)


def run_config(base: dict[str, Any], sample: "Sample", source: str | None = None) -> "RunConfig":
    """Engine RunConfig: base + sampled model + sampled optimizer settings (sampled values win).
    The sampled spec goes in as it is (no trip through a mapping)."""
    from pycls_like.engine.config import run_config_for

    if "model" in base:
        raise ConfigError(
            "the model comes from the space; remove it from base", key="base.model", source=source
        )
    optim = {**(base.get("optim") or {}), **{k: _plain(v) for k, v in sample.optim.items()}}
    try:
        return run_config_for(sample.spec, {**base, "optim": optim})
    except ConfigError as err:
        raise err.located(source=source, prefix="base") from None


def _sample_record(rid: str, sample: "Sample", model: ModelSpec) -> dict[str, Any]:
    """What collect needs without the engine, and the complexity the sampler computed and checked,
    which is that of the model as trained (`build_space` fixed the dataset's class count): the
    trainer reads it for this `model` (`rundir.recorded_complexity`) instead of recomputing it."""
    return {
        "id": rid,
        "index": sample.index,
        "params": {k: _plain(v) for k, v in sample.params.items()},
        "model": spec_to_dict(model),
        "complexity": sample.complexity.as_dict()
        if model == sample.spec
        else complexity(model).as_dict(),
        "block_widths": block_widths(model),
    }


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, for JSON."""
    return value.item() if hasattr(value, "item") else value


def _check_same_population(
    stored: dict[str, Any], resolved: dict[str, Any], sweep_dir: Path, source: str | None
) -> None:
    for key in POPULATION_KEYS:
        if stored.get(key) != resolved.get(key):
            raise ConfigError(
                f"differs from the sweep already in {sweep_dir} (its sweep.yaml); changing the "
                f"{key} of an existing sweep would mix two populations: use another name or dir",
                key=key,
                source=source,
            )


def damaged_files(run_dir: Path, thorough: bool = True) -> list[str]:
    """The files setup writes that are missing or unusable (`thorough`: also parse them;
    otherwise only check that they are files, cheap enough for every launch)."""
    out = []
    for name in (SAMPLE_FILE, CONFIG_FILE):
        path = run_dir / name
        if not path.is_file() or thorough and not _parses(path):
            out.append(name)
    return out


def _parses(path: Path) -> bool:
    if path.name == SAMPLE_FILE:
        return read_json(path)[0] is not None
    return config_damage(path.parent) is None


def _stored_n(stored: dict[str, Any], sweep_file: Path) -> int:
    n = stored.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"must be a count, got {n!r}", key="n", source=str(sweep_file))
    return n


def setup(config: SweepConfig, check_only: bool = False, repair_only: bool = False) -> SetupReport:
    """Write sweep.yaml and any missing run directories (up to n), and rewrite the config and
    sample of runs whose files are damaged or missing (damaged ones are moved aside, kept).
    `check_only` writes nothing; `repair_only` (every launch) only rebuilds runs whose files are
    missing, without sampling unless there is one, adding runs or touching sweep.yaml."""
    sweep_dir = config.sweep_dir
    sweep_file = sweep_dir / SWEEP_FILE
    existing = run_dirs(sweep_dir)
    broken = {p.name: files for p in existing if (files := damaged_files(p, not repair_only))}
    if repair_only and not broken:
        return SetupReport(sweep_dir, len(existing), 0)
    space_data = resolve_space(config)
    space = build_space(config, space_data)
    _check_crossed_n(config, space)
    resolved = {**config.to_dict(), "space": space_data[0]}
    if sweep_file.exists():
        stored = read_yaml(sweep_file)
        _check_same_population(stored, resolved, sweep_dir, config.source)
        n = _stored_n(stored, sweep_file)
        resolved["n"] = n if repair_only else max(n, config.n)
    elif check_only or repair_only:
        msg = "not set up yet (run `pycls-like sweep setup` first)"
        raise ConfigError(msg, source=str(sweep_dir))
    if check_only:
        return SetupReport(sweep_dir, len(existing), 0)
    have = {p.name for p in existing} - set(broken)
    samples = [s for s in space.sample(resolved["n"], config.seed) if run_id(s.index) not in have]
    # Every run config is validated before anything is written: a bad base leaves no sweep dir.
    runs = [(run_id(s.index), s, run_config(config.base, s, config.source)) for s in samples]
    sweep_from_dict(copy.deepcopy(resolved), str(sweep_file))  # what we write must load back
    _make_dir(sweep_dir / "runs")
    if not repair_only:
        write_atomic(sweep_file, yaml.safe_dump(resolved, sort_keys=False))
    for rid, sample, run in runs:
        run_dir = sweep_dir / "runs" / rid
        run_dir.mkdir(exist_ok=True)
        # A run that exists keeps its usable files (a config edited by hand stays as it is).
        write = broken.get(rid, (SAMPLE_FILE, CONFIG_FILE))
        if SAMPLE_FILE in write:
            record = json.dumps(_sample_record(rid, sample, run.model))
            _write_run_file(run_dir / SAMPLE_FILE, record)
        if CONFIG_FILE in write:  # last: its presence marks the run as set up
            _write_run_file(run_dir / CONFIG_FILE, yaml.safe_dump(run.to_dict(), sort_keys=False))
    rebuilt = tuple(sorted(set(broken) & {rid for rid, _, _ in runs}))
    return SetupReport(sweep_dir, len(existing) - len(rebuilt), len(runs) - len(rebuilt), rebuilt)


def _check_crossed_n(config: SweepConfig, space: "DesignSpace") -> None:
    """A crossed space trains each setting at every combination: n must hold whole settings."""
    k = space.cross_size
    if config.n % k:
        names = ", ".join(name for name, _ in space.cross)
        raise ConfigError(
            f"must be a multiple of {k}, got {config.n}: each sampled setting trains every "
            f"combination of the crossed {names} ({k} runs)",
            key="n",
            source=config.source,
        )


def _make_dir(path: Path) -> None:
    """`mkdir -p`, a one-line error naming the path when it cannot be made (a file in its way)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create directory: {err.strerror}", source=str(path)) from None


def _write_run_file(path: Path, text: str) -> None:
    """Rewrite a run file; a damaged one (or a directory in its place) is moved aside first."""
    if path.exists() or path.is_symlink():
        move_aside(path)
    write_atomic(path, text)
