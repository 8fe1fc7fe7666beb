"""`pycls-like demo`: a design-space comparison whose answer the literature knows, in minutes on a CPU.

By default NDS's CIFAR Vanilla and ResNet spaces (same depth and width ranges; plain conv pairs
vs residual basic blocks) are sampled in the same flop band, every model is trained briefly on the
embedded synthetic dataset, and the report says which space is better only when the test says so
(NDS found ResNet better at every complexity). `--spaces A B` compares any two shipped or YAML
spaces. Every step is a resumable sweep: rerunning the same command picks up where it stopped.
"""

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pycls_like.cores import available_cores

SPACES = ("cifar_resnet", "cifar_vanilla")


@dataclass(frozen=True)
class DemoSettings:
    """Population size and training budget (chosen and checked with tools/finding_check.py)."""

    n: int  # models per space
    flops: tuple[float, float]  # flop band at 32 px (multiply-adds)
    n_train: int  # synthetic training images
    n_test: int
    epochs: int
    # SGD + Nesterov, peak lr 0.1 at batch 64 after half an epoch of warmup, cosine to 0: at
    # batch 128 the same images gave half the steps; AdamW (lr 4e-3, wd 0.05) ended at 19-25%
    # where SGD reached 7-8% on the same model (both measured on an earlier version of the data).
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.1
    wd: float = 5e-4
    warmup_epochs: float = 0.5


# At 8-20 MF the sampler's depths (1-24 blocks per stage) put about half the models at 11+
# blocks, where plain stacks stop learning in a short schedule while residual ones still learn.
# On the synthetic data, cifar_resnet's error falls with flops at this budget. One pass over 40k
# fresh images spreads the small models apart more than 4 passes over 10k (the same steps) and
# more than it adds seed noise: Pearson between two training seeds 0.965 vs 0.895 over the same 19
# architectures, though 0.53 vs 0.83 among the 10 largest (tools/finding_check.py; figures in
# pycls_like/data/synthetic.py). ~35 s per model on one idle core: 10 minutes on 2 cores.
FULL = DemoSettings(n=12, flops=(8e6, 20e6), n_train=40000, n_test=2000, epochs=1)
QUICK = DemoSettings(n=6, flops=(8e6, 14e6), n_train=5000, n_test=1000, epochs=3)


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def slot_seed(seed: int, slot: int, stream: int) -> int:
    """Independent seeds per (demo seed, space slot, stream): each space samples and trains with
    its own stream, so a space compared with itself yields two independent populations."""
    return int(np.random.SeedSequence([seed, slot, stream]).generate_state(1)[0] % 2**31)


def slot_names(spaces: tuple[str, str]) -> list[str]:
    """Folder and population names: the space's stem, suffixed -1/-2 when both are the same."""
    stems = [Path(s).stem if s.endswith((".yaml", ".yml")) else s for s in spaces]
    return stems if stems[0] != stems[1] else [f"{stems[0]}-1", f"{stems[1]}-2"]


def default_workers(device: str) -> int | None:
    """On CPU, one single-threaded run per core beats one multi-threaded run (~20% here)."""
    import torch

    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return None  # the launcher puts one run on each GPU
    return available_cores()


def sweep_mapping(
    space: str,
    name: str,
    slot: int,
    out: Path,
    settings: DemoSettings,
    seed: int,
    workers: int | None,
    device: str,
) -> dict[str, Any]:
    """The sweep config of one demo space, exactly what a user would write as YAML.

    One thread per run on CPU whatever `--workers` is: fp32/bf16 results depend on the thread
    count, so pinning it keeps the same seed giving the same errors on any worker count.
    """
    return {
        "name": name,
        "dir": str(out / name),
        "space": space,
        "n": settings.n,
        "seed": slot_seed(seed, slot, 0),
        "constraints": {"flops": list(settings.flops)},
        "base": {
            "data": {
                "dataset": "synthetic",
                "n_train": settings.n_train,
                "n_test": settings.n_test,
            },
            "optim": {
                "optimizer": settings.optimizer,
                "lr": settings.lr,
                "ref_batch_size": settings.batch_size,  # lr is the peak lr as given
                "wd": settings.wd,
                "epochs": settings.epochs,
                "warmup_epochs": settings.warmup_epochs,
            },
            "train": {"batch_size": settings.batch_size},
            "seed": slot_seed(seed, slot, 1),
            "device": device,
        },
        "launcher": {"type": "local", "workers": workers, "threads_per_worker": 1},
    }


def provenance(settings: DemoSettings, seed: int, spaces: tuple[str, str]) -> dict[str, Any]:
    """Where the verdict's numbers come from, for the report's opening lines."""
    lo, hi = settings.flops
    return {
        "spaces": " vs ".join(spaces),
        "dataset": f"synthetic (embedded), {settings.n_train} train / {settings.n_test} test images",
        "resolution": "32 px",
        "training": (
            f"{_epochs(settings.epochs)}, {settings.optimizer} lr {settings.lr:g} wd {settings.wd:g}, "
            f"batch {settings.batch_size}, {settings.warmup_epochs:g} warmup epochs, cosine"
        ),
        "flop band": f"{lo / 1e6:g}-{hi / 1e6:g} MF",
        "seed": seed,
        "models per space": settings.n,
    }


