"""Benchmark the population sampler on one core.

1. Accepted RegNetX specs per second in the 360-400 MF band at 224 px (`pycls_like/design_spaces/regnetx.yaml`:
   the pycls sweep ranges, 4 stages, full stages). The target is >= 10,000/s.
2. The acceptance rate of every shipped space under its default constraints.

Usage: python tools/bench_sample.py [-n 50000] [--per-space 500] [--repeats 3]
Rates use process CPU time (robust on a shared machine); wall-clock rates are shown alongside.
"""

import os

# One core: single-threaded BLAS/OpenMP pools, set before numpy is imported (the sampler itself
# is single-threaded Python + numpy).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

from pycls_like.design import list_spaces, load_space  # noqa: E402

TARGET = 10_000


def timed_draw(name: str, n: int, seed: int):
    space = load_space(name)
    wall, cpu = time.perf_counter(), time.process_time()
    population = space.draw(n, seed)
    return population, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50_000, help="RegNetX models per timed run")
    parser.add_argument("--per-space", type=int, default=500, help="models per shipped space")
    parser.add_argument("--repeats", type=int, default=3, help="timed RegNetX runs (best is kept)")
    args = parser.parse_args()

    timed_draw("regnetx", 100, seed=999)  # warm-up: imports, caches
    runs = [timed_draw("regnetx", args.n, seed) for seed in range(args.repeats)]
    population, wall, cpu = min(runs, key=lambda r: r[2])
    rate_cpu, rate_wall = args.n / cpu, args.n / wall
    print(f"RegNetX 360-400 MF at 224 px (regnetx.yaml), {args.n} models, best of {args.repeats}:")
    print(
        f"  {rate_cpu:,.0f} accepted specs/s (CPU time {cpu:.2f} s), {rate_wall:,.0f}/s wall "
        f"({wall:.2f} s); {population.candidates:,} candidates, "
        f"{population.candidates / cpu:,.0f} candidates/s, acceptance {population.acceptance_rate:.3%}"
    )
    print(f"  target >= {TARGET:,}/s: {'PASS' if rate_cpu >= TARGET else 'FAIL'}\n")

    print(
        f"{'space':<17} {'family':<7} {'models':>7} {'candidates':>11} {'acceptance':>10} {'models/s':>9}"
    )
    for name, family, _ in list_spaces():
        population, _, cpu = timed_draw(name, args.per_space, seed=0)
        print(
            f"{name:<17} {family:<7} {len(population.samples):>7} {population.candidates:>11,} "
            f"{population.acceptance_rate:>10.3%} {len(population.samples) / cpu:>9,.0f}"
        )


if __name__ == "__main__":
    main()
