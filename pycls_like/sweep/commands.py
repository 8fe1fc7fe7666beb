"""`pycls-like sweep`: sample, launch, collect a population; each step also runs alone.

    pycls-like sweep SWEEP.yaml              setup + launch + collect (resumable: just rerun it)
    pycls-like sweep setup SWEEP.yaml        sample runs into SWEEP_DIR/runs/<id>/ (adds, never changes)
    pycls-like sweep launch SWEEP.yaml|DIR   train every run that is not finished
    pycls-like sweep collect SWEEP.yaml|DIR  write SWEEP_DIR/results.csv (+ .parquet)
    pycls-like sweep status SWEEP.yaml|DIR   done / running / failed / diverged / corrupt / pending

Exit codes (`sweep` and `sweep launch`): 0 when every run finished (complete or diverged), 3 when
runs failed or are corrupt, 4 when runs are still pending or running elsewhere, 2 for bad input.
Only the standard library is imported here; the sweep modules load when a command runs.
"""

import argparse
import sys

from pycls_like.cli_options import add_overrides

ACTIONS = ("setup", "launch", "collect", "status")


def add_sweep(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.usage = "%(prog)s [setup|launch|collect|status] SWEEP [--set KEY=VALUE] [-q] [--json]"
    parser.description = __doc__.split("\n\n")[1]
    parser.add_argument(
        "target",
        nargs="+",
        metavar="SWEEP",
        help=f"optional action ({', '.join(ACTIONS)}), then a sweep YAML or a sweep directory",
    )
    add_overrides(parser, "override a sweep config key, e.g. n=64 or launcher.type=ray")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument("--json", action="store_true", help="status: one JSON object")


def _split(target: list[str]) -> tuple[str, str]:
    from pycls_like.errors import ConfigError

    if len(target) == 1 and target[0] not in ACTIONS:
        return "all", target[0]
    if len(target) == 2 and target[0] in ACTIONS:
        return target[0], target[1]
    raise ConfigError(f"expected [{'|'.join(ACTIONS)}] SWEEP, got {' '.join(target)!r}")


def run_sweep(args: argparse.Namespace) -> int:
    from pycls_like.sweep.collect import collect
    from pycls_like.sweep.config import load_sweep_config
    from pycls_like.sweep.launch import format_summary, launch
    from pycls_like.sweep.preflight import check_sweep_readable, preflight
    from pycls_like.sweep.setup import setup
    from pycls_like.sweep.status import format_status, status_json, sweep_status

    action, target = _split(args.target)
    config = load_sweep_config(target, args.overrides)
    if action in ("all", "launch", "setup"):  # before setup writes or a launch trains anything
        preflight(config, train=action != "setup")
    else:  # status, collect: read only
        check_sweep_readable(config)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    if action in ("all", "setup"):
        report = setup(config)
        say(report.describe())
    code = 0
    if action in ("launch", "all"):
        if action == "launch":
            setup(config, check_only=True)  # the sweep dir exists and holds this population
        summary = launch(config, quiet=args.quiet)
        say(format_summary(summary))
        code = summary.exit_code
    if action in ("all", "collect"):
        table = collect(config.sweep_dir)
        say(f"collected {len(table)} runs into {config.sweep_dir / 'results.csv'}")
    if action in ("all", "status"):
        status = sweep_status(config.sweep_dir)  # failed runs are results to report, exit 0
        print(status_json(status) if args.json else format_status(status))
    return code
