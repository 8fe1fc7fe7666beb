"""Calibration of the complexity-normalized KS p-values under the null: rejection rate at a
nominal 5% over simulated pairs of populations whose error depends on flops the same way.

Two p-values per pair: the permutation test (`edf.ks_permutation_test`, labels permuted within
complexity bins) and the Kolmogorov approximation at Kish's effective n (`edf.ks_test` on
weighted EDFs). Scenario "same": both spaces sample flops from one distribution; "shifted": the
second samples a band shifted by 1.5x (the errors still follow the same error-vs-flops law, so
the normalized comparison's null holds up to the within-bin slope).

Usage: python tools/calibrate_permutation.py [--pairs 2000] [--n 50] [--perm 199] [--bins 5]
"""

import argparse
import time

import numpy as np

from pycls_like.analysis import edf as E


def simulate(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """n models: flops log-uniform in [200, 800] MF (times shift), error = 60 - 4 log(flops) + noise."""
    flops = np.exp(rng.uniform(np.log(200e6), np.log(800e6), n)) * shift
    return 60 - 4 * np.log(flops / 1e6) + rng.normal(0, 1.5, n), flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--n", type=int, default=50, help="models per population")
    parser.add_argument("--perm", type=int, default=199, help="permutations per pair")
    parser.add_argument("--bins", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for scenario, shift in (("same", 1.0), ("shifted", 1.5)):
        start = time.perf_counter()
        rejected = {"permutation": 0, "weighted-kolmogorov": 0}
        for _ in range(args.pairs):
            (ea, fa), (eb, fb) = simulate(rng, args.n, 1.0), simulate(rng, args.n, shift)
            perm = E.ks_permutation_test([ea, eb], [fa, fb], args.bins, args.perm, rng)
            wa, wb = E.normalization_weights([fa, fb], bins=args.bins)
            approx = E.ks_test(E.edf(ea, wa), E.edf(eb, wb))
            rejected["permutation"] += perm.pvalue <= args.alpha
            rejected["weighted-kolmogorov"] += approx.pvalue <= args.alpha
        se = np.sqrt(args.alpha * (1 - args.alpha) / args.pairs)
        rates = ", ".join(f"{k} {v / args.pairs:.2%}" for k, v in rejected.items())
        print(
            f"{scenario:8s} {args.pairs} pairs of {args.n} models, {args.bins} bins, "
            f"{args.perm} permutations: rejection at {args.alpha:.0%}: {rates} "
            f"(binomial s.e. {se:.2%}; {time.perf_counter() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()
