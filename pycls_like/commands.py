"""`pycls-like complexity` and `pycls-like presets`: instant, torch-free queries (unless --measure)."""

import argparse
import json
import sys

from pycls_like.cli import add_overrides
from pycls_like.complexity import complexity
from pycls_like.io import load_spec
from pycls_like.plan import stage_summaries
from pycls_like.presets import PRESETS
from pycls_like.specs import ModelSpec


def _si(value: int, unit: str = "") -> str:
    """Flops in M or G, like the papers' tables."""
    return f"{value / 1e9:.2f} G{unit}" if value >= 1e9 else f"{value / 1e6:.1f} M{unit}"


def _record(arg: str, spec: ModelSpec) -> dict:
    cx = complexity(spec)
    stages = [
        {
            "depth": s.depth,
            "width": s.width,
            "stride": s.stride,
            "bot_mul": s.bot_mul,
            "group_width": s.group_width,
        }
        for s in stage_summaries(spec)
    ]
    return {"spec": arg, "flops": cx.flops, "params": cx.params, "acts": cx.acts, "stages": stages}


def _human(record: dict, spec: ModelSpec) -> str:
    head = f"{record['spec']}  ({spec.family}, {spec.resolution} px, {spec.num_classes} classes)"
    lines = [
        head,
        f"  flops {_si(record['flops'])} multiply-adds   params {record['params'] / 1e6:.2f} M"
        f"   acts {record['acts'] / 1e6:.2f} M",
    ]
    if record["stages"]:
        lines.append("  stage  depth  width  stride  bot_mul  group_w")
        for i, s in enumerate(record["stages"], 1):
            bot = "-" if s["bot_mul"] is None else f"{s['bot_mul']:g}"
            grp = "-" if s["group_width"] is None else str(s["group_width"])
            lines.append(
                f"  {i:<5}  {s['depth']:<5}  {s['width']:<5}  {s['stride']:<6}  {bot:<7}  {grp}"
            )
    else:
        lines.append(
            f"  depth {spec.depth}  heads {spec.heads}  d {spec.d}  mlp {spec.mlp_d}  stem {spec.stem_type}"
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
        help="preset name or YAML spec path (native or pycls format)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per SPEC per line")
    add_overrides(parser, "override a spec key")
    parser.add_argument(
        "--measure", action="store_true", help="also count on the built torch module (fvcore)"
    )


def run_complexity(args: argparse.Namespace) -> int:
    out = []
    for arg in args.specs:
        spec = load_spec(arg, args.overrides)
        record = _record(arg, spec)
        if args.measure:
            from pycls_like.models.measure import measure_complexity

            measured = measure_complexity(spec).as_dict()
            record["measured"] = measured
            record["difference"] = {k: measured[k] - record[k] for k in measured}
        out.append(json.dumps(record) if args.json else _human(record, spec))
    sys.stdout.write(("\n" if args.json else "\n\n").join(out) + "\n")
    return 0


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
                    }
                )
            )
        else:
            rows.append(
                f"{name:<18} {spec.family:<7} {spec.resolution:>4} px  {cx.flops / 1e9:7.2f} GF"
                f"  {cx.params / 1e6:7.1f} M params  {cx.acts / 1e6:6.1f} M acts"
            )
    if not args.json:
        rows.insert(0, f"{'name':<18} {'family':<7} {'res':>7}  {'flops (multiply-adds)':>10}")
    print("\n".join(rows))
    return 0
