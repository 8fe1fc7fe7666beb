"""Ray launcher: each run is a Ray task with its resource request (num_cpus, num_gpus).

Tasks go to a running cluster (`launcher.ray.address`, else $RAY_ADDRESS) or to a Ray started here
for this launch. A task runs `worker.execute_run`, so claims, retries and failure records are the
same as with the local launcher; Ray's own task retries are off (max_retries=0) for that reason.
On a multi-node cluster the sweep directory must be on a file system every node sees.
A run with `gpus_per_run: k` is one task asking for k GPUs (so on one node) that trains the run
over k processes of its own, each on one of the task's GPUs.
"""

import logging
import os
import time
from pathlib import Path

from pycls_like.cores import available_cores
from pycls_like.sweep.config import LauncherConfig
from pycls_like.sweep.progress import Monitor
from pycls_like.sweep.worker import execute_run, record_crash

POLL_S = 0.5


def _connect(launcher: LauncherConfig) -> bool:
    """Join the configured cluster, or start a local Ray; True if we started it (and stop it)."""
    import ray

    if ray.is_initialized():
        return False
    address = launcher.ray.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        return False
    threads = launcher.threads_per_worker or 1
    cpus = launcher.workers * threads if launcher.workers else available_cores()
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    # Ray runs workers at nice 15 by default: beside any other job a local sweep would crawl.
    ray.init(num_cpus=cpus, include_dashboard=False, _system_config={"worker_niceness": 0}, **quiet)
    return True


def _resources(launcher: LauncherConfig) -> tuple[int, float]:
    """(num_cpus, num_gpus) per task; runs_per_gpu > 1 asks for a fraction of one GPU."""
    import ray

    gpus = launcher.gpus_per_run
    if gpus is None:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    if gpus == 1 and (launcher.runs_per_gpu or 1) > 1:  # Ray does not measure: unset is 1
        return launcher.threads_per_worker or 1, 1 / launcher.runs_per_gpu
    return launcher.threads_per_worker or 1, float(gpus)


def _wait(in_flight: dict, monitor: Monitor) -> None:
    """Wait a moment for tasks; a task that raised (its worker died) fails its run."""
    import ray

    ready, _ = ray.wait(list(in_flight), num_returns=len(in_flight), timeout=POLL_S)
    for ref in ready:
        run_dir = in_flight.pop(ref)
        try:
            ray.get(ref)
        except Exception as err:  # RayTaskError, WorkerCrashedError, TaskCancelledError, ...
            record_crash(run_dir, f"ray task failed: {type(err).__name__}: {err}")
        monitor.over.add(run_dir)
    monitor.poll()


def launch_ray(
    sweep_dir: Path, launcher: LauncherConfig, launch: str, monitor: Monitor, todo: list[Path]
) -> None:
    """Submit one task per unfinished run (at most `max_concurrent` in flight) and wait."""
    import ray

    started = _connect(launcher)
    try:
        num_cpus, num_gpus = _resources(launcher)
        task = ray.remote(execute_run).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)
        cap = launcher.max_concurrent or len(todo) or 1
        res = ray.cluster_resources()
        monitor.say(
            f"ray launcher: {len(todo)} task(s), {num_cpus} CPU / {num_gpus:g} GPU each, on a "
            f"cluster of {res.get('CPU', 0):g} CPU / {res.get('GPU', 0):g} GPU"
        )
        queue, in_flight = list(todo), {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < cap:
                    run_dir = queue.pop(0)
                    gpus = max(1, int(num_gpus))  # processes; a fraction of a GPU is one
                    args = (str(run_dir), launch, launcher.retries, num_cpus, gpus)
                    in_flight[task.remote(*args)] = run_dir
                _wait(in_flight, monitor)
        except KeyboardInterrupt:
            monitor.say("stopping: running tasks finish first (Ctrl-C again to stop now)")
            try:
                while in_flight:
                    _wait(in_flight, monitor)
            except KeyboardInterrupt:
                monitor.say("stopping now: cancelling running tasks")
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                # A killed task leaves its claim; the pid is dead, so the next launch recovers it.
                time.sleep(POLL_S)
            raise
    finally:
        if started:
            ray.shutdown()
