"""Benchmark the quantized-linear fit: sequences/s on random RegNets and the fraction recovered exactly.

The population follows the RegNet design space of Designing Network Design Spaces (sec. 3.3:
d < 64, w0 <= 256, 0 < wa <= 256, 1.5 <= wm <= 3); a second, smaller population of perturbed
widths exercises the grid-search path (no RegNet reproduces them).

Usage: python tools/bench_fit.py [--n 10000] [--perturbed 1000] [--seed 0]
"""

import argparse
import time

import numpy as np

from pycls_like.analysis.qlinear import fit_quantized_linear_many
from pycls_like.regnet import regnet_block_widths


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


def bench(label: str, seqs: list[list[int]]) -> None:
    start = time.perf_counter()
    fits = fit_quantized_linear_many(seqs)
    elapsed = time.perf_counter() - start
    exact = np.mean([f.exact for f in fits])
    efit = np.array([f.e_fit for f in fits])
    print(
        f"{label}: {len(seqs)} sequences in {elapsed:.2f} s = {len(seqs) / elapsed:,.0f} sequences/s; "
        f"exact {exact:.2%}; e_fit mean {efit.mean():.4f}, max {efit.max():.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="random RegNet width sequences")
    parser.add_argument(
        "--perturbed", type=int, default=1_000, help="perturbed sequences (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    bench("random RegNets", random_regnets(args.n, rng))
    if args.perturbed:
        noisy = [
            [
                max(8, int(round(w * f / 8)) * 8)
                for w, f in zip(s, rng.uniform(0.9, 1.1, len(s)), strict=True)
            ]
            for s in random_regnets(args.perturbed, rng)
        ]
        bench("perturbed (x U[0.9, 1.1] per block)", noisy)


if __name__ == "__main__":
    main()
