"""Run every benchmark in tools/ and print one summary table (the README's Results section).

Each benchmark runs as its own process, in sequence, so they do not disturb each other; their
full outputs are printed first. `--demo` also times `pycls-like demo --quick` and the default demo
(about 10 more minutes on 2 cores).

Usage: python tools/bench_all.py [--demo]
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent

# (title, command, [(figure, regex with one group, unit)])
BENCHMARKS = [
    (
        "complexity",
        [sys.executable, str(TOOLS / "bench_complexity.py")],
        [
            (
                "complexity --json on 500 YAML files",
                r"specs/s, including interpreter start\s+(\d+)",
                "specs/s",
            ),
            (
                "single complexity query, wall",
                r"single query wall incl\. interpreter start \(s\)\s+([\d.]+)",
                "s",
            ),
        ],
    ),
    (
        "sampling",
        [sys.executable, str(TOOLS / "bench_sample.py"), "--per-space", "200"],
        [
            ("accepted RegNetX specs, 360-400 MF, 1 core", r"([\d,]+) accepted specs/s", "specs/s"),
            ("RegNetX acceptance rate", r"acceptance ([\d.]+%)", ""),
        ],
    ),
    (
        "quantized-linear fits",
        [sys.executable, str(TOOLS / "bench_fit.py"), "--perturbed", "200"],
        [
            (
                "fit-regnet on random RegNet widths",
                r"random RegNets.*?([\d,]+(?:\.\d+)?) seq(?:uence)?s?/s",
                "seq/s",
            )
        ],
    ),
    (
        "training overhead",
        [sys.executable, str(TOOLS / "bench_train.py"), "--rounds", "10"],
        [
            ("bare training loop", r"bare loop\s+([\d.]+) img/s best", "img/s"),
            ("engine training loop", r"engine loop\s+([\d.]+) img/s best", "img/s"),
            ("engine overhead vs bare loop", r"overhead\s+([+-][\d.]+%)\s+best", ""),
        ],
    ),
]


def run(title: str, cmd: list[str]) -> tuple[str, float]:
    print(
        f"== {title}: {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}",
        flush=True,
    )
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(proc.stdout.rstrip(), flush=True)
    if proc.returncode:
        print(proc.stderr.rstrip(), file=sys.stderr)
    return proc.stdout, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo", action="store_true", help="also time the demo (default and --quick)"
    )
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    for title, cmd, figures in BENCHMARKS:
        out, _ = run(title, cmd)
        for label, pattern, unit in figures:
            match = re.search(pattern, out, re.S)
            rows.append((label, f"{match.group(1)} {unit}".strip() if match else "n/a"))
    if args.demo:
        with tempfile.TemporaryDirectory() as tmp:
            for flag in ("--quick", None):
                cmd = [
                    sys.executable,
                    "-m",
                    "pycls_like.cli",
                    "demo",
                    "-q",
                    "--out",
                    f"{tmp}/{flag or 'full'}",
                ]
                _, wall = run(f"demo {flag or '(default)'}", cmd + ([flag] if flag else []))
                rows.append((f"pycls-like demo {flag or ''}".strip() + ", wall", f"{wall:.0f} s"))
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    width = max(len(label) for label, _ in rows)
    print(f"{'benchmark':<{width}}  result")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
