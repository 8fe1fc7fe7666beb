"""Runs per GPU decided from measured figures: the pure decisions, then the local launcher's
measured packing end to end on CPU (fake GPU ids; the workers train on CPU)."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch

from pycls_like.cli import main
from pycls_like.engine import load_run_config, train
from pycls_like.sweep import launch_local
from pycls_like.sweep.claims import release, try_claim
from pycls_like.sweep.config import LauncherConfig
from pycls_like.sweep.launch_local import Slot, measures_packing, run_figures
from pycls_like.sweep.packing import (
    CONTEXT_MB,
    MAX_LEVEL,
    Packer,
    RunFigures,
    cpu_cap,
    memory_cap,
    parse_gpu_memory,
)
from pycls_like.sweep.progress import Monitor
from tests.tiny_sweep import tiny_sweep

MF = 1e6


def run(rate: float, mem: float = 200.0, flops: float = 10 * MF) -> RunFigures:
    return RunFigures(peak_mem_mb=mem, images_per_s=rate, flops=flops)


def test_caps_from_memory_and_cores():
    # 141 GB GPU, 200 MB runs: far more than MAX_LEVEL fit; 40 GB runs: 2.
    assert memory_cap(200, 143_771) == MAX_LEVEL
    assert memory_cap(40_000, 143_771) == 2
    assert memory_cap(1e9, 143_771) == 1  # never 0: one run always trains
    assert memory_cap(200, None) == MAX_LEVEL  # unknown memory: the cores decide
    assert memory_cap(0, 10 * CONTEXT_MB) == 9  # the per-process context alone
    assert cpu_cap(16, 1) == 16 and cpu_cap(16, 8) == 2 and cpu_cap(2, 8) == 1


def test_small_models_grow_until_the_rate_stops_growing():
    packer = Packer(gpu_mem_mb=143_771, cores=16, gpus=1)
    # Launch-bound: per-run rate barely drops up to 8 runs, then halves at 16.
    per_run = {1: 2000, 2: 1950, 4: 1900, 8: 1700, 16: 850}
    seen = []
    for _ in range(12):
        level = packer.level
        seen.append(level)
        if packer.settled:
            break
        for _ in range(packer.needed(level)):
            packer.observe(level, run(per_run[level]))
    assert seen[:5] == [1, 2, 4, 8, 16]
    assert packer.settled and packer.level == 8  # 16 gave x1.0: keep 8
    assert "settled at 8" in packer.reason


def test_a_model_that_fills_the_gpu_stays_nearly_alone():
    packer = Packer(gpu_mem_mb=143_771, cores=16, gpus=1)
    assert packer.observe(1, run(1000, mem=20_000, flops=800 * MF)) == 2
    for _ in range(2):  # two runs at once: each at half the rate, no gain
        packer.observe(2, run(520, mem=20_000, flops=800 * MF))
    assert packer.settled and packer.level == 2  # x1.04: the better of the two


def test_memory_and_cores_cap_the_level_and_a_bigger_model_lowers_it():
    packer = Packer(gpu_mem_mb=16_000, cores=64, gpus=1)
    assert packer.observe(1, run(2000, mem=2000)) == 2
    for _ in range(2):
        packer.observe(2, run(2000, mem=2000))
    # (2000 x 1.25 + 1024) MB per run: 4 fit in 90% of 16 GB.
    assert packer.level == 4
    for _ in range(3):
        packer.observe(4, run(2000, mem=2000))
    assert packer.settled and packer.level == 4 and "capped at 4" in packer.reason
    packer.observe(4, run(2000, mem=6000))  # a bigger model: 1 fits
    assert packer.level == 1 and "memory" in packer.reason
    one_core = Packer(gpu_mem_mb=None, cores=1, gpus=1)
    assert one_core.observe(1, run(5)) == 1 and one_core.settled  # a core per run


def test_runs_measured_at_another_level_are_not_judged():
    packer = Packer(gpu_mem_mb=None, cores=16, gpus=1)
    packer.observe(1, run(100))
    assert packer.level == 2
    packer.observe(1, run(50))  # a straggler from level 1: recorded, no decision
    assert packer.level == 2 and not packer.settled


def test_parse_nvidia_smi_memory():
    assert parse_gpu_memory("143771\n143771\n") == [143771.0, 143771.0]
    assert parse_gpu_memory("") == []


def test_packing_is_measured_only_when_nothing_fixes_it():
    one_per_gpu = [Slot(("0",), 8), Slot(("1",), 8)]
    assert measures_packing(LauncherConfig(), one_per_gpu)
    assert not measures_packing(LauncherConfig(runs_per_gpu=2), one_per_gpu)
    assert not measures_packing(LauncherConfig(workers=2), one_per_gpu)
    assert not measures_packing(LauncherConfig(), [Slot(("0", "1"), 8)])  # multi-GPU runs
    assert not measures_packing(LauncherConfig(), [Slot(None, 2)])  # CPU


def test_run_figures_only_for_runs_that_started_after_the_level(tmp_path: Path):
    run_dir = tmp_path / "0000"
    run_dir.mkdir()
    result = {"status": "complete", "top1_err": 50.0, "top5_err": 9.0, "train_time_s": 2.0}
    result |= {"images_per_s": 500.0, "flops": 4e6}
    (run_dir / "result.json").write_text(json.dumps(result))
    rows = [{"epoch": 1, "peak_mem_mb": 120.5}, {"epoch": 2, "peak_mem_mb": 130.0}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ended = (run_dir / "result.json").stat().st_mtime
    assert run_figures(run_dir, ended - 10) == RunFigures(130.0, 500.0, 4e6)
    assert run_figures(run_dir, ended - 1) is None  # it started before: not this level's run
    (run_dir / "result.json").write_text(json.dumps({**result, "status": "diverged"}))
    assert run_figures(run_dir, 0) is None


def _probe_seen_first(monkeypatch, sweep_dir: Path) -> None:
    """Order the launch so the driver sees the probe run end while runs are left to pack.

    Runs take ~0.1 s: left alone, the probe worker may finish all of them between two polls,
    and then the launcher rightly announces no growth (nothing is left to run at the new
    level). So the other runs are held by this process (a live claim, as another launch would
    hold them) until the driver has judged the probe and repacks; the probe worker finds
    nothing else to claim and exits, and the driver's next poll sees its run ended."""
    runs = sorted((sweep_dir / "runs").iterdir())
    held = [(r, try_claim(r, "held-by-test")) for r in runs[1:]]
    assert all(claim is not None for _, claim in held)
    spawned: list[subprocess.Popen] = []
    real_spawn, real_poll, real_repack = launch_local._spawn, Monitor.poll, launch_local.repack

    def spawn(*args, **kwargs) -> subprocess.Popen:
        spawned.append(real_spawn(*args, **kwargs))
        return spawned[-1]

    def poll(self: Monitor) -> None:
        if held:  # the probe worker trains run 0, finds the rest claimed and exits
            assert spawned[0].wait(timeout=120) == 0
        real_poll(self)

    def repack(*args, **kwargs) -> None:
        while held:  # the probe was judged: the held runs are free for the packed workers
            release(*held.pop())
        real_repack(*args, **kwargs)

    monkeypatch.setattr(launch_local, "_spawn", spawn)
    monkeypatch.setattr(Monitor, "poll", poll)
    monkeypatch.setattr(launch_local, "repack", repack)


