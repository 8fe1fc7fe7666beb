"""Local launcher: K worker processes on this machine, each claiming runs until none is left.

Workers are `python -m pycls_like.sweep.worker` subprocesses in their own session, so a terminal
Ctrl-C reaches only the driver, which decides: first Ctrl-C -> SIGINT to the workers (finish the
current run, take no new one); second Ctrl-C -> SIGTERM (abandon now, claims released). A
SIGKILLed driver cannot forward anything: workers notice that their parent is gone and abandon.
On GPUs each worker sees its own devices (CUDA_VISIBLE_DEVICES) and trains each run over all
of them (`gpus_per_run: k`: k data-parallel processes per run); on CPU, workers x threads is
kept within the cores. Workers stay alive and train run after run (torch and CUDA start, cuDNN
autotuning and the dataset are paid once per worker). With `runs_per_gpu` and `workers` unset,
how many single-GPU runs share a GPU is measured as runs finish (`sweep/packing.py`): the
launcher adds workers per GPU while the aggregate rate grows, and stops extra ones (after their
current run) when a bigger model needs the memory.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pycls_like.cores import available_cores
from pycls_like.data.cache import CACHE_ENV
from pycls_like.errors import ConfigError
from pycls_like.rundir import METRICS_FILE, RESULT_FILE, jsonl_records, read_result
from pycls_like.sweep.claims import CLAIM_FILE, HOST, read_claim
from pycls_like.sweep.config import LauncherConfig
from pycls_like.sweep.packing import Packer, RunFigures, parse_gpu_memory
from pycls_like.sweep.progress import Monitor
from pycls_like.sweep.rundir import run_dirs
from pycls_like.sweep.worker import record_crash

POLL_S = 0.5
TERM_GRACE_S = 10.0


@dataclass(frozen=True)
class Slot:
    """One worker process: the GPUs it sees (None = CPU only) and its torch threads."""

    gpus: tuple[str, ...] | None
    threads: int


def visible_gpus() -> list[str]:
    """GPU ids the workers may use: CUDA_VISIBLE_DEVICES if set, else all that torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def worker_slots(launcher: LauncherConfig, say: Callable[[str], None] = _stderr) -> list[Slot]:
    """Placement: one run per GPU group (or `runs_per_gpu` small ones), else CPU thread shares."""
    cores = available_cores()
    gpus = visible_gpus() if launcher.gpus_per_run != 0 else []
    per_run = launcher.gpus_per_run if launcher.gpus_per_run is not None else (1 if gpus else 0)
    if per_run > 0:
        if len(gpus) < per_run:
            msg = f"needs {per_run} GPUs per run but {len(gpus)} are visible"
            raise ConfigError(msg, key="launcher.gpus_per_run")
        groups = [tuple(gpus[i : i + per_run]) for i in range(0, len(gpus) - per_run + 1, per_run)]
        # Several runs per GPU only make sense for single-GPU runs of small models.
        repeat = (launcher.runs_per_gpu or 1) if per_run == 1 else 1
        placed = [g for g in groups for _ in range(repeat)]
        placed = placed[: launcher.workers] if launcher.workers else placed
        threads = launcher.threads_per_worker or max(1, cores // len(placed))
        return [Slot(g, threads) for g in placed]
    workers = launcher.workers or 1
    threads = launcher.threads_per_worker or max(1, cores // workers)
    if workers * threads > cores:
        fitted = max(1, cores // workers)
        say(
            f"warning: {workers} workers x {threads} threads exceed {cores} cores; "
            f"using {fitted} thread(s) per worker"
        )
        threads = fitted
    return [Slot(None, threads) for _ in range(workers)]


def _spawn(sweep_dir: Path, slot: Slot, index: int, launch: str, retries: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(slot.threads), MKL_NUM_THREADS=str(slot.threads))
    env["CUDA_VISIBLE_DEVICES"] = ",".join(slot.gpus) if slot.gpus else ""
    # Generated images are made once per sweep, not once per worker (data/cache.py).
    env.setdefault(CACHE_ENV, str(sweep_dir / "data_cache"))
    cmd = [sys.executable, "-m", "pycls_like.sweep.worker", str(sweep_dir), "--launch", launch]
    cmd += [
        "--retries",
        str(retries),
        "--threads",
        str(slot.threads),
        "--driver-pid",
        str(os.getpid()),
        "--gpus",
        str(len(slot.gpus) if slot.gpus else 1),
    ]
    logs = sweep_dir / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"worker-{index}.log", "a") as log:
        return subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait(procs: dict[int, subprocess.Popen], monitor: Monitor) -> None:
    while any(p.poll() is None for p in procs.values()):
        monitor.poll()
        time.sleep(POLL_S)


def _signal_all(procs: dict[int, subprocess.Popen], signum: int) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signum)


def _record_worker_death(sweep_dir: Path, proc: subprocess.Popen) -> None:
    """The run a dead worker held gets a failure record (it died too hard to write one)."""
    for run_dir in run_dirs(sweep_dir):
        claim = read_claim(run_dir / CLAIM_FILE)
        if claim is not None and claim.host == HOST and claim.pid == proc.pid:
            message = f"worker process {proc.pid} exited with code {proc.returncode}"
            record_crash(run_dir, message, claim)


def measures_packing(launcher: LauncherConfig, slots: list[Slot]) -> bool:
    """Runs per GPU are measured when nothing fixes them: single-GPU runs, no `runs_per_gpu`,
    no `workers`."""
    unset = launcher.runs_per_gpu is None and launcher.workers is None
    return unset and bool(slots) and all(s.gpus is not None and len(s.gpus) == 1 for s in slots)


def gpu_memory_mb() -> float | None:
    """The smallest visible GPU's memory (MiB) from nvidia-smi, without a CUDA context in this
    process; None when nvidia-smi cannot tell (then only the cores cap packing)."""
    cmd = ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout
        sizes = parse_gpu_memory(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:  # numeric ids select rows; UUIDs cannot be matched: take the smallest of all
        ids = [v.strip() for v in visible.split(",")]
        if all(i.isdigit() and int(i) < len(sizes) for i in ids):
            sizes = [sizes[int(i)] for i in ids]
    return min(sizes) if sizes else None


def run_figures(run_dir: Path, since: float) -> RunFigures | None:
    """A complete run's figures if it started training at or after `since` (wall clock): only
    then did it train entirely at the packing level set at `since`."""
    result, _ = read_result(run_dir)
    if result is None or result.get("status") != "complete":
        return None
    try:
        started = (run_dir / RESULT_FILE).stat().st_mtime - float(result["train_time_s"])
        rate, flops = float(result["images_per_s"]), float(result["flops"])
    except (OSError, KeyError, TypeError, ValueError):
        return None
    if started < since or rate <= 0:
        return None
    peaks = [r.get("peak_mem_mb") for r in jsonl_records(run_dir / METRICS_FILE)[0]]
    peak = max((p for p in peaks if isinstance(p, int | float)), default=0.0)
    return RunFigures(peak_mem_mb=float(peak), images_per_s=rate, flops=flops)


@dataclass
class Workers:
    """The launch's worker processes and their slots (index -> process, index -> slot)."""

    sweep_dir: Path
    launch: str
    retries: int
    procs: dict[int, subprocess.Popen]
    slots: dict[int, Slot]
    stopping: set[int] = field(default_factory=set)  # told to stop after their current run

    def add(self, slot: Slot) -> None:
        index = max(self.slots, default=-1) + 1
        self.slots[index] = slot
        self.procs[index] = _spawn(self.sweep_dir, slot, index, self.launch, self.retries)

    def live_on(self, gpus: tuple[str, ...]) -> list[int]:
        """Workers on these GPUs that still take runs (not told to stop)."""
        return [
            i
            for i, p in self.procs.items()
            if self.slots[i].gpus == gpus and p.poll() is None and i not in self.stopping
        ]


def repack(workers: Workers, level: int, cores: int, threads: int | None = None) -> None:
    """Make `level` workers take runs on each GPU: spawn new ones, or tell extra ones to stop
    after their current run (SIGINT: never a run cut short). New workers get `threads`, else
    a share of the cores."""
    gpu_sets = sorted({s.gpus for s in workers.slots.values() if s.gpus is not None})
    threads = threads or max(1, cores // (len(gpu_sets) * level))
    for gpus in gpu_sets:
        live = workers.live_on(gpus)
        for _ in range(level - len(live)):
            workers.add(Slot(gpus, threads))
        for i in live[level:]:
            workers.procs[i].send_signal(signal.SIGINT)
            workers.stopping.add(i)


def launch_local(sweep_dir: Path, launcher: LauncherConfig, launch: str, monitor: Monitor) -> None:
    """Run every unfinished run on this machine; returns when the workers have nothing left."""
    slots = worker_slots(launcher, monitor.say)
    desc = ", ".join(f"GPU {','.join(s.gpus)}" if s.gpus else "CPU" for s in slots[:4])
    monitor.say(
        f"local launcher: {len(slots)} worker(s) ({desc}{', ...' if len(slots) > 4 else ''}), "
        f"{slots[0].threads} thread(s) each"
    )
    packer = None
    if measures_packing(launcher, slots):
        packer = Packer(gpu_memory_mb(), available_cores(), len(slots))
        monitor.say(f"packing: {packer.reason}")
    pending, level_since = set(monitor.todo), time.time()
    workers = Workers(sweep_dir, launch, launcher.retries, {}, {})
    for slot in slots:
        workers.add(slot)
    procs = workers.procs
    restarts = 0
    try:
        while any(p.poll() is None for p in procs.values()):
            monitor.poll()
            if packer is not None:
                ended, pending = pending - set(monitor.todo), pending & set(monitor.todo)
                level = packer.level
                for run_dir in sorted(ended):
                    figures = run_figures(run_dir, level_since)
                    if figures is not None:
                        packer.observe(level, figures)
                if packer.level != level and monitor.todo:
                    monitor.say(f"packing: {packer.reason}")
                    repack(workers, packer.level, available_cores(), launcher.threads_per_worker)
                    level_since = time.time()
            for i, proc in list(procs.items()):
                # A worker that dies (OOM killer, segfault) leaves a stale claim; its run is
                # retried like a failure. Replace the worker while runs remain.
                if proc.poll() not in (None, 0) and i in workers.stopping:
                    _record_worker_death(sweep_dir, proc)  # it was leaving: not replaced
                    del procs[i]
                    continue
                if proc.poll() not in (None, 0) and monitor.todo and restarts < 3 * len(slots):
                    _record_worker_death(sweep_dir, proc)
                    monitor.say(
                        f"worker {i} exited with code {proc.returncode} "
                        f"(see {sweep_dir / 'logs' / f'worker-{i}.log'}); restarting"
                    )
                    procs[i] = _spawn(sweep_dir, workers.slots[i], i, launch, launcher.retries)
                    restarts += 1
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        monitor.say("stopping: runs in progress finish first (Ctrl-C again to stop now)")
        _signal_all(procs, signal.SIGINT)
        try:
            _wait(procs, monitor)
        except KeyboardInterrupt:
            monitor.say("stopping now: abandoning runs in progress")
            _signal_all(procs, signal.SIGTERM)
            deadline = time.monotonic() + TERM_GRACE_S
            while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
                time.sleep(0.1)
            _signal_all(procs, signal.SIGKILL)
        raise
