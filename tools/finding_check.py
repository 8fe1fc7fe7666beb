"""Does architecture matter on the embedded task at the demo's budget? Prints the issue's figures.

Trains `--n` models of `cifar_resnet` spread over a flop band at least 10x wide (stratified over
log flops) with the default demo's recipe (pycls_like.demo.FULL: data, epochs, optimizer), one
thread per run, `--workers` runs at a time, then retrains `--n-seed` of them (all by default,
else spread evenly over the flop order) with a second training seed. Prints Spearman(flops, error), the Pearson correlation of the two seeds'
errors, the median error (chance: 90%) and the runs near chance.

A recipe's data and epochs can be overridden (`--n-train`, `--epochs`) to compare splits of the
same steps; the seed agreement is also given as Spearman, with a bootstrap interval (architectures
resampled) and without the smallest model, since one far-off model can carry a Pearson r.

    python tools/finding_check.py [--n 20] [--n-seed N] [--flops 5M:70M] [--workers 2]
        [--n-train N --epochs E] [--json F] [--reuse F]
"""

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
from scipy import stats

from pycls_like.cores import available_cores
from pycls_like.demo import FULL, QUICK, DemoSettings
from pycls_like.design import load_space
from pycls_like.specs import spec_to_dict

SAMPLE_SEED = 10  # not a demo seed (the demo's verdict is checked on seeds 0-4)
TRAIN_SEEDS = (10, 11)


def run_config(spec: dict, settings: DemoSettings, seed: int) -> dict:
    """The demo's base run config (pycls_like.demo.sweep_mapping) for one model."""
    return {
        "model": spec,
        "data": {"dataset": "synthetic", "n_train": settings.n_train, "n_test": settings.n_test},
        "optim": {
            "optimizer": settings.optimizer,
            "lr": settings.lr,
            "ref_batch_size": settings.batch_size,
            "wd": settings.wd,
            "epochs": settings.epochs,
            "warmup_epochs": settings.warmup_epochs,
        },
        "train": {"batch_size": settings.batch_size},
        "seed": seed,
        "device": "cpu",
        "threads": 1,
    }


