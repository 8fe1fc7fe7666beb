"""`pycls-like demo`: the whole workflow on the embedded synthetic dataset, in minutes on a CPU.

Two CIFAR-scale design spaces in the same flop band (an AnyNetX_E-style space and a RegNetX-style
space) are sampled, every model is trained briefly, both sweeps are collected, and the analysis
report compares their error EDFs. Every step is a resumable sweep: rerunning the same command
picks up where an interrupted demo stopped.
"""

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

SPACES = ("cifar_anynetx", "cifar_regnetx")


@dataclass(frozen=True)
class DemoSettings:
    """Population size and training budget. AdamW at a high lr learns the synthetic task in a few
    thousand images, so even minute-long trainings spread models apart (errors ~40-80%)."""

    n: int  # models per space
    flops: tuple[float, float]  # flop band at 32 px (multiply-adds)
    n_train: int  # synthetic training images
    n_test: int
    epochs: int
    batch_size: int = 64
    lr: float = 0.016  # at batch 64: 0.008 after the linear batch-size scaling from 128
    wd: float = 0.05


# ~15 s of CPU per model at 4-12 MF: the full demo fits 10 minutes on 2 cores, --quick 2 minutes.
FULL = DemoSettings(n=10, flops=(4e6, 12e6), n_train=4000, n_test=1000, epochs=3)
QUICK = DemoSettings(n=6, flops=(3e6, 8e6), n_train=3000, n_test=500, epochs=2)


def default_workers(device: str) -> int | None:
    """On CPU, one single-threaded run per core beats one multi-threaded run (~20% here)."""
    import torch

    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return None  # the launcher puts one run on each GPU
    return max(1, os.cpu_count() or 1)


def sweep_mapping(
    space: str, out: Path, settings: DemoSettings, workers: int | None, device: str
) -> dict:
    """The sweep config of one demo space (what a user would write as YAML)."""
    return {
        "name": space,
        "dir": str(out / space),
        "space": space,
        "n": settings.n,
        "seed": 0,
        "constraints": {"flops": list(settings.flops)},
        "base": {
            "data": {
                "dataset": "synthetic",
                "n_train": settings.n_train,
                "n_test": settings.n_test,
            },
            "optim": {
                "optimizer": "adamw",
                "lr": settings.lr,
                "wd": settings.wd,
                "epochs": settings.epochs,
            },
            "train": {"batch_size": settings.batch_size},
            "device": device,
        },
        "launcher": {"type": "local", "workers": workers},
    }


def _describe(pop: dict) -> str:
    best = pop["best"]
    return (
        f"{pop['name']}: {pop['n']} models, median top-1 error {pop['median_error']:.1f}%, "
        f"best {best['top1_err']:.1f}% (run {best['id']}, {best['flops'] / 1e6:.1f} MF, "
        f"{best['params'] / 1e6:.2f} M params)"
    )


def _p(pvalue: float | None) -> str:
    """p-values are null in report.json when undefined (too few effective models)."""
    return "n/a" if pvalue is None else f"{pvalue:.3g}"


def summarize(report: dict) -> list[str]:
    """The few lines a user wants after the demo: which space wins, how sure, the best model."""
    pops = sorted(report["populations"], key=lambda p: p["median_error"])
    lines = [_describe(p) for p in report["populations"]]
    better, worse = pops[0], pops[-1]
    ks = {(k["a"], k["b"]): k for k in report["ks"]}
    norm = {(k["a"], k["b"]): k for k in report["ks_normalized"]}
    pair = (report["populations"][0]["name"], report["populations"][1]["name"])
    raw, normalized = ks.get(pair), norm.get(pair)
    verdict = f"better space: {better['name']} (median error {better['median_error']:.1f}% vs {worse['median_error']:.1f}%)"
    if raw:
        verdict += f"; KS D={raw['statistic']:.2f}, p={_p(raw['pvalue'])}"
    if normalized:
        verdict += f" (complexity-normalized p={_p(normalized['pvalue'])})"
    lines.append(verdict)
    best = min(pops, key=lambda p: p["best"]["top1_err"])
    b = best["best"]
    lines.append(
        f"best model: {best['name']}/{b['id']}: top-1 error {b['top1_err']:.1f}%, "
        f"{b['flops'] / 1e6:.1f} MF, {b['params'] / 1e6:.2f} M params"
    )
    return lines


def demo(
    out: Path, settings: DemoSettings, workers: int | None, device: str, quiet: bool
) -> list[str]:
    """Sample, train, collect both spaces, write the report; returns the summary lines."""
    from pycls_like.analysis.report import write_report
    from pycls_like.sweep.collect import collect
    from pycls_like.sweep.config import sweep_from_dict
    from pycls_like.sweep.launch import format_summary, launch
    from pycls_like.sweep.setup import setup

    dirs = {}
    for space in SPACES:
        config = sweep_from_dict(
            sweep_mapping(space, out, settings, workers, device), f"demo:{space}"
        )
        setup(config)
        summary = launch(config, quiet=quiet)
        print(f"{space}: {format_summary(summary)}", flush=True)
        collect(config.sweep_dir)
        dirs[space] = config.sweep_dir
    # About 3+ models per log-flops bin, so the normalized EDFs keep some effective sample size.
    bins = min(10, max(2, settings.n // 3))
    report = write_report(dirs, out / "report.html", bins=bins)
    return [*summarize(report), f"report: {out / 'report.html'}"]


def add_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default=None,
        help="output folder (default demo_out, or demo_out_quick with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smaller population and budget (about 2 minutes)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel runs (default: one per GPU, else one per core)",
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-run progress")


def run_demo(args: argparse.Namespace) -> int:
    settings = QUICK if args.quick else FULL
    out = Path(args.out or ("demo_out_quick" if args.quick else "demo_out"))
    start = time.perf_counter()
    print(
        f"demo: {len(SPACES)} design spaces x {settings.n} models, {settings.flops[0] / 1e6:g}-"
        f"{settings.flops[1] / 1e6:g} MF at 32 px, {settings.epochs} epoch(s) on {settings.n_train} "
        f"synthetic images, {os.cpu_count()} cores -> {out}",
        flush=True,
    )
    workers = args.workers or default_workers(args.device)
    lines = demo(out, settings, workers, args.device, args.quiet)
    print("\n".join(lines))
    print(f"demo wall time: {time.perf_counter() - start:.0f} s")
    return 0
