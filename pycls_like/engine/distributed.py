"""Data-parallel training of one run over k processes, as pycls's NUM_GPUS: one process per GPU
with NCCL, or k CPU processes with gloo; DistributedDataParallel; the global batch
`train.batch_size` split evenly; BN statistics per process (no SyncBN).

How the processes start: `train` calls `train_ranks`, which starts k processes with
torch.multiprocessing and watches them. Starting them inside the engine, not with torchrun, keeps
one entry point for the CLI, the local sweep worker, a Ray task and a Slurm task alike (a
launcher only reserves k GPUs for a run), and leaves failure records with the process that owns
the run directory: the parent sees a rank that dies without a word (SIGKILL, the OOM killer)
as well as one that raises. Start method forkserver (spawn where there is none), never a plain
fork: the parent may hold CUDA contexts and OpenMP thread pools that a fork cannot copy, while
the fork server holds neither. Rendezvous is a TCPStore that the parent hosts on a free port of
127.0.0.1 (k processes on one node).

What stays the same whatever k: only rank 0 writes the run directory; at the end of each epoch
the ranks take rank 0's BN running statistics and EMA weights (the parameters are equal already),
so the checkpoint is one model in the single-process format and a run resumes with any k.
For k > 1 each rank's global RNG (dropout, drop-connect) is seeded per (seed, epoch, rank), so
a resumed run replays the same draws. A failing rank ends the run: the parent terminates the
others (collectives also time out after COLLECTIVE_TIMEOUT_S) and raises `RankFailed`, chained
to the rank's traceback, which `train` records as a failed run (retried by sweeps as any other).
"""

import datetime
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from pycls_like.complexity import Complexity
from pycls_like.data.base import Shard
from pycls_like.errors import ConfigError

log = logging.getLogger("pycls_like.train")
T = TypeVar("T")
# A collective that waits this long means a rank is gone or stuck: it raises and the run ends.
# Generous, since rank 0 writes checkpoints (and image folders load) while the others wait.
COLLECTIVE_TIMEOUT_S = 600.0
# What the ranks hand the parent, in a temporary folder of its own.
RESULT_PICKLE = "result.pkl"  # rank 0's return value
CONFIG_ERROR_PICKLE = "config_error.pkl"  # a ConfigError raised in a rank
RankError = mp.ProcessRaisedException | mp.ProcessExitedException
FORKSERVER_PRELOAD = ["torch", "pycls_like.engine.trainer", "pycls_like.models"]


class RankTraceback(Exception):
    """The traceback text of a rank process (the cause chained to `RankFailed`)."""


class RankFailed(RuntimeError):
    """A rank process raised or died; the run ended."""