# Exhaustive tier (7 s: worker processes start torch three times): the Packer's decisions, the
# run figures and when packing is measured are unit-tested in the default run above.
@pytest.mark.exhaustive
def test_measured_packing_end_to_end_on_cpu(tmp_path: Path, monkeypatch, capsys):
    """One fake GPU, 2 'cores': the launcher probes with one worker, then adds a worker; every
    run completes, and a packed run gives bitwise the errors of the same run trained alone."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setattr(launch_local, "available_cores", lambda: 2)  # level 2 is the cap
    monkeypatch.setattr(launch_local, "gpu_memory_mb", lambda: 80_000.0)
    sweep = tiny_sweep(tmp_path, n=3, workers=None, gpus_per_run=1, threads_per_worker=1)
    assert main(["sweep", "setup", str(sweep)]) == 0
    sweep_dir = tmp_path / "sweeps" / "tiny"
    _probe_seen_first(monkeypatch, sweep_dir)
    assert main(["sweep", "launch", str(sweep)]) == 0
    err = capsys.readouterr().err
    assert "packing: probe: the first run trains alone on each GPU" in err, err
    assert "packing: growing: 1 run(s) per GPU measured alone; trying 2" in err, err
    logs = sorted((sweep_dir / "logs").glob("worker-*.log"))
    assert len(logs) == 3  # the probe worker, then 2 per GPU
    trained = re.findall(r"^(\d{4}) (\w+)$", logs[0].read_text(), re.MULTILINE)
    assert trained == [("0000", "complete")]  # the probe worker trained run 0 alone
    results = sorted((sweep_dir / "runs").glob("*/result.json"))
    assert len(results) == 3
    assert {json.loads(p.read_text())["status"] for p in results} == {"complete"}
    # Runs 1 and 2 went to two workers sharing the "GPU"; alone (same threads) run 2 gives the
    # same errors, to the bit.
    packed = results[-1].parent
    alone = train(load_run_config(packed / "config.yaml", ["threads=1"]), tmp_path / "alone")
    assert alone["top1_err"] == json.loads((packed / "result.json").read_text())["top1_err"]
    metrics = [(packed / "metrics.jsonl"), (tmp_path / "alone" / "metrics.jsonl")]
    losses = [[json.loads(r)["test_loss"] for r in m.read_text().splitlines()] for m in metrics]
    assert losses[0] == losses[1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_measured_packing_on_cuda(tmp_path: Path, monkeypatch, capsys):
    """The same launch on the real GPU: nvidia-smi memory, CUDA peak memory, packed workers.
    cuDNN is not deterministic here, so a packed run's error is held to a tolerance: within
    10 points of top-1 and 0.1 of test loss of the same run trained alone."""
    sweep = tiny_sweep(tmp_path, n=4, workers=None, gpus_per_run=None, threads_per_worker=1)
    cuda = ["--set", "base.device=cuda"]
    assert main(["sweep", "setup", str(sweep), *cuda]) == 0
    _probe_seen_first(monkeypatch, tmp_path / "sweeps" / "tiny")
    assert main(["sweep", "launch", str(sweep), *cuda]) == 0
    err = capsys.readouterr().err
    assert "packing: probe" in err and "packing: growing" in err, err
    sweep_dir = tmp_path / "sweeps" / "tiny"
    results = sorted((sweep_dir / "runs").glob("*/result.json"))
    assert [json.loads(p.read_text())["status"] for p in results] == ["complete"] * 4
    packed = results[-1].parent
    assert run_figures(packed, 0) is not None and run_figures(packed, 0).peak_mem_mb > 0
    alone = train(load_run_config(packed / "config.yaml"), tmp_path / "alone")
    result = json.loads((packed / "result.json").read_text())
    assert result["device"] == "cuda" == alone["device"]
    assert abs(alone["top1_err"] - result["top1_err"]) <= 10
    losses = [
        json.loads(m.read_text().splitlines()[-1])["test_loss"]
        for m in (packed / "metrics.jsonl", tmp_path / "alone" / "metrics.jsonl")
    ]
    assert abs(losses[0] - losses[1]) <= 0.1
