"""`pycls-like analyze` and `pycls-like fit-regnet`.

Only the standard library is imported here; numpy/pandas/matplotlib load inside the run functions,
so `pycls-like --help` and argument errors stay instant.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pycls_like.cli_options import add_overrides

if TYPE_CHECKING:
    from pycls_like.analysis.table import Population


def add_analyze(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SWEEP_DIR_OR_TABLE",
        help="sweep directories (results.csv) or CSV/JSON tables; one population each",
    )
    parser.add_argument(
        "-o", "--output", default="report.html", help="HTML report path (default: %(default)s)"
    )
    parser.add_argument(
        "--json", default=None, help="JSON summary path (default: report.json beside the HTML)"
    )
    parser.add_argument(
        "--metric",
        default="flops",
        help="complexity column for normalization (default: %(default)s)",
    )
    parser.add_argument("--error", default="top1_err", help="error column (default: %(default)s)")
    parser.add_argument(
        "--bins",
        type=int,
        default=None,
        help="complexity bins for normalized EDFs (default: about 5 models per bin, 2-10)",
    )
    parser.add_argument(
        "--boot",
        type=int,
        default=1000,
        help="bootstrap resamples for EDF bands (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every bootstrap (default: %(default)s)"
    )
    parser.add_argument(
        "--permutations",
        type=int,
        default=0,
        metavar="N",
        help="add a permutation p-value (N label shuffles within complexity bins) to each "
        "normalized KS comparison; 0: off (default)",
    )
    parser.add_argument(
        "--by",
        default=None,
        metavar="COLUMN[,COLUMN...]",
        help="groups inside one sweep (e.g. stem_type,optimizer): EDFs over training settings, "
        "stability per group, tests between the first column's levels, (lr, wd) heat maps",
    )


def run_analyze(args: argparse.Namespace) -> int:
    from pycls_like.analysis.report import write_report
    from pycls_like.errors import ConfigError
    from pycls_like.fileio import check_output_file

    if (args.bins is not None and args.bins < 1) or args.boot < 1:
        raise ConfigError("--bins and --boot must be >= 1")
    if args.permutations < 0:
        raise ConfigError(f"--permutations must be >= 0, got {args.permutations}")
    out = Path(args.output)
    out_json = Path(args.json) if args.json else out.with_name("report.json")
    check_output_file(out, "--output")  # before any work
    check_output_file(out_json, "--json")
    good, bad = readable_sources(args.sources, args.error)
    if not good:
        return 2  # every source already has its error line
    if args.by is not None:
        return _run_grouped(args, good, out, out_json) or (2 if bad else 0)
    summary = write_report(
        good,
        out,
        out_json,
        error=args.error,
        metric=args.metric,
        bins=args.bins,
        n_boot=args.boot,
        seed=args.seed,
        permutations=args.permutations,
    )
    for p in summary["populations"]:
        print(
            f"{p['name']}: {p['n']} runs, min {args.error} {p['min_error']:.2f}, "
            f"median {p['median_error']:.2f}, best {p['best']['id']}"
        )
    for raw, norm in zip(summary["ks"], summary["ks_normalized"], strict=True):
        print(
            f"{raw['a']} vs {raw['b']}: KS D={raw['statistic']:.3f} p={raw['pvalue']:.3g} (raw), "
            f"D={norm['statistic']:.3f} p={norm['pvalue']:.3g} ({args.metric}-normalized)"
        )
    for perm in summary["ks_permutation"]:
        print(
            f"{perm['a']} vs {perm['b']}: {args.metric}-normalized KS permutation p={perm['pvalue']:.3g} "
            f"({perm['method']})"
        )
    if summary.get("verdict"):
        print(f"verdict: {summary['verdict']['sentence']}")
    for note in summary["notes"]:
        print(f"note: {note}")
    print(f"wrote {out} and {out_json}")
    return 2 if bad else 0


def _run_grouped(
    args: argparse.Namespace, pops: "list[Population]", out: Path, out_json: Path
) -> int:
    """`--by`: one sweep's groups (analysis/groups.py); prints the stability table and tests."""
    from pycls_like.analysis.group_report import text_lines, write_group_report
    from pycls_like.errors import ConfigError

    if len(pops) != 1:
        raise ConfigError(f"--by groups one sweep, got {len(pops)} sources")
    by = [c.strip() for c in args.by.split(",") if c.strip()]
    summary = write_group_report(
        pops[0], by, out, out_json, error=args.error, n_boot=args.boot, seed=args.seed
    )
    print("\n".join(text_lines(summary)))
    print(f"wrote {out} and {out_json}")
    return 0