@dataclass(frozen=True)
class Rank:
    """This process's place in the run: rank `index` of `world`, training on `device`.

    Every collective the trainer needs is here; with one process each is a no-op, so the
    single-process path computes exactly what it did before data parallelism existed.
    """

    index: int = 0
    world: int = 1
    device: torch.device | None = None  # set in rank processes (cuda:index on GPUs)

    @property
    def main(self) -> bool:
        """Rank 0: the one that logs and writes the run directory."""
        return self.index == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.index, self.world)

    def threads(self, total: int) -> int:
        """A run's CPU threads are shared by its processes (at least one each)."""
        return max(1, total // self.world)

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP for k > 1 (gradients averaged over ranks), the model itself otherwise.

        Buffers are not broadcast at every forward: BN statistics are per process, as in pycls,
        and `sync` makes them rank 0's once per epoch, before evaluation and the checkpoint.
        """
        if self.world == 1:
            return model
        ids = (
            [self.device.index] if self.device is not None and self.device.type == "cuda" else None
        )
        return DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)

    def reduce(self, totals: torch.Tensor, seen: int) -> tuple[torch.Tensor, int]:
        """Per-rank sums and image counts -> the run's (float64 while summed: exact counts)."""
        if self.world == 1:
            return totals, seen
        both = torch.cat([totals.double(), totals.new_tensor([seen], dtype=torch.float64)])
        dist.all_reduce(both)
        return both[:-1].to(totals.dtype), round(both[-1].item())

    def all_true(self, flag: bool) -> bool:
        """Whether `flag` holds on every rank (so that all ranks take the same branch)."""
        if self.world == 1:
            return flag
        failed = torch.tensor([0.0 if flag else 1.0], device=self.device)
        dist.all_reduce(failed)
        return failed.item() == 0

    def sync(self, tensors: Iterable[torch.Tensor]) -> None:
        """Overwrite `tensors` with rank 0's values."""
        if self.world == 1:
            return
        for tensor in tensors:
            dist.broadcast(tensor, src=0)

    def main_first(self, read: Callable[[], T]) -> T:
        """`read()` on rank 0, then on the others (rank 0 alone may repair what it reads)."""
        if self.world == 1:
            return read()
        value = read() if self.main else None
        dist.barrier()
        return value if self.main else read()

    def seed_epoch(self, seed: int, epoch: int) -> None:
        """k > 1: a global RNG per (seed, epoch, rank); the checkpoint holds only rank 0's."""
        if self.world > 1:
            torch.manual_seed(
                int(np.random.SeedSequence([seed, epoch, self.index]).generate_state(1)[0])
            )


SINGLE = Rank()


def check_world(batch_size: int, world: int, device: torch.device) -> None:
    """The global batch splits evenly; there are enough GPUs for one process each."""
    if batch_size % world:
        msg = f"{batch_size} does not split evenly over {world} processes (gpus: {world})"
        raise ConfigError(msg, key="train.batch_size")
    if device.type == "cuda" and world > torch.cuda.device_count():
        msg = (
            f"{world} processes need {world} GPUs, {torch.cuda.device_count()} visible "
            "(device: cpu runs them on CPU with gloo)"
        )
        raise ConfigError(msg, key="gpus")


def train_ranks(
    cfg: Any,
    out: Path,
    max_epochs: int | None,
    cx: Complexity,
    timeout_s: float = COLLECTIVE_TIMEOUT_S,
) -> dict[str, Any]:
    """Train the run in `out` over `cfg.gpus` processes; rank 0's result (see `trainer.train`)."""
    from pycls_like.engine.trainer import resolve_device

    world = cfg.gpus
    device = resolve_device(cfg.device)
    check_world(cfg.train.batch_size, world, device)
    backend = "nccl" if device.type == "cuda" and dist.is_nccl_available() else "gloo"
    timeout = datetime.timedelta(seconds=timeout_s)
    store = dist.TCPStore("127.0.0.1", 0, None, True, timeout, wait_for_workers=False)
    log.info(
        "%s: data-parallel over %d processes (%s), %d of each global batch of %d per process",
        out, world, backend, cfg.train.batch_size // world, cfg.train.batch_size,
    )  # fmt: skip
    args = (cfg, str(out), world, max_epochs, cx, backend, store.port, timeout_s)
    return run_ranks(_train_rank, (*args, log.getEffectiveLevel()), world, str(out))


def run_ranks(target: Callable[..., Any], args: tuple, world: int, label: str) -> Any:
    """`target(index, *args)` in `world` spawned processes, watched until all end; returns rank
    0's return value. A rank that raises or dies ends them all: `RankFailed` (chained to the
    rank's traceback), or the `ConfigError` a rank raised (bad input stays bad input)."""
    with tempfile.TemporaryDirectory(prefix="pycls-like-ranks-") as tmp:
        spawn_args = (target, args, tmp, dict(os.environ))
        ctx = mp.start_processes(_rank_entry, spawn_args, world, join=False, start_method=_method())
        log.info("%s: rank pids %s", label, " ".join(map(str, ctx.pids())))
        try:
            while not ctx.join():
                pass
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as err:
            if (Path(tmp) / RESULT_PICKLE).exists():  # rank 0 was done; a rank failed after
                log.warning("%s: %s after rank 0 finished", label, _first_line(err))
            else:
                bad_input = _read(Path(tmp), CONFIG_ERROR_PICKLE)
                if bad_input is not None:  # CLI exit code 2, as in one process
                    raise ConfigError(**bad_input) from None
                raise _failure(err, ctx.processes, world) from RankTraceback(_traceback(err))
        finally:
            for proc in ctx.processes:  # the parent itself is stopping (signal, Ctrl-C)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
        if not (Path(tmp) / RESULT_PICKLE).exists():
            raise RankFailed(f"rank 0 of {world} ended without a result (interrupted?)")
        return _read(Path(tmp), RESULT_PICKLE)


def _method() -> str:
    """forkserver where there is one (Linux, macOS): the server imports torch and the engine
    once, then each rank is a fork of it (a fraction of a second, where a spawned rank spends
    seconds importing); the server never touches CUDA, so its forks may. Elsewhere spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    multiprocessing.set_forkserver_preload(FORKSERVER_PRELOAD)  # no effect once it runs
    return "forkserver"


def _rank_entry(
    index: int, target: Callable[..., Any], args: tuple, exchange: str, env: dict[str, str]
) -> None:
    """In a rank process: run the target; hand rank 0's result or a ConfigError to the parent."""
    # The caller's environment now (a fork server keeps the one it started with), e.g. the
    # CUDA_VISIBLE_DEVICES a Ray task was given; read by CUDA when a rank first uses it.
    os.environ.clear()
    os.environ.update(env)
    try:
        result = target(index, *args)
    except ConfigError as err:
        bad_input = {"message": err.message, "key": err.key, "source": err.source}
        _write(Path(exchange), CONFIG_ERROR_PICKLE, bad_input)
        raise
    if index == 0:
        _write(Path(exchange), RESULT_PICKLE, result)


def _train_rank(
    index: int,
    cfg: Any,
    out: str,
    world: int,
    max_epochs: int | None,
    cx: Complexity,
    backend: str,
    port: int,
    timeout_s: float,
    level: int,
) -> dict[str, Any]:
    """One rank of a run: join the group and train (`trainer._run`, with this rank's place)."""
    from pycls_like.engine.trainer import _run, resolve_device

    # Only rank 0 says how the run goes; the others speak up for warnings and errors.
    logging.basicConfig(
        level=level if index == 0 else max(level, logging.WARNING),
        format="%(message)s",
        stream=sys.stderr,
    )
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=timeout_s)
    store = dist.TCPStore("127.0.0.1", port, None, False, timeout)
    dist.init_process_group(backend, store=store, rank=index, world_size=world, timeout=timeout)
    try:
        return _run(cfg, Path(out), max_epochs, cx, Rank(index, world, device))
    finally:
        dist.destroy_process_group()


