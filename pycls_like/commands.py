"""`pycls-like complexity` and `pycls-like presets`: instant, torch-free queries (unless --measure)."""

import argparse
import importlib.util
import json
import sys

from pycls_like.cli_options import add_overrides
from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.io import load_spec, split_trailing_overrides
from pycls_like.plan import stage_summaries
from pycls_like.presets import PRESETS, aliases_of
from pycls_like.specs import ModelSpec


def si(value: int, unit: str = "") -> str:
    """Flops in M or G, like the papers' tables."""
    return f"{value / 1e9:.2f} G{unit}" if value >= 1e9 else f"{value / 1e6:.1f} M{unit}"


def complexity_record(arg: str, spec: ModelSpec) -> dict:
    cx = complexity(spec)
    stages = [
        {
            "depth": s.depth,
            "width": s.width,
            "stride": s.stride,
            "b": s.b,
            "g": s.g,
        }
        for s in stage_summaries(spec)
    ]
    return {"spec": arg, "flops": cx.flops, "params": cx.params, "acts": cx.acts, "stages": stages}


def _human(record: dict, spec: ModelSpec) -> str:
    head = f"{record['spec']}  ({spec.family}, {spec.resolution} px, {spec.num_classes} classes)"
    lines = [
        head,
        f"  flops {si(record['flops'])} multiply-adds   params {record['params'] / 1e6:.2f} M"
        f"   acts {record['acts'] / 1e6:.2f} M",
    ]
    if record["stages"]:
        lines.append("  stage  depth  width  stride  b      g")
        for i, s in enumerate(record["stages"], 1):
            bot = "-" if s["b"] is None else f"{s['b']:g}"
            grp = "-" if s["g"] is None else str(s["g"])
            lines.append(
                f"  {i:<5}  {s['depth']:<5}  {s['width']:<5}  {s['stride']:<6}  {bot:<5}  {grp}"
            )
    else:
        lines.append(
            f"  depth {spec.depth}  heads {spec.heads}  hidden_d {spec.hidden_d}  mlp {spec.mlp_d}  "
            f"stem {spec.stem_type}"
        )
    if "measured" in record:
        m, diff = record["measured"], record["difference"]
        lines.append(
            f"  measured: flops {m['flops']}  params {m['params']}  acts {m['acts']}"
            f"  (difference {diff['flops']}, {diff['params']}, {diff['acts']})"
        )
    return "\n".join(lines)


def add_complexity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="preset name (or timm/torchvision name) or YAML spec path (native or pycls format), "
        "optionally followed by pycls-style KEY VALUE overrides (REGNET.DEPTH 20)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per SPEC per line")
    add_overrides(parser, "override a spec key")
    parser.add_argument(
        "--measure", action="store_true", help="also count on the built torch module (fvcore)"
    )


def _measured(record: dict, spec: ModelSpec) -> dict:
    """The record plus fvcore's count of the built module and the difference to the analytic one."""
    from pycls_like.models.measure import measure_complexity

    measured = measure_complexity(spec).as_dict()
    return {
        **record,
        "measured": measured,
        "difference": {k: measured[k] - record[k] for k in measured},
    }


def run_complexity(args: argparse.Namespace) -> int:
    """Every good SPEC is answered in argument order; each bad one is one stderr line, exit 2."""
    if args.measure and importlib.util.find_spec("fvcore") is None:
        raise ConfigError("--measure needs fvcore: pip install 'pycls_like[measure]'")
    specs, trailing = split_trailing_overrides(args.specs)
    if not specs:
        raise ConfigError("expected a SPEC before the KEY VALUE overrides")
    overrides = [*args.overrides, *trailing]
    failed, first = 0, True
    for arg in specs:
        try:
            spec = load_spec(arg, overrides)
            record = complexity_record(arg, spec)
            if args.measure:
                record = _measured(record, spec)
        except ConfigError as err:
            failed += 1
            sys.stdout.flush()  # a terminal shows answers and errors in argument order
            print(f"pycls-like complexity: error: {err}", file=sys.stderr, flush=True)
            continue
        sep = "" if first or args.json else "\n"
        sys.stdout.write(sep + (json.dumps(record) if args.json else _human(record, spec)) + "\n")
        first = False
    return 2 if failed else 0


def add_presets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per preset per line")


def run_presets(args: argparse.Namespace) -> int:
    rows = []
    for name, spec in PRESETS.items():
        cx = complexity(spec)
        if args.json:
            rows.append(
                json.dumps(
                    {
                        "name": name,
                        "family": spec.family,
                        "resolution": spec.resolution,
                        **cx.as_dict(),
                        "aliases": aliases_of(name),
                    }
                )
            )
        else:
            rows.append(
                f"{name:<18} {spec.family:<7} {spec.resolution:>4} px  {cx.flops / 1e9:7.2f} GF"
                f"  {cx.params / 1e6:7.1f} M params  {cx.acts / 1e6:6.1f} M acts"
                f"  {' '.join(aliases_of(name))}".rstrip()
            )
    if not args.json:
        rows.insert(
            0,
            f"{'name':<18} {'family':<7} {'res':>7}  {'flops (multiply-adds)':<53}"
            "timm / torchvision names",
        )
    print("\n".join(rows))
    return 0
