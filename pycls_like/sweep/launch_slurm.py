"""Slurm launcher: one submitit job array, one array task per unfinished run.

Each task runs `worker.execute_run` (claims, retries, failure records as everywhere else).
With `gpus_per_run: k` a task gets k GPUs of one node and trains its run over k processes that
it starts itself (one Slurm task per run, not one per GPU: no srun step or torchrun needed).
`max_concurrent` becomes the array's `%` limit (slurm_array_parallelism). Ctrl-C while waiting
only stops the waiting: the array keeps running on the cluster (scancel to stop it), and a later
`sweep launch` skips what it finished. `cluster: local|debug` runs the same submission through
submitit's local/debug executors, to try a config without Slurm. As with every Slurm workflow,
the sweep directory must be on a shared file system.
"""

import time
from pathlib import Path
from typing import Any

from pycls_like.sweep.config import LauncherConfig
from pycls_like.sweep.progress import Monitor
from pycls_like.sweep.worker import execute_run, record_crash

POLL_S = 5.0  # sacct is rate-limited by submitit anyway; no need to hammer the scheduler


def executor_parameters(launcher: LauncherConfig, name: str, n_runs: int) -> dict[str, Any]:
    """submitit parameters for one run per array task; on Slurm a run defaults to one GPU."""
    gpus = 1 if launcher.gpus_per_run is None else launcher.gpus_per_run
    threads = launcher.threads_per_worker or max(1, 8 * gpus)  # pycls: ~8 loader cpus per GPU
    params: dict[str, Any] = {
        "name": name,
        "timeout_min": launcher.slurm.time,
        "nodes": 1,
        "tasks_per_node": 1,
        "cpus_per_task": threads,
        "gpus_per_node": gpus,
        "slurm_array_parallelism": launcher.max_concurrent or n_runs,
    }
    if launcher.slurm.partition:
        params["slurm_partition"] = launcher.slurm.partition
    if launcher.slurm.mem_gb:
        params["mem_gb"] = launcher.slurm.mem_gb
    params.update({f"slurm_{k}": v for k, v in launcher.slurm.sbatch.items()})
    return params


def make_executor(sweep_dir: Path, launcher: LauncherConfig, name: str, n_runs: int) -> Any:
    """A submitit AutoExecutor writing its scripts and logs under SWEEP_DIR/slurm/."""
    import submitit

    executor = submitit.AutoExecutor(folder=sweep_dir / "slurm", cluster=launcher.slurm.cluster)
    executor.update_parameters(**executor_parameters(launcher, name, n_runs))
    return executor


def launch_slurm(
    sweep_dir: Path,
    launcher: LauncherConfig,
    launch: str,
    monitor: Monitor,
    todo: list[Path],
    name: str,
) -> None:
    """Submit the array; follow it to the end unless `wait: false`."""
    if not todo:
        return
    executor = make_executor(sweep_dir, launcher, name, len(todo))
    params = executor_parameters(launcher, name, len(todo))
    threads, gpus = params["cpus_per_task"], max(1, params["gpus_per_node"])
    n = len(todo)
    jobs = executor.map_array(
        execute_run,
        [str(d) for d in todo],
        [launch] * n,
        [launcher.retries] * n,
        [threads] * n,
        [gpus] * n,
    )
    array_id = str(jobs[0].job_id).split("_")[0]
    monitor.say(f"slurm launcher: submitted {n} run(s) as array {array_id}")
    if not launcher.slurm.wait:
        return
    pending = dict(zip(jobs, todo, strict=True))
    try:
        while pending:
            for job in [j for j in pending if j.done()]:
                run_dir = pending.pop(job)
                error = job.exception()  # the job itself died (time limit, preemption, node)
                if error is not None:
                    record_crash(run_dir, f"slurm job {job.job_id} failed: {error}")
                monitor.over.add(run_dir)
            monitor.poll()
            if pending:
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        monitor.say(
            f"stopped waiting; array {array_id} keeps running (scancel {array_id} stops it)"
        )
        raise
