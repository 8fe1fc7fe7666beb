"""Data-parallel runs (engine/distributed.py) on CPU: k gloo processes stand in for k GPUs.

What is shown: the ranks' shards of each global batch are exactly the single-process batch
(images, augmentation, labels); k = 2 follows the k = 1 loss curve (within float summation
order for a model without BN; within BN's per-process statistics for one with BN); a rank that
raises or is killed ends the run without a hang, recorded as failed, and the run resumes from
its checkpoint, with another k too; the k = 1 path is the one that existed before (bitwise);
`--gpus`, NUM_GPUS and the launchers' `gpus_per_run` reach the engine.
"""

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pycls_like.cli import main
from pycls_like.data import DataConfig, build_data
from pycls_like.data.base import Shard
from pycls_like.engine import load_run_config, run_config_from_dict, train
from pycls_like.engine.distributed import RankFailed, RankTraceback, run_ranks
from pycls_like.errors import ConfigError

CPU = torch.device("cpu")
# A ViT has no BN: its per-sample computation does not depend on how a batch is split, so k = 2
# differs from k = 1 only in the order floats are summed (gradient all-reduce, metric totals).
VIT = {"family": "vit", "depth": 1, "heads": 2, "hidden_d": 16, "mlp_d": 32, "patch_size": 4}
VIT |= {"resolution": 16}
# A CNN with BN: each process normalizes with the statistics of its own half batch (pycls).
CNN = {"family": "anynet", "ds": [1, 1], "ws": [8, 16], "ss": [1, 2], "stem_w": 8}
CNN |= {"stem_type": "res_stem_cifar", "block_type": "res_basic_block", "resolution": 16}
# Measured on the 2-core CPU machine (fp32, one thread per process), max over 3 epochs:
# ViT |k2 - k1|: 0 in train loss, 2.4e-07 in test loss, 0 in top-1 error;
# CNN |k2 - k1|: 9.2e-04 in train loss, 8.6e-04 in test loss; top-1 error up to 4.2 points
# (4 of 96 test images: the model is near chance after 3 epochs, so predictions are fragile).
VIT_TOL = 1e-5
CNN_TOL = 5e-3


def config(model: dict, **over) -> dict:
    cfg = {
        "model": model,
        "data": {"n_train": 256, "n_test": 96},
        "optim": {"epochs": 3, "lr": 0.2},
        "train": {"batch_size": 32, "test_batch_size": 40, "precision": "fp32"},
        "device": "cpu",
        "threads": 1,
    }
    return cfg | over


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def curve(out: Path) -> np.ndarray:
    return np.array([[r["train_loss"], r["test_loss"], r["top1_err"]] for r in metrics(out)])


# ---- the data: shards of a global batch are the single-process batch --------------------------