def _write(folder: Path, name: str, value: Any) -> None:
    """Pickle `value` to folder/name whole: a reader sees all of it or no file."""
    partial = folder / f"{name}.{os.getpid()}"
    with open(partial, "wb") as f:
        pickle.dump(value, f)
    partial.replace(folder / name)


def _read(folder: Path, name: str) -> Any:
    """What `_write` left (our own temporary folder: trusted), or None."""
    path = folder / name
    if not path.exists():
        return None
    with open(path, "rb") as f:
        return pickle.load(f)


def _first_line(err: RankError) -> str:
    return str(err).strip().splitlines()[0]


def _traceback(err: RankError) -> str:
    """The failed rank's traceback text (torch puts it after a header line), or its exit."""
    text = str(err).strip()
    header, _, trace = text.partition("\n")
    return trace.strip() or header


def _failure(err: RankError, procs: list[mp.Process], world: int) -> RankFailed:
    """One line: which rank failed and how, then how every rank ended."""
    if isinstance(err, mp.ProcessExitedException):
        how = f"died ({_first_line(err).removeprefix(f'process {err.error_index} ')})"
    else:
        how = f"failed: {_traceback(err).splitlines()[-1]}"
    ends = "; ".join(f"rank {i}: {_exit(p.exitcode)}" for i, p in enumerate(procs))
    return RankFailed(f"rank {err.error_index} of {world} {how} [{ends}]")


def _exit(code: int | None) -> str:
    if code is None:
        return "running"
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
