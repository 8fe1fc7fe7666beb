"""`train(run_config, out_dir)`: one short training run that writes and resumes its run directory.

    OUT/metrics.jsonl  one line per epoch: losses, train/test top-1/top-5 errors (%), lr, timing
    OUT/checkpoint.pt  after every epoch: weights, optimizer, EMA, RNG states, metrics so far
    OUT/result.json    when finished: status complete | diverged | failed, final and best errors,
                       complexity, throughput, device, and the resolved config
    OUT/error.txt      traceback of a failed run

A diverged run (non-finite loss) is a result with errors of 100%, not an exception. Calling
`train` again on the same directory resumes from the last checkpoint (bit-identical on CPU) or
returns the finished result. Data order and augmentation depend only on (seed, epoch), and the
global RNG (dropout, drop-connect) is checkpointed, so resuming replays the same run.
"""

import contextlib
import itertools
import logging
import math
import resource
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from pycls_like.complexity import Complexity, complexity
from pycls_like.cores import available_cores
from pycls_like.data.base import Batch
from pycls_like.data.cache import cached_data
from pycls_like.engine import checkpoint as ckpt
from pycls_like.engine.config import RunConfig
from pycls_like.engine.distributed import SINGLE, Rank, train_ranks
from pycls_like.engine.optim import EMA, build_optimizer, lr_at
from pycls_like.errors import ConfigError
from pycls_like.results import near_chance
from pycls_like.rundir import recorded_complexity
from pycls_like.specs import spec_from_dict, spec_to_dict

log = logging.getLogger("pycls_like.train")
CHECK_EVERY = 50  # steps between host syncs (divergence check, progress bar loss)
# Keys of the config that may differ when resuming: where a run executes, not what it computes.
PLACEMENT_KEYS = ("device", "threads", "gpus")


