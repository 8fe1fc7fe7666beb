"""`pycls-like sample` and `pycls-like spaces`: populations of models as JSONL or CSV.

Imports only the standard library at import time; numpy and the sampler load inside `run_*`.
"""

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from pycls_like.cli_options import add_overrides
from pycls_like.errors import ConfigError
from pycls_like.fileio import check_output_file


def add_sample(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "space",
        metavar="SPACE",
        help="design space YAML, or a shipped name (see `pycls-like spaces`)",
    )
    parser.add_argument("-n", type=int, required=True, help="number of models")
    parser.add_argument("--seed", type=int, default=0, help="population seed (default 0)")
    parser.add_argument(
        "--start",
        type=int,
        default=0,
        help="skip the first START models (split a population across workers)",
    )
    for metric in ("flops", "params", "acts"):
        parser.add_argument(
            f"--{metric}",
            metavar="MIN:MAX",
            help=f"{metric} band, e.g. 360M:400M, 0.36G:0.4G, :400e6 (replaces the space's)",
        )
    add_overrides(parser, "override a space key, e.g. params.resolution=32")
    parser.add_argument(
        "--optim",
        metavar="NAME",
        help="optimizer settings to sample: a file in design_spaces/optim/ or a YAML path",
    )
    parser.add_argument(
        "--stratify",
        type=int,
        metavar="BINS",
        help="fill BINS equal-count bins over log(metric) in its band",
    )
    parser.add_argument(
        "--stratify-by",
        default="flops",
        choices=("flops", "params", "acts"),
        help="metric for --stratify (default flops)",
    )
    parser.add_argument("--dedupe", action="store_true", help="skip repeated (spec, optim) samples")
    parser.add_argument(
        "--max-candidates",
        type=int,
        metavar="M",
        help="give up after M candidates (default: 10,000 per model)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here instead of stdout (CSV if FILE ends in .csv)",
    )


def _write_csv(records: list[dict[str, Any]], out: TextIO) -> None:
    """Flat columns; the spec and optim dicts as JSON text."""
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    columns.sort(key=lambda k: k in ("spec", "optim"))  # the long JSON columns last
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for record in records:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in record.items()})


def run_sample(args: argparse.Namespace) -> int:
    from pycls_like.design.space import load_space

    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    if args.output is not None:
        check_output_file(Path(args.output), "--output")  # before sampling
    bands = {
        m: getattr(args, m) for m in ("flops", "params", "acts") if getattr(args, m) is not None
    }
    space = load_space(args.space, args.overrides, optim=args.optim, bands=bands)
    population = space.draw(
        args.n,
        args.seed,
        start=args.start,
        dedupe=args.dedupe,
        stratify=args.stratify,
        stratify_by=args.stratify_by,
        max_candidates=args.max_candidates,
    )
    records = [s.record() for s in population.samples]
    if args.output is None:
        sys.stdout.write("".join(json.dumps(r) + "\n" for r in records))
        return 0
    try:
        with open(args.output, "w", newline="") as out:
            if args.output.lower().endswith(".csv"):
                _write_csv(records, out)
            else:
                out.writelines(json.dumps(r) + "\n" for r in records)
    except OSError as err:
        raise ConfigError(f"cannot write ({err.strerror})", source=args.output) from None
    rate = population.acceptance_rate
    print(
        f"{len(records)} models from {space.name} -> {args.output} "
        f"({population.candidates} candidates, acceptance {rate:.3%})",
        file=sys.stderr,
    )
    return 0


def add_spaces(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per space per line")


def run_spaces(args: argparse.Namespace) -> int:
    from pycls_like.design.registry import list_spaces

    rows = list_spaces()
    if args.json:
        for name, family, description in rows:
            print(json.dumps({"name": name, "family": family, "description": description}))
        return 0
    width = max(len(name) for name, _, _ in rows)
    for name, family, description in rows:
        print(f"{name:<{width}}  {family:<6}  {description}")
    return 0
