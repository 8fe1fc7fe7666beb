"""Which test has the power a small population needs? Measured on two real populations.

For each n, draws n models with replacement from each population's table (a sweep dir or its
results.csv) and counts how often each test rejects at alpha = 0.05: the verdict's tests
(permutation test of mean error with 999 relabelings, Mann-Whitney U), KS on raw EDFs, and KS on
complexity-normalized EDFs (bins by `verdict.bins_for`). The same draws from one population against itself measure the
false-positive rate. Post hoc: the observed populations stand in for the truth.

    python tools/verdict_power.py demo_out/cifar_resnet demo_out/cifar_vanilla [--n 6,12,24]
"""

import argparse

import numpy as np
from scipy import stats

from pycls_like.analysis import edf as E
from pycls_like.analysis.table import load_population
from pycls_like.analysis.verdict import ALPHA, bins_for


def rejections(a, b, fa, fb, rng, n: int, draws: int) -> dict[str, float]:
    """Rejection rates of each test over `draws` resamples of n models per population."""
    hits = {"mean-permutation": 0, "mann-whitney": 0, "ks": 0, "ks normalized": 0}
    bins = bins_for(n)
    for _ in range(draws):
        ia, ib = rng.integers(0, len(a), n), rng.integers(0, len(b), n)
        ea, eb = a[ia], b[ib]
        perm = stats.permutation_test(
            (ea, eb), lambda x, y, axis: x.mean(axis) - y.mean(axis), n_resamples=999,
            vectorized=True, rng=rng,
        )  # fmt: skip
        hits["mean-permutation"] += perm.pvalue < ALPHA
        hits["mann-whitney"] += stats.mannwhitneyu(ea, eb).pvalue < ALPHA
        hits["ks"] += stats.ks_2samp(ea, eb).pvalue < ALPHA
        try:
            wa, wb = E.normalization_weights([fa[ia], fb[ib]], bins=bins)
            p = E.ks_test(E.edf(ea, wa), E.edf(eb, wb)).pvalue
            hits["ks normalized"] += bool(p < ALPHA)
        except ValueError:
            pass  # no shared complexity bin: the normalized test cannot reject
    return {k: v / draws for k, v in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--n", default="6,12,24,48")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--error", default="top1_err")
    args = parser.parse_args()
    pops = [load_population(src, None) for src in (args.a, args.b)]
    rows = [p.rows(args.error) for p in pops]
    a, b = (r[args.error].to_numpy(float) for r in rows)
    fa, fb = (r["flops"].to_numpy(float) for r in rows)
    print(
        f"{pops[0].name}: {len(a)} models, median {np.median(a):.1f}; "
        f"{pops[1].name}: {len(b)} models, median {np.median(b):.1f}"
    )
    print(f"{'n':>4s} {'test':>14s} {'power (A vs B)':>15s} {'false pos. (A vs A)':>20s}")
    rng = np.random.default_rng(0)
    for n in (int(x) for x in args.n.split(",")):
        power = rejections(a, b, fa, fb, rng, n, args.draws)
        null = rejections(a, a, fa, fa, rng, n, args.draws)
        for test in power:
            print(f"{n:4d} {test:>14s} {power[test]:15.3f} {null[test]:20.3f}")


if __name__ == "__main__":
    main()
