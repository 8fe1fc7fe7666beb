"""Benchmark `analyze` (statistics + HTML report) on two synthetic populations of n runs each.

Each population is a RegNet-like sweep table as `sweep collect` writes it (sampled d, w0, wa, wm,
g; flops/params/acts; top-1 error depending on flops; block widths and e_fit stored at collect
time). Prints, per size, the min and median wall time over --repeat runs, the same for the CPU
time of this process (what the wall time is on an idle machine: on a shared one the wall time
grows with the other processes' load), and the HTML size.

Usage: python tools/bench_analysis.py [--sizes 100,1000,10000] [--repeat 3]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pycls_like.analysis.qlinear import e_fit_column
from pycls_like.analysis.report import write_report
from pycls_like.regnet import regnet_block_widths


def population(n: int, shift: float, rng: np.random.Generator) -> pd.DataFrame:
    """n complete runs of a RegNet-like space; `shift` moves the error distribution."""
    d = rng.integers(6, 25, n)
    w0 = 8 * rng.integers(2, 13, n)
    wa = np.round(np.exp(rng.uniform(np.log(8), np.log(64), n)), 2)
    wm = np.round(np.exp(rng.uniform(np.log(1.5), np.log(3), n)), 3)
    g = rng.choice([1, 2, 4, 8, 16], n)
    flops = np.exp(rng.uniform(np.log(200e6), np.log(800e6), n)).astype(int)
    err = 40 - 3 * np.log(flops / 200e6) + shift + rng.normal(0, 2, n)
    widths = [
        regnet_block_widths(int(a), int(b), float(c), float(e))
        for a, b, c, e in zip(d, w0, wa, wm, strict=True)
    ]
    cells = [str(w).replace(" ", "") for w in widths]
    return pd.DataFrame(
        {
            "id": [f"{i:05d}" for i in range(n)],
            "status": "complete",
            "d": d,
            "w0": w0,
            "wa": wa,
            "wm": wm,
            "g": g,
            "flops": flops,
            "params": (flops / 60).astype(int),
            "acts": (flops / 120).astype(int),
            "top1_err": np.round(err, 2),
            "block_widths": cells,
            "e_fit": e_fit_column(cells),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="runs per population")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="copy the largest report's HTML here")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"{'runs':>12}  {'wall min (s)':>12}  {'wall median':>11}  {'CPU min (s)':>11}  "
        f"{'CPU median':>10}  {'HTML (MB)':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            tables = {"space_a": population(n, 0.0, rng), "space_b": population(n, 1.0, rng)}
            paths = {}
            for name, table in tables.items():  # analyze reads files, as the CLI does
                paths[name] = Path(tmp) / f"{name}_{n}.csv"
                table.to_csv(paths[name], index=False)
            out = Path(tmp) / f"report_{n}.html"
            wall, cpu = [], []
            for _ in range(args.repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                write_report(paths, out)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            size = out.stat().st_size / 1e6
            print(
                f"{'2 x ' + format(n, ','):>12}  {min(wall):12.2f}  {statistics.median(wall):11.2f}  "
                f"{min(cpu):11.2f}  {statistics.median(cpu):10.2f}  {size:9.2f}"
            )
            if args.keep:
                args.keep.write_bytes(out.read_bytes())


if __name__ == "__main__":
    main()
