"""Profile the runs of a sweep directory: one `profile.json` per run dir, resumable.

Profiling follows training's rules for a run directory: a run is measured only by the process
that holds its claim (`claims.py`, the same claim.json, so a run is never trained and timed at
once), the record is written atomically, and a rerun measures only what is missing. A corrupt
profile.json or a claim left by a killed profiler is measured again. All runs of one directory
are measured under one setting (device, device name, dtype, batch size, threads): a rerun under
another setting is refused unless `redo`, so one table never mixes machines or precisions.

`spec_runs` turns a list of specs into such a directory (no training; `sample.json` names each
model), so a population of presets and scaled models is profiled, resumed and collected alike.
"""

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.fileio import write_atomic
from pycls_like.rundir import write_json
from pycls_like.specs import ModelSpec, spec_to_dict
from pycls_like.sweep.claims import heartbeat, release, try_claim
from pycls_like.sweep.rundir import (
    CONFIG_FILE,
    PROFILE_FILE,
    SAMPLE_FILE,
    config_problem,
    read_json,
    run_dirs,
    run_id,
)

PROFILE_LAUNCH = "profile"  # the claim's `launch` field: who holds the run


@dataclass
class ProfileReport:
    """What one `profile` call did, run ids per outcome."""

    measured: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already profiled under this setting
    claimed: list[str] = field(default_factory=list)  # held by a live trainer or profiler
    unusable: list[str] = field(default_factory=list)  # no usable config, or profile.json a dir

    def describe(self) -> str:
        parts = [f"{len(self.measured)} measured", f"{len(self.kept)} already profiled"]
        if self.claimed:
            parts.append(f"{len(self.claimed)} held by another process ({', '.join(self.claimed)})")
        if self.unusable:
            parts.append(f"{len(self.unusable)} not profiled ({', '.join(self.unusable)})")
        return ", ".join(parts)


def describe_setting(setting: dict[str, Any]) -> str:
    return (
        f"{setting['device']} ({setting['device_name']}) {setting['dtype']} batch "
        f"{setting['batch_size']}, {setting['threads']} thread(s)"
    )


def read_profile(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The run's profile record, or (None, why) when it is damaged (it is then measured again)."""
    record, problem = read_json(run_dir / PROFILE_FILE)
    if record is None:
        return None, problem
    stats = [record.get(k) for k in ("fwd_ms", "train_ms")]
    if not all(isinstance(s, dict) and isinstance(s.get("median"), int | float) for s in stats):
        return None, f"corrupt {run_dir / PROFILE_FILE} (no fwd_ms/train_ms medians)"
    return record, None


def _run_spec(run_dir: Path) -> ModelSpec:
    """The model as written in config.yaml (setup wrote it with the dataset's class count)."""
    from pycls_like.io import read_yaml, spec_from_data

    path = run_dir / CONFIG_FILE
    data = read_yaml(path)
    if not isinstance(data.get("model"), dict):
        raise ConfigError("no model mapping", key="model", source=str(path))
    return spec_from_data(data["model"], str(path))


def profile_runs(
    sweep_dir: Path,
    settings: Any,
    *,
    redo: bool = False,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> ProfileReport:
    """Measure every run of `sweep_dir` that has no profile under this setting (see module doc)."""
    from pycls_like.engine.profile import expected_setting, profile_model, setting_of

    runs = run_dirs(sweep_dir)
    if not runs:
        raise ConfigError("no run directories (set the sweep up first)", source=str(sweep_dir))
    setting = expected_setting(settings)
    existing: dict[str, dict[str, Any]] = {}
    for run in runs:
        record, problem = read_profile(run)
        if problem and _replaceable(run):
            say(f"run {run.name}: {problem}: measuring it again")
        if record is not None:
            existing[run.name] = record
    other = {rid: r for rid, r in existing.items() if setting_of(r) != setting}
    if other and not redo:
        rid, record = next(iter(other.items()))
        more = f" (and {len(other) - 1} more)" if len(other) > 1 else ""
        raise ConfigError(
            f"run {rid}{more} was profiled on {describe_setting(setting_of(record))}, "
            f"this call measures {describe_setting(setting)}; a table holds one setting: "
            "pass --redo to replace them, or profile a copy of the sweep",
            source=str(sweep_dir),
        )
    report = ProfileReport()
    for i, run in enumerate(runs, 1):
        if run.name in existing and run.name not in other:
            report.kept.append(run.name)
            continue
        problem = config_problem(run)
        if problem is None and not _replaceable(run):
            problem = f"{run / PROFILE_FILE} is not a file (remove it)"
        if problem is not None:
            report.unusable.append(run.name)
            say(f"run {run.name}: {problem}: not profiled")
            continue
        try:
            spec = _run_spec(run)
        except ConfigError as err:
            report.unusable.append(run.name)
            say(f"run {run.name}: {err}: not profiled")
            continue
        claim = try_claim(run, launch=PROFILE_LAUNCH)
        if claim is None:
            report.claimed.append(run.name)
            continue
        try:
            with heartbeat(run, claim):
                record = profile_model(spec, settings)
                write_json(run / PROFILE_FILE, record)
        finally:
            release(run, claim)
        report.measured.append(run.name)
        say(
            f"[{i:>{len(str(len(runs)))}}/{len(runs)}] {run.name}  fwd {record['fwd_ms']['median']:.1f} ms"
            f"  train {record['train_ms']['median']:.1f} ms  mem {record['train_mem_mb']:.0f} MiB"
        )
    return report


def _replaceable(run_dir: Path) -> bool:
    """A new profile.json can take the place of what is there: nothing, or a file (a directory
    in its place is someone's data, never removed)."""
    path = run_dir / PROFILE_FILE
    return path.is_file() or not path.exists()


def spec_runs(out: Path, named: Sequence[tuple[str, ModelSpec]]) -> None:
    """Write (or extend) a profiling directory with one run dir per spec, in order.

    An existing run dir must hold the same model: profiles of two populations never share a table.
    """
    from pycls_like.engine.config import RunConfig
    from pycls_like.plan import block_widths

    (out / "runs").mkdir(parents=True, exist_ok=True)
    for index, (name, spec) in enumerate(named):
        run = out / "runs" / run_id(index)
        model = spec_to_dict(spec)
        if (run / CONFIG_FILE).is_file():
            stored = yaml.safe_load((run / CONFIG_FILE).read_text()) or {}
            if stored.get("model") != model:
                raise ConfigError(
                    f"run {run.name} holds another model than {name}: profile this population "
                    "into another --out directory",
                    source=str(out),
                )
            continue
        run.mkdir(exist_ok=True)
        sample = {
            "id": run.name,
            "index": index,
            "params": {"name": name, "family": spec.family, "resolution": spec.resolution},
            "complexity": complexity(spec).as_dict(),
            "block_widths": block_widths(spec),
        }
        write_atomic(run / SAMPLE_FILE, json.dumps(sample))
        text = yaml.safe_dump(RunConfig(model=spec, device="cpu").to_dict(), sort_keys=False)
        write_atomic(run / CONFIG_FILE, text)  # last: its presence marks the run as set up
