"""Setup: sample the population into run directories, once and for all.

`SWEEP_DIR/sweep.yaml` records the resolved config (the space inlined, so later edits of a shipped
space file cannot silently change a sweep). Each sample i becomes `runs/<id>/` with the run config
the engine reads and `sample.json` (sampled parameters, complexity, block widths) that collect
reads. Setup is idempotent: existing runs are never rewritten, a larger `n` appends runs (samples
of a seed are prefix-stable), and a different space / seed / constraints / base is refused.
"""

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.fileio import write_atomic
from pycls_like.io import read_yaml
from pycls_like.plan import block_widths
from pycls_like.specs import ModelSpec, spec_to_dict
from pycls_like.sweep.config import POPULATION_KEYS, SweepConfig, sweep_from_dict
from pycls_like.sweep.rundir import CONFIG_FILE, SAMPLE_FILE, run_dirs, run_id

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

    def describe(self) -> str:
        total = self.existing + self.added
        if not self.added:
            return f"{self.sweep_dir}: {total} runs already set up"
        return f"{self.sweep_dir}: set up {self.added} new runs ({total} in all)"


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
    from pycls_like.engine.config import run_config_from_dict

    if "model" in base:  # run_config names this error with its key
        return None
    try:  # only the data section matters; any model fills the slot
        return run_config_from_dict({**base, "model": "RegNetX-200MF"}).data.num_classes
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
    """Engine RunConfig: base + sampled model + sampled optimizer settings (sampled values win)."""
    from pycls_like.engine.config import run_config_from_dict

    data = copy.deepcopy(base)
    if "model" in data:
        raise ConfigError(
            "the model comes from the space; remove it from base", key="base.model", source=source
        )
    data["model"] = spec_to_dict(sample.spec)
    data["optim"] = {**(data.get("optim") or {}), **{k: _plain(v) for k, v in sample.optim.items()}}
    try:
        return run_config_from_dict(data)
    except ConfigError as err:
        raise err.located(source=source, prefix="base") from None


def _sample_record(rid: str, sample: "Sample", model: ModelSpec) -> dict[str, Any]:
    """What collect needs without the engine: the complexity the sampler computed and checked,
    which is that of the model as trained (`build_space` fixed the dataset's class count)."""
    return {
        "id": rid,
        "index": sample.index,
        "params": {k: _plain(v) for k, v in sample.params.items()},
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


def setup(config: SweepConfig, check_only: bool = False) -> SetupReport:
    """Write sweep.yaml and any missing run directories (up to n); `check_only` writes nothing."""
    sweep_dir = config.sweep_dir
    space_data = resolve_space(config)
    space = build_space(config, space_data)
    resolved = {**config.to_dict(), "space": space_data[0]}
    sweep_file = sweep_dir / SWEEP_FILE
    existing = run_dirs(sweep_dir)
    if sweep_file.exists():
        stored = read_yaml(sweep_file)
        _check_same_population(stored, resolved, sweep_dir, config.source)
        resolved["n"] = max(int(stored.get("n", 0)), config.n)
    elif check_only:
        msg = "not set up yet (run `pycls-like sweep setup` first)"
        raise ConfigError(msg, source=str(sweep_dir))
    if check_only:
        return SetupReport(sweep_dir, len(existing), 0)
    have = {p.name for p in existing}
    samples = [s for s in space.sample(resolved["n"], config.seed) if run_id(s.index) not in have]
    # Every run config is validated before anything is written: a bad base leaves no sweep dir.
    runs = [(run_id(s.index), s, run_config(config.base, s, config.source)) for s in samples]
    sweep_from_dict(copy.deepcopy(resolved), str(sweep_file))  # what we write must load back
    (sweep_dir / "runs").mkdir(parents=True, exist_ok=True)
    write_atomic(sweep_file, yaml.safe_dump(resolved, sort_keys=False))
    for rid, sample, run in runs:
        run_dir = sweep_dir / "runs" / rid
        run_dir.mkdir(exist_ok=True)
        write_atomic(run_dir / SAMPLE_FILE, json.dumps(_sample_record(rid, sample, run.model)))
        text = yaml.safe_dump(run.to_dict(), sort_keys=False)
        write_atomic(run_dir / CONFIG_FILE, text)  # last: its presence marks the run as set up
    return SetupReport(sweep_dir, len(existing), len(runs))
