"""Placement: GPU slots and CPU threads of the local launcher, Ray resources, Slurm job arrays."""

import os
import stat

import pytest

from pycls_like.errors import ConfigError
from pycls_like.sweep.config import LauncherConfig, SlurmConfig
from pycls_like.sweep.launch_local import Slot, worker_slots
from pycls_like.sweep.launch_slurm import executor_parameters
from tests.test_sweep_e2e import tiny_sweep


@pytest.fixture
def four_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")


def test_one_run_per_gpu_by_default(four_gpus, monkeypatch):
    monkeypatch.setattr("pycls_like.sweep.launch_local.available_cores", lambda: 16)
    slots = worker_slots(LauncherConfig())
    assert slots == [Slot((g,), 4) for g in "0123"]


def test_several_small_runs_per_gpu_and_multi_gpu_runs(four_gpus, monkeypatch):
    monkeypatch.setattr("pycls_like.sweep.launch_local.available_cores", lambda: 16)
    slots = worker_slots(LauncherConfig(gpus_per_run=1, runs_per_gpu=2))
    assert [s.gpus for s in slots] == [
        ("0",),
        ("0",),
        ("1",),
        ("1",),
        ("2",),
        ("2",),
        ("3",),
        ("3",),
    ]
    assert {s.threads for s in slots} == {2}
    assert [s.gpus for s in worker_slots(LauncherConfig(gpus_per_run=2))] == [
        ("0", "1"),
        ("2", "3"),
    ]
    assert len(worker_slots(LauncherConfig(workers=3))) == 3
    with pytest.raises(ConfigError, match="needs 8 GPUs per run but 4 are visible"):
        worker_slots(LauncherConfig(gpus_per_run=8))


def test_cpu_workers_times_threads_fit_the_cores(monkeypatch):
    monkeypatch.setattr("pycls_like.sweep.launch_local.available_cores", lambda: 8)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert worker_slots(LauncherConfig()) == [Slot(None, 8)]
    assert worker_slots(LauncherConfig(workers=4)) == [Slot(None, 2)] * 4
    said: list[str] = []
    slots = worker_slots(LauncherConfig(workers=2, threads_per_worker=8), said.append)
    assert slots == [Slot(None, 4)] * 2
    assert said == ["warning: 2 workers x 8 threads exceed 8 cores; using 4 thread(s) per worker"]


def test_slurm_parameters():
    params = executor_parameters(
        LauncherConfig(
            type="slurm",
            slurm=SlurmConfig(partition="dev", time=30, mem_gb=60, sbatch={"qos": "high"}),
        ),
        "s",
        10,
    )
    assert params["gpus_per_node"] == 1 and params["cpus_per_task"] == 8  # a GPU per run on Slurm
    assert params["slurm_array_parallelism"] == 10 and params["slurm_qos"] == "high"
    assert (params["slurm_partition"], params["timeout_min"], params["mem_gb"]) == ("dev", 30, 60)


def test_slurm_submission_is_one_job_array(tmp_path, monkeypatch, cli):
    """Fake `srun`/`sbatch` on PATH: check the sbatch script submitit generates for the sweep."""
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = tmp_path / "submitted.sh"
    fakes = {
        "srun": "echo srun 23.02",
        "sbatch": f'cp "$1" {script}; echo "Submitted batch job 4242"',
    }
    for name, body in fakes.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = tiny_sweep(
        tmp_path,
        n=3,
        type="slurm",
        gpus_per_run=1,
        max_concurrent=2,
        threads_per_worker=4,
        slurm={"partition": "dev", "time": 30, "wait": False, "sbatch": {"constraint": "volta"}},
    )
    code, _, err = cli("sweep", str(config))
    assert code == 0, err
    assert "submitted 3 run(s) as array 4242" in err
    text = script.read_text()
    lines = ("--array=0-2%2", "--partition=dev", "--time=30", "--gpus-per-node=1")
    for line in (*lines, "--cpus-per-task=4", "--constraint=volta"):
        assert f"#SBATCH {line}" in text, line
    code, out, _ = cli("sweep", "status", str(tmp_path / "sweeps" / "tiny"))
    assert code == 0 and "pending 3" in out
