"""End to end: the same tiny sweep on the local, Ray and Slurm (submitit) launchers gives one table.

`tiny_sweep` (defined in tests/tiny_sweep.py, shared with tools/kill_harness.py) is the fixture
sweep the other sweep tests import from here.
"""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pycls_like.cli import main
from pycls_like.rundir import attempts
from tests.tiny_sweep import tiny_sweep


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


@pytest.mark.slow  # two worker processes start torch: left to the default run
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
    assert [attempts(d) for d in (local_sweep / "runs").iterdir()] == [1] * 5


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