def test_in_memory_shards_are_the_single_process_batches():
    data = build_data(DataConfig(n_train=64, n_test=30), resolution=16, device=CPU)
    whole = list(data.train_batches(16, seed=3))
    parts = [list(data.train_batches(16, seed=3, shard=Shard(r, 2))) for r in range(2)]
    assert len(whole) == 4 and all(len(p) == 4 for p in parts)
    for step, (x, y) in enumerate(whole):
        assert torch.equal(torch.cat([p[step][0] for p in parts]), x)  # augmentation included
        assert torch.equal(torch.cat([p[step][1] for p in parts]), y)
    # Test batches are dealt out whole: batch i to rank i % k.
    tests = list(data.test_batches(8))
    dealt = [list(data.test_batches(8, shard=Shard(r, 2))) for r in range(2)]
    assert [len(d) for d in dealt] == [2, 2]
    for i, (x, y) in enumerate(tests):
        got = dealt[i % 2][i // 2]
        assert torch.equal(got[0], x) and torch.equal(got[1], y)


def test_image_folder_shards_are_the_single_process_batches(tmp_path: Path):
    from tests.test_data_imagefolder import write_folder

    root = write_folder(tmp_path, n_train=4, n_val=3)
    data = build_data(
        DataConfig(dataset="imagefolder", path=str(root), workers=0), resolution=16, device=CPU
    )
    whole = list(data.train_batches(4, seed=5))
    parts = [list(data.train_batches(4, seed=5, shard=Shard(r, 2))) for r in range(2)]
    assert len(whole) == 3
    for step, (x, y) in enumerate(whole):
        assert torch.equal(torch.cat([p[step][0] for p in parts]), x)
        assert torch.equal(torch.cat([p[step][1] for p in parts]), y)
    # The single-process order is still RandomSampler's with the same seed.
    sampler = torch.utils.data.RandomSampler(range(12), generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([data.train_samples[i][1] for i in list(sampler)[:12]])
    assert torch.equal(torch.cat([y for _, y in whole]), labels)
    tests = list(data.test_batches(4))
    dealt = [list(data.test_batches(4, shard=Shard(r, 2))) for r in range(2)]
    for i, (x, _) in enumerate(tests):
        assert torch.equal(dealt[i % 2][i // 2][0], x)


# ---- config: --gpus, NUM_GPUS, bad values ---------------------------------------------------


def test_gpus_comes_from_the_cli_and_pycls_num_gpus(tmp_path: Path):
    from tests.test_engine_inputs import PYCLS_IMAGENET  # a RegNet recipe with NUM_GPUS: 8

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(PYCLS_IMAGENET))
    synthetic = ["TRAIN.DATASET=synthetic", "TEST.DATASET=synthetic"]
    cfg = load_run_config(path, synthetic)
    assert cfg.gpus == 8 and cfg.train.batch_size == 1024  # the global batch, as in pycls
    assert load_run_config(path, [*synthetic, "gpus=2"]).gpus == 2
    assert run_config_from_dict(config(VIT)).gpus == 1
    with pytest.raises(ConfigError, match="gpus: must be >= 1"):
        run_config_from_dict(config(VIT, gpus=0))


def test_a_batch_that_does_not_split_is_one_line_exit_2(tmp_path: Path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config(VIT)))
    code = main(["train", str(path), "--out", str(tmp_path / "r"), "--gpus", "3", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "train.batch_size: 32 does not split evenly over 3 processes" in err


# ---- the rank watcher: a failing rank ends the run, no hang ---------------------------------


def _rank1_fails(index: int, wait_s: float) -> int:
    """Rank 1 raises at once; rank 0 would block for `wait_s` (the parent must not wait)."""
    if index == 1:
        raise ValueError("rank 1 broke")
    time.sleep(wait_s)
    return index


def _bad_input(index: int) -> None:
    raise ConfigError("no such folder", key="data.path", source="run.yaml")


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_a_rank_that_raises_ends_the_run_with_its_traceback():
    start = time.monotonic()
    with pytest.raises(RankFailed) as info:
        run_ranks(_rank1_fails, (300.0,), 2, "test")
    assert time.monotonic() - start < 120  # rank 0 was stopped, not waited for
    assert "rank 1 of 2 failed: ValueError: rank 1 broke" in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, RankTraceback) and "in _rank1_fails" in str(cause)
    with pytest.raises(ConfigError, match="run.yaml: data.path: no such folder"):
        run_ranks(_bad_input, (), 2, "test")


# ---- training: k = 2 follows k = 1 ----------------------------------------------------------


@pytest.fixture(scope="module")
def vit_runs(tmp_path_factory) -> dict[int, Path]:
    """The same ViT run with k = 1 (in this process) and k = 2 (two gloo processes)."""
    outs = {}
    for k in (1, 2):
        outs[k] = tmp_path_factory.mktemp(f"vit-k{k}")
        result = train(run_config_from_dict(config(VIT, gpus=k)), outs[k])
        assert result["status"] == "complete" and result["epochs"] == 3
    return outs


@pytest.mark.slow  # two gloo processes start torch: left to the default run
def test_two_processes_follow_the_single_process_curve_without_bn(vit_runs):
    one, two = curve(vit_runs[1]), curve(vit_runs[2])
    assert one.shape == two.shape == (3, 3)
    assert np.abs(two[:, :2] - one[:, :2]).max() < VIT_TOL
    assert np.abs(two[:, 2] - one[:, 2]).max() <= 100 / 96 + 1e-9  # at most one test image
    assert one[-1, 0] < one[0, 0]  # it learns
    result = json.loads((vit_runs[2] / "result.json").read_text())
    assert result["config"]["gpus"] == 2 and result["status"] == "complete"
    # Rank 0 wrote the run dir; the checkpoint is a plain single-model one.
    saved = torch.load(vit_runs[2] / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 3 and not any(k.startswith("module.") for k in saved["model"])


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_two_gpus_with_nccl_follow_one_gpu(tmp_path: Path):
    """The GPU path: one process per GPU with NCCL. Looser than on CPU: cuDNN and cuBLAS pick
    kernels per batch shape, so half batches are not summed in the same order."""
    outs = {k: tmp_path / f"k{k}" for k in (1, 2)}
    for k, out in outs.items():
        cfg = run_config_from_dict(config(VIT, gpus=k, device="cuda"))
        assert train(cfg, out)["status"] == "complete"
    assert np.abs(curve(outs[2])[:, :2] - curve(outs[1])[:, :2]).max() < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("precise_bn_images", [0, 64])  # 64: rank 0's statistics evaluated
def test_two_processes_follow_the_single_process_curve_with_bn(tmp_path: Path, precise_bn_images):
    outs = {k: tmp_path / f"k{k}" for k in (1, 2)}
    for k, out in outs.items():
        cfg = config(CNN, gpus=k)
        cfg["train"] = {**cfg["train"], "precise_bn_images": precise_bn_images}
        assert train(run_config_from_dict(cfg), out)["status"] == "complete"
    one, two = curve(outs[1]), curve(outs[2])
    assert np.abs(two[:, :2] - one[:, :2]).max() < CNN_TOL


@pytest.mark.slow
def test_a_stopped_two_process_run_resumes_to_the_same_curve(vit_runs, tmp_path: Path):
    """Checkpoint after epoch 1, resume with k = 2: bit-identical to the uninterrupted run
    (BN statistics and EMA are rank 0's at each checkpoint; RNGs are seeded per epoch)."""
    cfg = run_config_from_dict(config(VIT, gpus=2))
    assert train(cfg, tmp_path, max_epochs=1)["status"] == "incomplete"
    assert len(metrics(tmp_path)) == 1
    assert train(cfg, tmp_path)["status"] == "complete"
    assert np.array_equal(curve(tmp_path), curve(vit_runs[2]))


# ---- a rank killed mid-run --------------------------------------------------------------------


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_a_killed_rank_fails_the_run_which_resumes_from_its_checkpoint(tmp_path: Path, caplog):
    """SIGKILL rank 1 of `train --gpus 2` after its first checkpoint: the command ends (no hang)
    with exit code 1, the run is recorded failed with the rank's fate, and `train` again
    resumes from the checkpoint, here with k = 1 (the checkpoint does not depend on k)."""
    cfg = config(VIT, data={"n_train": 2048, "n_test": 96}, optim={"epochs": 4, "lr": 0.2})
    path, out = tmp_path / "run.yaml", tmp_path / "run"
    path.write_text(yaml.safe_dump(cfg))
    log = tmp_path / "stderr.txt"
    cmd = [sys.executable, "-m", "pycls_like.cli", "train", str(path), "--out", str(out)]
    with open(log, "w") as stderr:
        proc = subprocess.Popen([*cmd, "--gpus", "2"], stderr=stderr, stdout=subprocess.DEVNULL)
    try:
        _wait_for(lambda: "rank pids" in log.read_text(), 120, "the rank processes")
        pids = [int(p) for p in log.read_text().split("rank pids ")[1].split()[:2]]
        first = out / "metrics.jsonl"  # a line per checkpointed epoch
        _wait_for(lambda: first.exists() and first.read_text().strip(), 120, "a checkpoint")
        os.kill(pids[1], signal.SIGKILL)
        assert proc.wait(timeout=120) == 1
    finally:
        proc.kill()
    _wait_for(lambda: not _alive(pids[0]), 30, "rank 0 to end")
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "failed"
    assert "rank 1 of 2 died (terminated with signal SIGKILL)" in result["error"]
    assert "rank 1 of 2 died" in (out / "error.txt").read_text()
    before = metrics(out)
    assert 1 <= len(before) < 4  # killed mid-run

    with caplog.at_level(logging.INFO, logger="pycls_like.train"):
        assert train(load_run_config(path, ["gpus=1"]), out)["status"] == "complete"
    assert f"resuming after epoch {len(before)}" in caplog.text
    after = metrics(out)
    assert [r["epoch"] for r in after] == [1, 2, 3, 4]
    assert after[: len(before)] == before
    assert json.loads((out / "result.json").read_text())["status"] == "complete"
    assert not (out / "error.txt").exists()


# ---- k = 1 is the path that existed before ----------------------------------------------------


def _write_cifar(root: Path) -> Path:
    """A CIFAR-10 python folder of seeded noise (independent of the synthetic generator)."""
    rng = np.random.default_rng(0)
    root.mkdir()
    for name, n in [*((f"data_batch_{i}", 32) for i in range(1, 6)), ("test_batch", 64)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        batch[b"labels"] = rng.integers(0, 10, n).tolist()
        (root / name).write_bytes(pickle.dumps(batch))
    return root


def test_one_process_is_bitwise_the_pre_data_parallel_engine(tmp_path: Path):
    """Golden figures recorded with the engine before data parallelism (commit a3776e9), same
    config, one thread: (train_loss, test_loss, top1_err) per epoch, compared exactly. They
    change only if the model, optimizer or data code changes numerics on purpose."""
    golden = [
        (2.3021111488342285, 2.302816152572632, 92.1875),
        (2.2938454151153564, 2.30263614654541, 90.625),
    ]
    model = {**CNN, "stem_w": 8}
    cfg = {
        "model": model,
        "data": {"dataset": "cifar10", "path": str(_write_cifar(tmp_path / "c"))},
    }
    cfg |= {"optim": {"epochs": 2}, "train": {"batch_size": 32, "precision": "fp32"}}
    cfg |= {"device": "cpu", "threads": 1}
    train(run_config_from_dict(cfg), tmp_path / "run")
    got = [(r["train_loss"], r["test_loss"], r["top1_err"]) for r in metrics(tmp_path / "run")]
    assert got == golden
    assert not torch.distributed.is_initialized()


# ---- launchers: gpus_per_run: k trains each run over k processes --------------------------------


@pytest.mark.slow
def test_local_launcher_trains_a_run_over_its_gpu_group(tmp_path: Path, monkeypatch, cli):
    """Two 'GPUs' visible (CUDA_VISIBLE_DEVICES; this torch has no CUDA, so the ranks run on
    CPU with gloo, as on a GPU node they run one per GPU with NCCL)."""
    from tests.test_sweep_e2e import tiny_sweep

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    config_path = tiny_sweep(tmp_path, n=1, workers=None, gpus_per_run=2)
    code, _, err = cli("sweep", str(config_path))
    assert code == 0, err
    assert "1 worker(s) (GPU 0,1)" in err
    result = json.loads(next((tmp_path / "sweeps").glob("*/runs/0000/result.json")).read_text())
    assert result["status"] == "complete" and result["config"]["gpus"] == 2


@pytest.mark.slow
def test_a_ray_task_with_two_gpus_trains_its_run_over_two_processes(tmp_path: Path, cli):
    """A Ray cluster declaring 2 GPUs (none real: the task's ranks run on CPU with gloo)."""
    ray = pytest.importorskip("ray")
    from tests.test_sweep_e2e import tiny_sweep

    # Ray runs workers at nice 15 by default: on a busy machine they would crawl.
    ray.init(
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _system_config={"worker_niceness": 0},
    )
    try:
        code, _, err = cli("sweep", str(tiny_sweep(tmp_path, n=1, type="ray", gpus_per_run=2)))
    finally:
        ray.shutdown()
    assert code == 0, err
    assert "1 CPU / 2 GPU each" in err
    result = json.loads(next((tmp_path / "sweeps").glob("*/runs/0000/result.json")).read_text())
    assert result["status"] == "complete" and result["config"]["gpus"] == 2


def test_a_slurm_task_gets_the_run_gpus_and_starts_its_processes(tmp_path: Path, monkeypatch):
    """One array task per run with k GPUs of one node; execute_run gets gpus=k."""
    from types import SimpleNamespace

    from pycls_like.sweep import launch_slurm
    from pycls_like.sweep.config import LauncherConfig, SlurmConfig

    calls = {}

    class Executor:
        def map_array(self, fn, *columns):
            calls["fn"], calls["columns"] = fn, columns
            return [SimpleNamespace(job_id=f"7_{i}") for i in range(len(columns[0]))]

    monkeypatch.setattr(launch_slurm, "make_executor", lambda *a: Executor())
    launcher = LauncherConfig(type="slurm", gpus_per_run=4, slurm=SlurmConfig(wait=False))
    assert launch_slurm.executor_parameters(launcher, "s", 2)["gpus_per_node"] == 4
    monitor = SimpleNamespace(say=lambda text: None)
    launch_slurm.launch_slurm(
        tmp_path, launcher, "L", monitor, [tmp_path / "a", tmp_path / "b"], "s"
    )
    assert calls["fn"].__name__ == "execute_run" and calls["columns"][-1] == [4, 4]
