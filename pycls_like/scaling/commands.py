"""`pycls-like scale`: scale a model by a compound strategy, or tabulate its growth exponents."""

import argparse
import json
import sys
from pathlib import Path

import yaml

from pycls_like.cli_options import add_overrides
from pycls_like.commands import complexity_record, si
from pycls_like.errors import ConfigError
from pycls_like.fileio import check_output_file
from pycls_like.io import load_spec
from pycls_like.scaling.scaler import scale
from pycls_like.scaling.strategy import scaling_factors
from pycls_like.specs import ModelSpec, spec_to_dict

GROWTH_STRATEGIES = "d,w,r,dw,dwr,fast"
# Scalar fields a strategy may change, shown as "before -> after" (stage lists get their own table).
_FIELDS = ("depth", "heads", "hidden_d", "mlp_d", "stem_ws", "stem_w", "head_w")


def add_scale(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="preset name or YAML spec path")
    parser.add_argument(
        "--strategy",
        help="weights over d, w, g, r: d, w, r, dw, dwr, d1_w8_g8_r1, or fast (= d1_w8_g8_r1); "
        f"with --growth a comma-separated list (default {GROWTH_STRATEGIES})",
    )
    parser.add_argument("--factor", type=float, help="multiply flops by about this (> 0)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("-o", "--output", metavar="OUT.yaml", help="write the scaled spec as YAML")
    add_overrides(parser, "override a key of the input spec")
    parser.add_argument(
        "--growth",
        action="store_true",
        help="instead: fit flops/params/acts ~ c * s^e per strategy over --factors",
    )
    parser.add_argument(
        "--factors", default="4,16,64", help="with --growth: comma-separated factors"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --growth: also measure each scaled model (`pycls-like profile`) and fit the "
        "growth of its forward and training-step time",
    )
    parser.add_argument("--device", default="cpu", help="with --profile: cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32, help="with --profile (default 32)")
    parser.add_argument("--dtype", default="fp32", help="with --profile: fp32, bf16 or fp16")
    parser.add_argument("--repeats", type=int, default=10, help="with --profile: timed calls")
    parser.add_argument("--threads", type=int, help="with --profile: torch threads (default: all)")


def _parse_factors(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"expected comma-separated numbers, got {text!r}", key="--factors"
        ) from None


def _run_growth(args: argparse.Namespace, spec: ModelSpec) -> int:
    from pycls_like.scaling.growth import METRICS, growth_exponents

    if args.output or args.factor is not None:
        raise ConfigError("--growth takes --strategy and --factors, not --factor or -o")
    strategies = (args.strategy or GROWTH_STRATEGIES).split(",")
    factors = _parse_factors(args.factors)
    for strategy in strategies:
        for s in factors:
            scaling_factors(strategy, s)  # validate every strategy and factor before any work
    table = growth_exponents(spec, strategies, factors)
    metrics = METRICS
    if args.profile:
        from pycls_like.engine.profile import ProfileSettings, profile_model
        from pycls_like.scaling.growth import MEASURED, measured_growth

        settings = ProfileSettings.from_args(args)
        measured = measured_growth(spec, strategies, factors, lambda s: profile_model(s, settings))
        table = table.merge(measured, on="strategy")
        metrics = (*METRICS, *MEASURED)
    if args.json:
        lines = [
            json.dumps({"spec": args.spec, "factors": factors, **row})
            for row in table.to_dict("records")
        ]
    else:
        listed = ", ".join(f"{s:g}" for s in factors)
        lines = [
            f"growth exponents of {args.spec}: y ~ c * s^e over s = {listed} (R^2 in parentheses)",
            (f"  {'strategy':<14}" + "".join(f"{m:<16}" for m in metrics)).rstrip(),
        ]
        for row in table.to_dict("records"):
            cells = "".join(
                f"{row[f'{m}_e']:.3f} ({row[f'{m}_r2']:.3f})".ljust(16) for m in metrics
            )
            lines.append(f"  {row['strategy']:<14}{cells}".rstrip())
    print("\n".join(lines))
    return 0


def _value(spec: ModelSpec, name: str) -> object:
    """A spec field for display (tuples as lists); None when the family lacks it."""
    value = getattr(spec, name, None)
    return list(value) if isinstance(value, tuple) else value


def _arrow(before: object, after: object) -> str:
    return str(before) if before == after else f"{before} -> {after}"


def _human(args: argparse.Namespace, spec: ModelSpec, scaled: ModelSpec) -> str:
    before, after = complexity_record(args.spec, spec), complexity_record(args.spec, scaled)
    f = scaling_factors(args.strategy, args.factor)
    lines = [
        f"{args.spec} ({spec.family}) scaled by {args.strategy} x{args.factor:g} -> {scaled.family}:"
        f" depth x{f.d:.3f}, width x{f.w:.3f}, group width x{f.g:.3f}, resolution x{f.r:.3f}",
        f"  {'':<12}{'before':>12}{'after':>12}{'ratio':>9}",
    ]
    for key in ("flops", "params", "acts"):
        b, a = before[key], after[key]
        lines.append(f"  {key:<12}{si(b):>12}{si(a):>12}{a / b:>8.2f}x")
    r0, r1 = spec.resolution, scaled.resolution
    lines.append(f"  {'resolution':<12}{r0:>12}{r1:>12}{r1 / r0:>8.2f}x")
    changes = [
        f"{name} {_arrow(_value(spec, name), _value(scaled, name))}"
        for name in _FIELDS
        if hasattr(scaled, name) and _value(spec, name)
    ]
    if changes:
        lines.append("  " + "   ".join(changes))
    if after["stages"]:
        lines.append(f"  {'stage':<7}{'depth':<10}{'width':<14}{'stride':<8}{'b':<9}g")
        for i, (s0, s1) in enumerate(zip(before["stages"], after["stages"], strict=True), 1):
            bot = "-" if s1["b"] is None else f"{s1['b']:g}"
            group = "-" if s1["g"] is None else _arrow(s0["g"], s1["g"])
            lines.append(
                f"  {i:<7}{_arrow(s0['depth'], s1['depth']):<10}"
                f"{_arrow(s0['width'], s1['width']):<14}{s1['stride']:<8}{bot:<9}{group}"
            )
    return "\n".join(lines)


def run_scale(args: argparse.Namespace) -> int:
    if args.output:
        check_output_file(Path(args.output), "--output")  # before any work
    spec = load_spec(args.spec, args.overrides)
    if args.growth:
        return _run_growth(args, spec)
    if args.profile:
        raise ConfigError("--profile measures the models of --growth; add --growth")
    if args.strategy is None or args.factor is None:
        raise ConfigError("--strategy and --factor are required (or use --growth)")
    scaled = scale(spec, args.strategy, args.factor)
    if args.output:
        text = yaml.safe_dump(spec_to_dict(scaled), sort_keys=False)
        try:
            Path(args.output).write_text(text)
        except OSError as err:
            raise ConfigError(f"cannot write file ({err.strerror})", source=args.output) from None
    if args.json:
        record = complexity_record(args.spec, scaled)
        out = {
            "spec": args.spec,
            "strategy": args.strategy,
            "factor": args.factor,
            "scaled": spec_to_dict(scaled),
            "stages": record["stages"],
            "resolution": scaled.resolution,
            **{k: record[k] for k in ("flops", "params", "acts")},
        }
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        print(_human(args, spec, scaled))
        if args.output:
            print(f"wrote {args.output}")
    return 0