def readable_sources(sources: list[str], error: str) -> "tuple[list[Population], int]":
    """The populations that load, in order; each one that does not is one stderr line (the report
    covers the rest, and the command exits 2), as `complexity` does with many SPECs."""
    from pycls_like.analysis.table import load_population
    from pycls_like.errors import ConfigError

    good, bad = [], 0
    for source in sources:
        try:
            pop = load_population(source)
            pop.rows(error)
        except ConfigError as err:
            print(f"pycls-like analyze: error: {err}", file=sys.stderr, flush=True)
            bad += 1
        else:
            good.append(pop)
    return good, bad


def add_fit_regnet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        metavar="SPEC_OR_SWEEP_DIR",
        help="preset name, YAML/JSON model spec, or sweep directory (fits every run)",
    )
    parser.add_argument("--widths", help="comma-separated per-block widths, e.g. 24,24,56,56,152")
    add_overrides(parser, "override a spec field (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run_fit_regnet(args: argparse.Namespace) -> int:
    from pycls_like.analysis.qlinear import fit_quantized_linear_many
    from pycls_like.errors import ConfigError

    if (args.widths is None) == (args.target is None):
        raise ConfigError("give exactly one of --widths W,W,... or SPEC_OR_SWEEP_DIR")
    if args.widths is not None:
        labels, sequences = [None], [_parse_widths(args.widths)]
    elif Path(args.target).is_dir():
        labels, sequences = _sweep_widths(args.target)
    else:
        labels, sequences = [None], [_spec_widths(args.target, args.overrides)]
    for label, widths, fit in zip(
        labels, sequences, fit_quantized_linear_many(sequences), strict=True
    ):
        record = ({"id": label} if label is not None else {}) | fit.to_dict()
        print(json.dumps(record) if args.json else _human(record, widths))
    return 0


def _parse_widths(text: str) -> list[int]:
    from pycls_like.errors import ConfigError

    items = [t for t in text.replace(",", " ").split() if t]
    try:
        widths = [float(t) for t in items]
    except ValueError:
        bad = next(t for t in items if not _is_float(t))
        raise ConfigError(f"not a number: {bad!r}", key="--widths") from None
    if not widths or any(w <= 0 or not w.is_integer() for w in widths):
        raise ConfigError(f"widths must be positive integers, got {text!r}", key="--widths")
    from pycls_like.limits import BOUNDS, check_number

    for w in widths:
        check_number(w, "--widths", bound_of="ws")  # bounded like a spec's widths
    if len(widths) > BOUNDS["d"]:
        raise ConfigError(
            f"at most {BOUNDS['d']:,} widths (blocks), got {len(widths):,}", key="--widths"
        )
    return [int(w) for w in widths]


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sweep_widths(sweep_dir: str) -> tuple[list[str], list[list[int]]]:
    """Every run of a sweep table that has block widths (the widths do not depend on training)."""
    from pycls_like.analysis.table import load_population, parse_block_widths, require_columns
    from pycls_like.errors import ConfigError

    pop = load_population(sweep_dir)
    require_columns(pop, ["block_widths"])
    labels, sequences = [], []
    for run_id, value in zip(pop.table["id"], pop.table["block_widths"], strict=True):
        widths = parse_block_widths(value, run_id, pop.source)
        if widths:
            labels.append(run_id)
            sequences.append(widths)
    if not sequences:
        raise ConfigError("no run has block_widths (ViT sweeps have none)", source=pop.source)
    return labels, sequences


def _spec_widths(arg: str, overrides: list[str]) -> list[int]:
    from pycls_like.errors import ConfigError
    from pycls_like.io import load_spec
    from pycls_like.plan import block_widths

    widths = block_widths(load_spec(arg, overrides))
    if not widths:
        raise ConfigError("model has no per-block widths (a ViT?)", source=arg)
    return widths


def _human(record: dict, widths: list[int]) -> str:
    """One line per sweep run; for a single sequence, the input, the fit and its stages."""
    from pycls_like.regnet import stages_from_block_widths

    fit = (
        f"d={record['d']} w0={record['w0']} wa={record['wa']:.2f} wm={record['wm']:.3f} "
        f"e_fit={record['e_fit']:.4g}{' (exact)' if record['e_fit'] == 0 else ''}"
    )
    if "id" in record:
        return f"{record['id']}: {fit}"
    stage_ws, stage_ds = stages_from_block_widths(record["widths_fit"])
    return "\n".join(
        [
            f"widths      {' '.join(map(str, widths))}",
            f"fit         {fit}",
            f"widths_fit  {' '.join(map(str, record['widths_fit']))}",
            f"stages      widths {stage_ws}, depths {stage_ds}",
        ]
    )
