"""Local launcher: K worker processes on this machine, each claiming runs until none is left.

Workers are `python -m pycls_like.sweep.worker` subprocesses in their own session, so a terminal
Ctrl-C reaches only the driver, which decides: first Ctrl-C -> SIGINT to the workers (finish the
current run, take no new one); second Ctrl-C -> SIGTERM (abandon now, claims released). A
SIGKILLed driver cannot forward anything: workers notice that their parent is gone and abandon.
On GPUs each worker sees its own devices (CUDA_VISIBLE_DEVICES) and trains each run over all
of them (`gpus_per_run: k`: k data-parallel processes per run); on CPU, workers x threads is
kept within the cores.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pycls_like.errors import ConfigError
from pycls_like.sweep.claims import CLAIM_FILE, HOST, read_claim
from pycls_like.sweep.config import LauncherConfig
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


def cpu_count() -> int:
    """Cores this process may use (respects taskset/cgroup affinity, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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
    cores = cpu_count()
    gpus = visible_gpus() if launcher.gpus_per_run != 0 else []
    per_run = launcher.gpus_per_run if launcher.gpus_per_run is not None else (1 if gpus else 0)
    if per_run > 0:
        if len(gpus) < per_run:
            msg = f"needs {per_run} GPUs per run but {len(gpus)} are visible"
            raise ConfigError(msg, key="launcher.gpus_per_run")
        groups = [tuple(gpus[i : i + per_run]) for i in range(0, len(gpus) - per_run + 1, per_run)]
        # Several runs per GPU only make sense for single-GPU runs of small models.
        repeat = launcher.runs_per_gpu if per_run == 1 else 1
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


def launch_local(sweep_dir: Path, launcher: LauncherConfig, launch: str, monitor: Monitor) -> None:
    """Run every unfinished run on this machine; returns when the workers have nothing left."""
    slots = worker_slots(launcher, monitor.say)
    desc = ", ".join(f"GPU {','.join(s.gpus)}" if s.gpus else "CPU" for s in slots[:4])
    monitor.say(
        f"local launcher: {len(slots)} worker(s) ({desc}{', ...' if len(slots) > 4 else ''}), "
        f"{slots[0].threads} thread(s) each"
    )
    procs = {i: _spawn(sweep_dir, s, i, launch, launcher.retries) for i, s in enumerate(slots)}
    restarts = 0
    try:
        while any(p.poll() is None for p in procs.values()):
            monitor.poll()
            for i, proc in procs.items():
                # A worker that dies (OOM killer, segfault) leaves a stale claim; its run is
                # retried like a failure. Replace the worker while runs remain.
                if proc.poll() not in (None, 0) and monitor.todo and restarts < 3 * len(slots):
                    _record_worker_death(sweep_dir, proc)
                    monitor.say(
                        f"worker {i} exited with code {proc.returncode} "
                        f"(see {sweep_dir / 'logs' / f'worker-{i}.log'}); restarting"
                    )
                    procs[i] = _spawn(sweep_dir, slots[i], i, launch, launcher.retries)
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
