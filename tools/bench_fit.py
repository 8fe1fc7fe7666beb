"""Benchmark the quantized-linear fit: sequences/s on random RegNets (exact pass) and on arbitrary
width sequences (global search: sorted AnyNet stages, unsorted blocks, noisy RegNets).

The RegNet population follows the design space of Designing Network Design Spaces (sec. 3.3:
d < 64, w0 <= 256, 0 < wa <= 256, 1.5 <= wm <= 3); the arbitrary ones are generated as in
tools/make_qlinear_golden.py (the golden reference test's sequences). Each population is fitted
by one batched `fit_quantized_linear_many` call, as `analyze` and `sweep collect` fit a table's
runs; the rate is that call's sequences per second. The global search of large batches runs in one
process per available core (`qlinear_search.workers`, printed); the CPU rate counts this process's
time only, so with workers it is not a rate per core.

Usage: python tools/bench_fit.py [--n 10000] [--arbitrary 1000] [--seed 0] [--repeat 3]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from pycls_like.analysis.qlinear import fit_quantized_linear_many
from pycls_like.analysis.qlinear_search import workers
from pycls_like.regnet import regnet_block_widths

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_qlinear_golden import random_sequences  # noqa: E402


def random_regnets(n: int, rng: np.random.Generator) -> list[list[int]]:
    """Per-block widths of n random RegNets (log-uniform wa and wm, as in pycls's sampler)."""
    d = rng.integers(6, 64, n)
    w0 = 8 * rng.integers(1, 33, n)
    wa = np.exp(rng.uniform(np.log(1), np.log(256), n))
    wm = np.exp(rng.uniform(np.log(1.5), np.log(3), n))
    return [
        regnet_block_widths(int(a), int(b), float(c), float(e))
        for a, b, c, e in zip(d, w0, wa, wm, strict=True)
    ]


def bench(label: str, seqs: list[list[int]], repeat: int = 1) -> float:
    """Fit `seqs` `repeat` times; print min / median of the wall and CPU rates (the machine is
    shared: the CPU time of this process is the steadier figure). Returns the best wall rate."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fits = fit_quantized_linear_many(seqs)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    exact = np.mean([f.exact for f in fits])
    searched = sum(not f.exact for f in fits)
    efit = np.array([f.e_fit for f in fits])
    wall, cpu = len(seqs) / np.array(walls), len(seqs) / np.array(cpus)
    print(
        f"{label}: {len(seqs)} sequences x {repeat}: wall {wall.max():,.0f} / "
        f"{np.median(wall):,.0f} sequences/s (best / median), CPU {cpu.max():,.0f} / "
        f"{np.median(cpu):,.0f}/s; exact {exact:.2%}; e_fit mean {efit.mean():.4f}, "
        f"max {efit.max():.4f}; search of {searched} in {workers(searched)} process(es)"
    )
    return float(wall.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="random RegNet width sequences")
    parser.add_argument(
        "--arbitrary",
        "--perturbed",
        type=int,
        default=1_000,
        help="arbitrary sequences per kind (0: skip)",
    )
    parser.add_argument("--d-max", type=int, default=16, help="max depth of arbitrary sequences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="fits of each population")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    bench("random RegNets", random_regnets(args.n, rng), args.repeat)
    if args.arbitrary:
        for kind in ("sorted", "unsorted", "noisy_regnet"):
            seqs = random_sequences(kind, args.arbitrary, rng, args.d_max)
            bench(f"arbitrary: {kind}", seqs, args.repeat)


if __name__ == "__main__":
    main()