def _describe(pop: dict[str, Any], near: int) -> str:
    best = pop["best"]
    flagged = f", {near} near chance" if near else ""
    return (
        f"{pop['name']}: {pop['n']} models, median top-1 error {pop['median_error']:.1f}%, "
        f"best {best['top1_err']:.1f}% (run {best['id']}, {best['flops'] / 1e6:.1f} MF, "
        f"{best['params'] / 1e6:.2f} M params){flagged}"
    )


def summarize(report: dict[str, Any]) -> list[str]:
    """The lines a user wants after the demo: the verdict, how sure, the best model."""
    near = report.get("near_chance", {})
    lines = [_describe(p, near.get(p["name"], 0)) for p in report["populations"]]
    verdict = report.get("verdict")
    if verdict:
        lines.append(f"verdict: {verdict['sentence']}")
        lines.append(f"test: {verdict['test']}")
    best = min(report["populations"], key=lambda p: p["best"]["top1_err"])
    b = best["best"]
    lines.append(
        f"best model: {best['name']}/{b['id']}: top-1 error {b['top1_err']:.1f}%, "
        f"{b['flops'] / 1e6:.1f} MF, {b['params'] / 1e6:.2f} M params"
    )
    return lines


def demo(
    out: Path,
    settings: DemoSettings,
    workers: int | None,
    device: str,
    quiet: bool,
    *,
    spaces: tuple[str, str] = SPACES,
    seed: int = 0,
) -> list[str]:
    """Sample, train, collect both spaces, write the report; returns the summary lines."""
    from pycls_like.analysis.report import write_report
    from pycls_like.sweep.collect import collect
    from pycls_like.sweep.config import sweep_from_dict
    from pycls_like.sweep.launch import format_summary, launch
    from pycls_like.sweep.setup import setup

    names = slot_names(spaces)
    configs = [
        sweep_from_dict(
            sweep_mapping(space, name, slot, out, settings, seed, workers, device),
            f"demo:{name}",
        )
        for slot, (space, name) in enumerate(zip(spaces, names, strict=True))
    ]
    dirs = {}
    for config in configs:
        setup(config)
        if not quiet:
            print(f"{config.name}: training {settings.n} models ...", flush=True)
        summary = launch(config, quiet=quiet)
        print(f"{config.name}: {format_summary(summary)}", flush=True)
        collect(config.sweep_dir)
        dirs[config.name] = config.sweep_dir
    report = write_report(
        dirs, out / "report.html", seed=seed, provenance=provenance(settings, seed, spaces)
    )
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
        "--spaces",
        nargs=2,
        metavar=("A", "B"),
        default=list(SPACES),
        help="two shipped space names or YAML paths (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds sampling and training (default: 0)"
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
    from pycls_like.errors import ConfigError

    settings = QUICK if args.quick else FULL
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    if args.device == "cuda":  # before any work: not after every run failed on it
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("cuda requested but no GPU is visible", key="--device")
    out = Path(args.out or ("demo_out_quick" if args.quick else "demo_out"))
    try:  # before any work: an output folder that cannot be made is a one-line error
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"cannot use it as the output folder: {err.strerror}", key="--out", source=str(out)
        ) from None
    spaces = (args.spaces[0], args.spaces[1])
    start = time.perf_counter()
    print(
        f"demo: {spaces[0]} vs {spaces[1]}, {settings.n} models each, {settings.flops[0] / 1e6:g}-"
        f"{settings.flops[1] / 1e6:g} MF at 32 px, {_epochs(settings.epochs)} on "
        f"{settings.n_train} synthetic images, seed {args.seed}, {available_cores()} cores -> {out}",
        flush=True,
    )
    workers = args.workers or default_workers(args.device)
    # The exit code `sweep launch` gives, over both spaces (3: runs failed); a space with no
    # finished run has no report, which the one error line says.
    from collections import Counter

    from pycls_like.errors import RunsFailed
    from pycls_like.sweep.launch import sweep_exit_code
    from pycls_like.sweep.status import sweep_status

    def exit_code() -> int:
        runs = (Counter(sweep_status(out / name).counts) for name in slot_names(spaces))
        return sweep_exit_code(sum(runs, Counter()))

    try:
        lines = demo(out, settings, workers, args.device, args.quiet, spaces=spaces, seed=args.seed)
    except ConfigError as err:
        if exit_code() == 0:
            raise
        where = Path(err.source).parent if err.source else out
        msg = f"no report: {err} (`pycls-like sweep status {where}` says why runs failed)"
        raise RunsFailed(msg) from None
    print("\n".join(lines))
    print(f"demo wall time: {time.perf_counter() - start:.0f} s")
    return exit_code()