def train_one(job: tuple[int, int, dict]) -> dict:
    from pycls_like.engine.config import run_config_from_dict
    from pycls_like.engine.trainer import train

    index, seed, config = job
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = train(run_config_from_dict(config), out)
    return {
        "index": index,
        "seed": seed,
        "n_train": config["data"]["n_train"],
        "epochs": config["optim"]["epochs"],
        "flops": result["flops"],
        "top1_err": result["top1_err"],
        "near_chance": result["near_chance"],
        "wall_s": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="cifar_resnet")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--n-seed", type=int, help="models retrained with a second seed (all)")
    parser.add_argument("--flops", default="5M:70M")
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--quick", action="store_true", help="the --quick demo's budget")
    parser.add_argument("--n-train", type=int, help="training images (the demo's)")
    parser.add_argument("--epochs", type=int, help="epochs (the demo's)")
    parser.add_argument("--json", help="also write every run's figures to this file")
    parser.add_argument(
        "--reuse", help="a --json file of an earlier check: its runs are not retrained"
    )
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    settings = replace(
        settings,
        n_train=args.n_train or settings.n_train,
        epochs=args.epochs or settings.epochs,
    )
    space = load_space(args.space, bands={"flops": args.flops})
    # Equal counts per log-flop bin; the lowest bin is a sliver of the space: a large budget.
    samples = space.sample(args.n, SAMPLE_SEED, stratify=5, max_candidates=50_000_000)
    # A population may draw one architecture twice (the smallest bins hold few): its runs are
    # the same training twice, so the seed comparison counts each architecture once.
    first_of = {}
    for i, s in enumerate(samples):
        first_of.setdefault(json.dumps(spec_to_dict(s.spec), sort_keys=True), i)
    distinct = set(first_of.values())
    n_seed = args.n if args.n_seed is None else args.n_seed
    # The retrained models are spread evenly over the flop order (all of them by default).
    by_flops = sorted(range(args.n), key=lambda i: samples[i].complexity.flops)
    retrained = {by_flops[round(k * (args.n - 1) / max(n_seed - 1, 1))] for k in range(n_seed)}
    jobs = [
        (i, seed, run_config(spec_to_dict(s.spec), settings, seed))
        for seed, chosen in ((TRAIN_SEEDS[0], range(args.n)), (TRAIN_SEEDS[1], sorted(retrained)))
        for i, s in enumerate(samples)
        if i in chosen
    ]
    # Training is deterministic per seed on one machine (one thread, recorded precision): runs
    # already in a --reuse file (same model, seed, flops and recipe) are read, not retrained.
    known = {}
    if args.reuse:
        with open(args.reuse) as f:
            known = {
                (r["index"], r["seed"], r["flops"]): r
                for r in json.load(f)
                if (r.get("n_train"), r.get("epochs")) == (settings.n_train, settings.epochs)
            }
    todo = [j for j in jobs if (j[0], j[1], samples[j[0]].complexity.flops) not in known]
    print(
        f"{args.space}: {args.n} models ({len(distinct)} distinct) at {args.flops} flops "
        f"(+{len(retrained)} retrained), {settings.epochs} epochs x {settings.n_train} images, "
        f"{settings.optimizer} lr {settings.lr}, {args.workers} workers x 1 thread; "
        f"{len(jobs) - len(todo)} runs reused",
        flush=True,
    )
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        trained = {(r["index"], r["seed"]): r for r in pool.map(train_one, todo)}
    runs = [
        trained.get((i, seed)) or known[(i, seed, samples[i].complexity.flops)]
        for i, seed, _ in jobs
    ]
    wall = time.perf_counter() - start
    first = [r for r in runs if r["seed"] == TRAIN_SEEDS[0]]
    second = {r["index"]: r["top1_err"] for r in runs if r["seed"] == TRAIN_SEEDS[1]}
    flops = np.array([r["flops"] for r in first])
    errs = np.array([r["top1_err"] for r in first])
    print(f"{'model':>5s} {'MF':>6s} {'err seed A':>10s} {'err seed B':>10s}")
    for r in sorted(first, key=lambda r: r["flops"]):
        other = second.get(r["index"])
        print(
            f"{r['index']:5d} {r['flops'] / 1e6:6.1f} {r['top1_err']:10.2f} "
            f"{'' if other is None else f'{other:10.2f}'}"
        )
    rho, p_rho = stats.spearmanr(flops, errs)
    paired = [
        (e, second[r["index"]])
        for r, e in zip(first, errs, strict=True)
        if r["index"] in second and r["index"] in distinct
    ]
    a, b = np.array(paired).T
    r_seed, _ = stats.pearsonr(a, b)
    print(
        f"flop range {flops.min() / 1e6:.1f}-{flops.max() / 1e6:.1f} MF "
        f"({flops.max() / flops.min():.1f}x); Spearman(flops, error) = {rho:.3f} (p = {p_rho:.2g})"
    )
    print(
        f"two training seeds over {len(a)} distinct architectures: Pearson r = {r_seed:.3f}, "
        f"mean |difference| {np.mean(np.abs(a - b)):.2f} points, max {np.max(np.abs(a - b)):.2f}"
    )
    boot = stats.bootstrap(
        (a, b),
        lambda x, y: stats.pearsonr(x, y)[0],
        paired=True,
        vectorized=False,
        n_resamples=2000,
        rng=np.random.default_rng(0),
    ).confidence_interval
    paired_flops = np.array(
        [r["flops"] for r in first if r["index"] in second and r["index"] in distinct]
    )
    smallest = np.argmin(paired_flops)
    print(
        f"  Pearson 95% bootstrap interval {boot.low:.2f}-{boot.high:.2f}; Spearman "
        f"{stats.spearmanr(a, b)[0]:.3f}; Pearson without the smallest model "
        f"{stats.pearsonr(np.delete(a, smallest), np.delete(b, smallest))[0]:.3f}"
    )
    upper = paired_flops >= np.median(flops)
    if upper.sum() >= 3:
        r_upper, _ = stats.pearsonr(a[upper], b[upper])
        print(
            f"  of which the {upper.sum()} at or above the median flops: Pearson r = {r_upper:.3f}"
        )
    near = sum(r["near_chance"] for r in runs)
    print(
        f"median error {np.median(errs):.1f}% (chance 90%); near chance: {near} of {len(runs)} runs; "
        f"wall {wall:.0f} s for {len(runs)} runs"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
