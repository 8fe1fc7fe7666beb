"""`pycls-like profile`: measured forward time, training-step time and peak memory of models.

    pycls-like profile SPEC... [--out DIR]   presets, YAML specs, JSONL populations (`sample -o`)
    pycls-like profile SWEEP_DIR             every run of a sweep: a profile.json per run dir

With --out (or on a sweep) the measurements live in run directories: resumable, one setting per
directory, and `sweep collect` (run here at the end) adds them to results.csv for `analyze`.
Only the standard library is imported here; torch loads when a command runs.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pycls_like.cli_options import add_overrides
from pycls_like.errors import ConfigError


def add_profile(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.split("\n\n")[1]
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="SPEC|SWEEP_DIR",
        help="preset names, YAML specs, JSONL files of specs (one {'spec': ...} per line), "
        "or one sweep directory",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per call (default 32)")
    parser.add_argument(
        "--resolution", type=int, help="profile SPECs at this resolution (default: their own)"
    )
    parser.add_argument(
        "--dtype", default="fp32", help="fp32, or bf16/fp16 autocast (default fp32)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls (default 10)")
    parser.add_argument(
        "--threads", type=int, help="torch threads (default: every core this process may use)"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="SPECs: keep the profiles in DIR/runs/<id>/ (resumable)"
    )
    parser.add_argument(
        "--redo", action="store_true", help="replace profiles measured under another setting"
    )
    parser.add_argument("--json", action="store_true", help="one JSON record per model per line")
    add_overrides(parser, "override a key of every SPEC")


def _population(path: Path) -> list[tuple[str, Any]]:
    """(name, spec) per line of a JSONL file: `sample -o` lines ({"spec": ...}) or bare specs."""
    from pycls_like.fileio import read_text
    from pycls_like.io import spec_from_data

    named = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        name = f"{path.name}:{number}"
        try:
            data = json.loads(line)
        except ValueError:
            raise ConfigError("not a JSON line", source=where) from None
        if not isinstance(data, dict):
            raise ConfigError("expected a JSON object", source=where)
        spec_data = data.get("spec", data)
        if not isinstance(spec_data, dict):
            raise ConfigError("must be a spec mapping", key="spec", source=where)
        named.append((str(data.get("name", name)), spec_from_data(spec_data, where)))
    return named


def _specs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    from pycls_like.engine.profile import at_resolution
    from pycls_like.io import apply_overrides, load_spec, spec_from_data
    from pycls_like.specs import spec_to_dict

    named = []
    for arg in args.targets:
        if arg.endswith(".jsonl"):
            found = _population(Path(arg))
            if args.overrides:
                found = [
                    (n, spec_from_data(apply_overrides(spec_to_dict(s), args.overrides), n))
                    for n, s in found
                ]
            named += found
        else:
            named.append((arg, load_spec(arg, args.overrides)))
    return [(name, at_resolution(spec, args.resolution)) for name, spec in named]


def _line(name: str, record: dict[str, Any]) -> str:
    def ms(key: str) -> str:
        s = record[key]
        return f"{s['median']:9.1f} [{s['q1']:.1f}-{s['q3']:.1f}]".ljust(24)

    return (
        f"{name if len(name) <= 28 else '...' + name[-25:]:<28} {record['resolution']:>4} {record['flops'] / 1e6:9.1f} "
        f"{record['params'] / 1e6:7.2f} {record['acts'] / 1e6:7.2f}  {ms('fwd_ms')}{ms('train_ms')}"
        f"{record['fwd_mem_mb']:8.0f} {record['train_mem_mb']:8.0f}"
    )


def _print_table(rows: list[tuple[str, dict[str, Any]]], as_json: bool) -> None:
    from pycls_like.engine.profile import setting_of
    from pycls_like.sweep.profile_runs import describe_setting

    if as_json:
        for name, record in rows:
            print(json.dumps({"name": name, **{k: v for k, v in record.items() if k != "spec"}}))
        return
    if rows:
        first = rows[0][1]
        print(
            f"profile: {describe_setting(setting_of(first))}, torch {first['torch']}, "
            f"{first['warmup']} warm-up + {first['repeats']} timed calls; median [IQR] ms; "
            f"peak memory MiB ({first['memory_method']})"
        )
    print(
        f"{'model':<28} {'res':>4} {'MF':>9} {'Mparams':>7} {'Macts':>7}  "
        f"{'fwd ms':<24}{'train step ms':<24}{'fwd MiB':>8} {'train MiB':>8}"
    )
    for name, record in rows:
        print(_line(name, record))


def run_profile(args: argparse.Namespace) -> int:
    from pycls_like.engine.profile import ProfileSettings, profile_model
    from pycls_like.sweep.profile_runs import profile_runs, read_profile, spec_runs

    settings = ProfileSettings.from_args(args)
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    sweep = len(args.targets) == 1 and Path(args.targets[0]).is_dir()
    if sweep:
        if args.out or args.resolution or args.overrides:
            raise ConfigError(
                "a sweep's runs are profiled as they are (their own resolution: the table's flops "
                "are at it); --out, --resolution and --set apply to SPECs",
                source=args.targets[0],
            )
        out = Path(args.targets[0])
    else:
        named = _specs(args)
        if args.out is None:  # measure and print; nothing kept
            from pycls_like.engine.trainer import resolve_device

            resolve_device(settings.device)  # a missing GPU fails before any work
            rows = []
            for name, spec in named:
                rows.append((name, profile_model(spec, settings)))
            _print_table(rows, args.json)
            return 0
        out = Path(args.out)
        spec_runs(out, named)
    from pycls_like.sweep.collect import collect
    from pycls_like.sweep.rundir import run_dirs

    report = profile_runs(out, settings, redo=args.redo, say=say)
    say(f"profile: {report.describe()}")
    table = collect(out)
    say(f"table: {out / 'results.csv'}")
    names = _names(out)
    rows = []
    for run in run_dirs(out):
        record, _ = read_profile(run)
        if record is not None:
            rows.append((names.get(run.name, run.name), record))
    _print_table(rows, args.json)
    if not args.json:
        print(_fit_summary(table))
    return 0 if not report.claimed and not report.unusable else 1


def _fit_summary(table: Any) -> str:
    """The runtime fits, the timing noise and (CPU) the wall/CPU time ratio of the directory's
    population (analysis.runtime)."""
    from pycls_like.analysis.runtime import format_fits, runtime_fits, timing_noise, wall_over_cpu

    lines = ["", format_fits(runtime_fits(table))]
    for r in timing_noise(table).itertuples():
        lines.append(
            f"timing noise, {r.figure}: IQR/median of the {r.n} models' repeats: median "
            f"{100 * r.median_rel_iqr:.1f}%, max {100 * r.max_rel_iqr:.1f}%"
        )
    for r in wall_over_cpu(table).itertuples():
        lines.append(
            f"wall/CPU time, {r.figure}: median {r.median_ratio:.2f}, max {r.max_ratio:.2f} over "
            f"{r.n} models (with 1 thread, above 1 is waiting for a core: read the *_cpu_ms fits)"
        )
    return "\n".join(lines)


def _names(out: Path) -> dict[str, str]:
    """Run id -> the model's name, where the profiling dir recorded one (SPEC mode)."""
    from pycls_like.sweep.rundir import SAMPLE_FILE, read_json, run_dirs

    names = {}
    for run in run_dirs(out):
        sample, _ = read_json(run / SAMPLE_FILE)
        name = ((sample or {}).get("params") or {}).get("name")
        if isinstance(name, str):
            names[run.name] = f"{run.name} {name}"
    return names
