"""End to end: the same tiny sweep on the local, Ray and Slurm (submitit) launchers gives one table.

`tiny_sweep` is the fixture sweep the other sweep tests share: 16 px synthetic images, 256 train
images, one epoch, 2-stage AnyNets of a few thousand parameters, one thread per run.
"""

import importlib.util
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pycls_like.cli import main

SPACE = {
    "family": "anynet",
    "stages": 2,
    "params": {
        "ds": {"type": "int", "range": [1, 2]},
        "ws": {"type": "int", "range": [8, 24], "q": 8},
        "ss": [1, 2],
        "bs": 1.0,
        "gs": 8,
        "stem_type": "res_stem_cifar",
        "stem_w": 8,
        "resolution": 16,
        "num_classes": 10,
    },
    "optim": {"lr": {"type": "log_uniform", "range": [0.05, 0.5]}},
}


def tiny_sweep(tmp_path: Path, n: int = 4, name: str = "tiny", **launcher: Any) -> Path:
    """Write a tiny sweep YAML (sweep dir tmp_path/sweeps/NAME) and return its path."""
    config = {
        "name": name,
        "out": str(tmp_path / "sweeps"),
        "space": SPACE,
        "n": n,
        "seed": 0,
        "base": {
            "data": {"dataset": "synthetic", "n_train": 256, "n_test": 128},
            "optim": {"epochs": 1},
            "train": {"batch_size": 64, "test_batch_size": 128},
            "device": "cpu",
        },
        "launcher": {"workers": 2, "threads_per_worker": 1, "gpus_per_run": 0, **launcher},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def read_table(sweep_dir: Path) -> pd.DataFrame:
    return pd.read_csv(sweep_dir / "results.csv", dtype={"id": str})


SAME = ["id", "status", "ds_0", "ds_1", "ws_0", "ws_1", "optim.lr", "flops", "params", "acts"]
SAME += ["block_widths", "top1_err", "top5_err", "best_top1_err", "best_top5_err", "epochs"]


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory) -> Path:
    """One local-launcher sweep shared by the comparisons below (4 runs, 2 workers)."""
    tmp = tmp_path_factory.mktemp("local")
    assert main(["sweep", str(tiny_sweep(tmp)), "-q"]) == 0
    return tmp / "sweeps" / "tiny"


def test_local_sweep_table(local_sweep):
    table = read_table(local_sweep)
    assert list(table["id"]) == ["0000", "0001", "0002", "0003"]
    assert set(table["status"]) == {"complete"}
    assert list(table.columns[:2]) == ["id", "status"]
    for col in ("ds_0", "ws_1", "optim.lr", "flops", "params", "acts", "top1_err", "top5_err"):
        assert table[col].notna().all(), col
    for col in ("best_top1_err", "best_top5_err", "epochs", "train_time_s", "images_per_s"):
        assert table[col].notna().all(), col
    widths = [json.loads(w) for w in table["block_widths"]]
    assert all(
        len(w) == d0 + d1 for w, d0, d1 in zip(widths, table["ds_0"], table["ds_1"], strict=True)
    )
    if importlib.util.find_spec("pyarrow"):  # parquet is written only where pyarrow is installed
        assert pd.read_parquet(local_sweep / "results.parquet").shape == table.shape
    else:
        assert not (local_sweep / "results.parquet").exists()
    stored = yaml.safe_load((local_sweep / "sweep.yaml").read_text())
    assert stored["name"] == "tiny" and stored["space"]["family"] == "anynet"


@pytest.mark.slow
def test_rerun_is_a_no_op_and_bigger_n_adds_runs(local_sweep, tmp_path, cli):
    before = {p.parent.name: p.read_bytes() for p in (local_sweep / "runs").glob("*/result.json")}
    code, out, err = cli("sweep", str(local_sweep), "--set", "n=5")
    assert code == 0, err
    assert "set up 1 new runs (5 in all)" in err and "1 complete" in err
    table = read_table(local_sweep)
    assert list(table["id"]) == ["0000", "0001", "0002", "0003", "0004"]
    after = {p.parent.name: p.read_bytes() for p in (local_sweep / "runs").glob("*/result.json")}
    assert len(before) == 4 and all(after[k] == v for k, v in before.items())
    attempts = [
        len((d / "attempts.jsonl").read_text().splitlines())
        for d in (local_sweep / "runs").iterdir()
    ]
    assert attempts == [1] * 5


@pytest.mark.slow
def test_ray_launcher_gives_the_same_table(local_sweep, tmp_path):
    pytest.importorskip("ray")
    assert main(["sweep", str(tiny_sweep(tmp_path, type="ray")), "-q"]) == 0
    ray_table = read_table(tmp_path / "sweeps" / "tiny")
    local = read_table(local_sweep).iloc[:4]
    pd.testing.assert_frame_equal(ray_table[SAME], local[SAME])


@pytest.mark.slow
def test_slurm_debug_executor_gives_the_same_table(local_sweep, tmp_path):
    pytest.importorskip("submitit")
    import torch

    threads = torch.get_num_threads()  # the debug executor trains in this process
    config = tiny_sweep(tmp_path, type="slurm", cluster="debug")
    try:
        assert main(["sweep", str(config), "-q"]) == 0
    finally:
        torch.set_num_threads(threads)
    table = read_table(tmp_path / "sweeps" / "tiny")
    pd.testing.assert_frame_equal(table[SAME], read_table(local_sweep).iloc[:4][SAME])