def train(
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    max_epochs: int | None = None,
    model_complexity: Complexity | None = None,
) -> dict[str, Any]:
    """Train (or resume, or return the finished result of) the run in `out_dir`.

    `max_epochs` ends this call after that many more epochs (time-sliced jobs, tests): the
    returned status is then `incomplete` and no result.json is written. `model_complexity`, the
    caller's figures for `cfg.model`, go into the result as they are; without them the figures
    sweep setup recorded for this model in `out_dir` are used, and only else are they computed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    finished = ckpt.finished_result(out)
    if finished is not None:
        _check_same_run(finished.get("config"), cfg, out / ckpt.RESULT_FILE)
        return finished
    # The thread count and cuDNN autotuning are process-wide: restore them for the caller.
    threads, benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    try:
        cx = model_complexity or known_complexity(cfg, out)
        if cfg.gpus > 1:  # data-parallel: rank processes train, rank 0 writes `out`
            return train_ranks(cfg, out, max_epochs, cx)
        return _run(cfg, out, max_epochs, cx)
    except Exception as err:
        (out / ckpt.ERROR_FILE).write_text(traceback.format_exc())
        failed = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        ckpt.write_json(out / ckpt.RESULT_FILE, {**failed, "config": cfg.to_dict()})
        raise
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark


def known_complexity(cfg: RunConfig, out: Path) -> Complexity:
    """The model's complexity as the sweep's sampler computed it (recorded in the run
    directory for this very model), else computed now."""
    recorded = recorded_complexity(out, spec_to_dict(cfg.model))
    return Complexity(**recorded) if recorded else complexity(cfg.model)


def _check_same_run(saved: dict[str, Any] | None, cfg: RunConfig, where: Path) -> None:
    if saved is None:
        return
    saved = {k: v for k, v in saved.items() if k not in PLACEMENT_KEYS}
    # A model written before a key was renamed (ViT d) is compared under today's names; one that
    # is no spec any more differs, and the message below says so.
    with contextlib.suppress(ConfigError, KeyError, AttributeError, TypeError):
        saved["model"] = spec_to_dict(spec_from_dict(saved["model"]))
    current = {k: v for k, v in cfg.to_dict().items() if k not in PLACEMENT_KEYS}
    if saved != current:
        diff = sorted(k for k in current if saved.get(k) != current[k])
        msg = (
            f"holds a run of a different config (differs in {', '.join(diff)}); use another out dir"
        )
        raise ConfigError(msg, source=str(where))


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when available; asking for CUDA without it is a config error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("cuda requested but torch.cuda.is_available() is False", key="device")
    return torch.device("cuda" if name != "cpu" and torch.cuda.is_available() else "cpu")


def native_bf16(device: torch.device) -> bool:
    """bf16 autocast pays off on CUDA and on CPUs with bf16 instructions (AVX512-BF16, AMX);
    elsewhere it is emulated and slower than fp32."""
    if device.type == "cuda":
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def epoch_seed(seed: int, epoch: int) -> int:
    """Independent, well-mixed seed per (run seed, epoch) for data order and augmentation."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def batch_stats(logits: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    """[loss * n, top-1 misses, top-5 misses] as one device tensor (summed without host syncs)."""
    hits = (logits.topk(min(5, logits.shape[1]), dim=1).indices == y[:, None]).float()
    n = len(y)
    return torch.stack([loss * n, n - hits[:, 0].sum(), n - hits.amax(1).sum()])


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Batch],
    lrs: Sequence[float],
    *,
    ema: EMA | None = None,
    label_smoothing: float = 0.0,
    bf16: bool = False,
    bar: tqdm | None = None,
    rank: Rank = SINGLE,
) -> tuple[torch.Tensor, int, bool]:
    """One pass over `batches` with lr `lrs[step]`; returns (summed batch_stats, images, diverged),
    summed over the ranks of a data-parallel run."""
    model.train()
    device = next(model.parameters()).device
    totals = torch.zeros(3, device=device)
    seen = 0
    start = shown = time.perf_counter()
    for step, (x, y) in enumerate(batches):
        # Learning rate of this step (warmup + cosine, scaled with the batch size).
        for group in optimizer.param_groups:
            group["lr"] = lrs[step]
        # Forward in bf16 autocast on CUDA (fp32 on CPU); the loss in fp32.
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
        # Backward and update.
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema is not None:
            ema.update()
        # Bookkeeping stays on the device: no host sync per step.
        totals += batch_stats(logits.detach(), y, loss.detach())
        seen += len(y)
        # Every CHECK_EVERY steps one sync catches divergence early; a shown progress bar
        # also gets loss and images/s after the first step and then once a second (one host
        # sync per second is negligible).
        now = time.perf_counter()
        show = bar is not None and not bar.disable and (step == 0 or now - shown >= 1.0)
        check = (step + 1) % CHECK_EVERY == 0
        if check or show:
            mean_loss = totals[0].item() / seen
            # Ranks stop together: they decide at check steps only, all at once.
            if (check or rank.world == 1) and not rank.all_true(math.isfinite(mean_loss)):
                return (*rank.reduce(totals, seen), True)
            if bar is not None:
                rate = seen / (time.perf_counter() - start)
                bar.set_postfix(loss=f"{mean_loss:.3f}", img_s=f"{rate:.0f}", refresh=False)
                shown = now
        if bar is not None:
            bar.update()
    totals, seen = rank.reduce(totals, seen)
    return totals, seen, not math.isfinite(totals[0].item())


@torch.no_grad()
def precise_bn_stats(
    model: nn.Module, batches: Iterable[Batch], n_batches: int, *, bf16: bool = False
) -> None:
    """pycls's precise BN: each BN layer's statistics become the plain average of its batch
    statistics over `n_batches` training batches (torch's cumulative average, momentum None),
    not the running average of the last few dozen batches. The global RNG is left as it was
    (dropout in these forwards draws from a fork), so training is the same with or without."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for x, _ in itertools.islice(batches, n_batches):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                model(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


@torch.inference_mode()
def evaluate(
    model: nn.Module, batches: Iterable[Batch], *, bf16: bool = False, rank: Rank = SINGLE
) -> dict[str, float]:
    """Test loss and top-1/top-5 errors (%), with one host sync at the end (over all ranks'
    batches in a data-parallel run)."""
    model.eval()
    device = next(model.parameters()).device
    totals = torch.zeros(3, device=device)
    seen = 0
    for x, y in batches:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        totals += batch_stats(logits, y, F.cross_entropy(logits, y))
        seen += len(y)
    totals, seen = rank.reduce(totals, seen)
    loss, top1, top5 = (totals / seen).tolist()
    return {"test_loss": loss, "top1_err": 100 * top1, "top5_err": 100 * top5}


def _peak_mem_mb(device: torch.device) -> float:
    """GPU: peak allocated this epoch. CPU: the process's peak resident set so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _run(
    cfg: RunConfig, out: Path, max_epochs: int | None, cx: Complexity, rank: Rank = SINGLE
) -> dict[str, Any]:
    """The training itself, in this process (or as one rank of a data-parallel run, where
    only rank 0 writes `out`); `cx` is the model's complexity, for the result."""
    from pycls_like.models import build_model

    spec, optim, tcfg = cfg.model, cfg.optim, cfg.train
    # Device, threads, numerics.
    device = rank.device if rank.device is not None else resolve_device(cfg.device)
    cuda = device.type == "cuda"
    threads = rank.threads(cfg.threads or available_cores())
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    bf16 = tcfg.precision == "bf16" or (tcfg.precision == "auto" and native_bf16(device))

    log.info(
        "%s: preparing %s data at %d px (%s, %d thread(s))",
        out, cfg.data.dataset, spec.resolution, device.type, threads,
    )  # fmt: skip
    # Data and model in channels_last: what tensor cores and oneDNN's CPU convolutions want
    # (measured here: +37% images/s in fp32 on CPU; with bf16 autocast x2.2 over fp32 NCHW).
    # Made once per process and dataset: a worker's later runs reuse it (data/cache.py).
    data = cached_data(cfg.data, resolution=spec.resolution, device=device, channels_last=True)
    if data.num_classes != spec.num_classes:
        msg = f"the data has {data.num_classes} classes but the model {spec.num_classes}"
        raise ConfigError(msg, key="model.num_classes")
    steps = data.n_train // tcfg.batch_size
    if steps == 0:
        msg = f"{tcfg.batch_size} exceeds the {data.n_train} training images"
        raise ConfigError(msg, key="train.batch_size")
    log.info(
        "%s: %d train / %d test images, %d classes, %d steps of %d per epoch, %d epoch(s)",
        out, data.n_train, data.n_test, data.num_classes, steps, tcfg.batch_size, optim.epochs,
    )  # fmt: skip

    # Model, optimizer, EMA: the seed fixes the initial weights.
    torch.manual_seed(cfg.seed)
    model = build_model(spec, zero_init_final_gamma=tcfg.zero_init_final_gamma)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = build_optimizer(model, optim)
    ema = EMA(model, optim.ema) if optim.ema > 0 else None

    # Resume from the last checkpoint, if any.
    history: list[dict[str, Any]] = []
    # Rank 0 reads first: it sets a damaged checkpoint aside, the others read what is left.
    state = rank.main_first(lambda: ckpt.load_checkpoint(out, device))
    if state is not None:
        _check_same_run(state["config"], cfg, out / ckpt.CHECKPOINT_FILE)
        history = _restore(state, model, optimizer, ema, device)
        log.info("%s: resuming after epoch %d", out, len(history))
    if rank.main:
        ckpt.rewrite_metrics(out, history)
    net = rank.wrap(model)  # what trains: DDP over the ranks, or the model itself

    start = len(history)
    stop = optim.epochs if max_epochs is None else min(optim.epochs, start + max_epochs)
    bs = tcfg.batch_size
    diverged = False
    for epoch in range(start, stop):
        t0 = time.perf_counter()
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        lrs = [lr_at(optim, epoch + i / steps, bs) for i in range(steps)]
        # A live bar (step, loss, images/s, ETA) on a terminal only: logs stay one line per epoch.
        bar = tqdm(
            total=steps,
            desc=f"epoch {epoch + 1}/{optim.epochs}",
            unit="step",
            disable=not (rank.main and sys.stderr.isatty() and log.isEnabledFor(logging.INFO)),
        )
        batches = data.train_batches(bs, epoch_seed(cfg.seed, epoch), rank.shard)
        rank.seed_epoch(cfg.seed, epoch)

        # Train one epoch, then evaluate (the EMA weights when EMA is on).
        totals, seen, diverged = train_epoch(
            net,
            optimizer,
            batches,
            lrs,
            ema=ema,
            label_smoothing=tcfg.label_smoothing,
            bf16=bf16,
            bar=bar,
            rank=rank,
        )
        # Every rank takes rank 0's BN statistics and EMA: one model to evaluate and save.
        rank.sync([*model.buffers(), *(ema.state_dict().values() if ema else ())])
        if cuda:
            torch.cuda.synchronize(device)
        train_s = time.perf_counter() - t0
        bar.close()
        loss, top1, top5 = (totals / max(seen, 1)).tolist()
        row = {
            "epoch": epoch + 1,
            "train_loss": loss,
            "train_top1_err": 100 * top1,
            "train_top5_err": 100 * top5,
        }
        if not diverged:
            evaluated = ema.model if ema else model
            if tcfg.precise_bn_images:
                precise_bn_stats(
                    evaluated,
                    data.train_batches(bs, epoch_seed(cfg.seed, epoch), rank.shard),
                    # each process averages over that many images, as pycls does per GPU
                    min(steps, max(1, tcfg.precise_bn_images * rank.world // bs)),
                    bf16=bf16,
                )
                rank.sync(list(evaluated.buffers()))  # rank 0's statistics, as for training's
            test = evaluate(
                evaluated,
                data.test_batches(tcfg.test_batch_size, rank.shard),
                bf16=bf16,
                rank=rank,
            )
            diverged = not math.isfinite(test["test_loss"])
            row |= test
        row |= {
            "lr": lrs[-1],
            "epoch_time_s": time.perf_counter() - t0,
            "train_time_s": train_s,
            "images_per_s": seen / train_s,
            "peak_mem_mb": _peak_mem_mb(device),
        }
        history.append(row)
        if diverged:
            if rank.main:
                ckpt.append_metrics(out, row)
            log.info("%s: epoch %d diverged (loss %s)", out, epoch + 1, loss)
            break

        # Checkpoint first, then the metrics line: metrics never run ahead of the checkpoint.
        if rank.main:
            ckpt.save_checkpoint(out, _state(cfg, model, optimizer, ema, device, history))
            ckpt.append_metrics(out, row)
        log.info(
            "%s: epoch %d/%d  loss %.4f  top1_err %.2f  top5_err %.2f  %.0f img/s",
            out, epoch + 1, optim.epochs, loss, row["top1_err"], row["top5_err"], row["images_per_s"],
        )  # fmt: skip

    if not diverged and len(history) < optim.epochs:
        return {"status": "incomplete", "epochs": len(history)}
    result = _result(cfg, cx, history, diverged, device, threads, bf16)
    if rank.main:
        ckpt.write_json(out / ckpt.RESULT_FILE, result)
        (out / ckpt.ERROR_FILE).unlink(missing_ok=True)
    return result


def _state(
    cfg: RunConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    ema: EMA | None,
    device: torch.device,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the next epoch depends on, plus the metrics so far."""
    cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return {
        "config": cfg.to_dict(),
        "epoch": len(history),  # epochs completed
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "ema": ema.state_dict() if ema else None,
        "rng": {"cpu": torch.get_rng_state(), "cuda": cuda_rng},
        "history": history,
    }


def _restore(
    state: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    ema: EMA | None,
    device: torch.device,
) -> list[dict[str, Any]]:
    """Load a `_state` checkpoint in place; returns the metrics history."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    torch.set_rng_state(state["rng"]["cpu"].cpu())
    if device.type == "cuda" and state["rng"]["cuda"] is not None:
        torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), device)
    return state["history"]


def _result(
    cfg: RunConfig,
    cx: Complexity,
    history: list[dict[str, Any]],
    diverged: bool,
    device: torch.device,
    threads: int,
    bf16: bool,
) -> dict[str, Any]:
    """The run's summary; a diverged run's errors are 100 (the worst), as pycls sweeps record them."""
    done = [h for h in history if "top1_err" in h]
    final = done[-1] if done and not diverged else {"top1_err": 100.0, "top5_err": 100.0}
    train_s = sum(h["train_time_s"] for h in history)
    images = sum(h["images_per_s"] * h["train_time_s"] for h in history)
    return {
        "status": "diverged" if diverged else "complete",
        "near_chance": near_chance(final["top1_err"], cfg.model.num_classes),
        "top1_err": final["top1_err"],
        "top5_err": final["top5_err"],
        "best_top1_err": 100.0 if diverged else min(h["top1_err"] for h in done),
        "best_top5_err": 100.0 if diverged else min(h["top5_err"] for h in done),
        "epochs": len(history),
        **cx.as_dict(),
        "train_time_s": sum(h["epoch_time_s"] for h in history),
        "images_per_s": images / train_s if train_s else 0.0,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": threads,
        "precision": "bf16" if bf16 else "fp32",
        "config": cfg.to_dict(),
    }
