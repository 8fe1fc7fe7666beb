"""A persistent worker's later runs: the dataset is made once per process and reused, and a run
gives bitwise the same errors whether it trains alone in a fresh process or after other runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pycls_like.data import DataConfig
from pycls_like.data import cache as data_cache
from pycls_like.engine import run_config_from_dict, train
from tests.test_engine_train import TINY, tiny_config

OTHER = {**TINY, "ws": [16, 16, 32], "ds": [1, 2, 1]}  # another model on the same data

# Trains one config in a fresh interpreter and prints its metrics (nothing cached before it).
ALONE = """
import json, sys
from pycls_like.engine import run_config_from_dict, train
train(run_config_from_dict(json.loads(sys.argv[1])), sys.argv[2])
"""


def _errors(out: Path) -> list[tuple[float, float, float]]:
    """Every epoch's train loss and test errors, exactly as written."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["train_loss"], r["test_loss"], r["top1_err"]) for r in rows]


@pytest.fixture(autouse=True)
def empty_cache():
    data_cache.clear()
    yield
    data_cache.clear()


def test_the_dataset_is_made_once_per_process_and_key(monkeypatch):
    made: list[int] = []
    real = data_cache.build_data

    def counting(cfg, **kw):
        made.append(kw["resolution"])
        return real(cfg, **kw)

    monkeypatch.setattr(data_cache, "build_data", counting)
    cpu = torch.device("cpu")
    cfg = DataConfig(n_train=32, n_test=8)
    first = data_cache.cached_data(cfg, resolution=8, device=cpu)
    assert (
        data_cache.cached_data(DataConfig(n_train=32, n_test=8), resolution=8, device=cpu) is first
    )
    data_cache.cached_data(cfg, resolution=12, device=cpu)
    data_cache.cached_data(cfg, resolution=8, device=cpu, channels_last=True)  # evicts 8 px NCHW
    assert made == [8, 12, 8]
    assert len(data_cache.cached_keys()) == data_cache.MAX_ENTRIES
    data_cache.cached_data(cfg, resolution=8, device=cpu)
    assert made == [8, 12, 8, 8]


CONFIG = tiny_config(data={"n_train": 128, "n_test": 64}, optim={"epochs": 2})


def _after_another_run(tmp_path: Path) -> list[tuple[float, float, float]]:
    """The run trained in this process after another model (which made and cached the data)."""
    other = tiny_config(model=OTHER, data=CONFIG["data"], optim={"epochs": 1})
    train(run_config_from_dict(other), tmp_path / "other")
    assert len(data_cache.cached_keys()) == 1
    train(run_config_from_dict(CONFIG), tmp_path / "after")
    return _errors(tmp_path / "after")


def test_same_seed_same_errors_alone_or_after_other_runs(tmp_path: Path):
    after = _after_another_run(tmp_path)
    data_cache.clear()  # alone: the run makes its own data
    train(run_config_from_dict(CONFIG), tmp_path / "alone")
    assert after == _errors(tmp_path / "alone")
    assert len(after) == 2 and after[-1] != _errors(tmp_path / "other")[-1]


@pytest.mark.exhaustive  # a fresh interpreter with torch: ~10 s; the in-process case stays
def test_same_seed_same_errors_in_a_fresh_process(tmp_path: Path):
    after = _after_another_run(tmp_path)
    cmd = [sys.executable, "-c", ALONE, json.dumps(CONFIG), str(tmp_path / "fresh")]
    subprocess.run(cmd, check=True, timeout=300)
    assert after == _errors(tmp_path / "fresh")


def test_generated_images_are_stored_once_for_other_processes(tmp_path: Path, monkeypatch):
    from pycls_like.data import synthetic

    made: list[int] = []
    real = synthetic.make_synthetic

    def counting(n, size, seed):
        made.append(n)
        return real(n, size, seed)

    monkeypatch.setattr(synthetic, "make_synthetic", counting)
    monkeypatch.delenv(data_cache.CACHE_ENV, raising=False)
    x0, y0 = data_cache.stored_synthetic(16, 8, 3)  # no cache directory: just generated
    monkeypatch.setenv(data_cache.CACHE_ENV, str(tmp_path))
    x1, y1 = data_cache.stored_synthetic(16, 8, 3)  # generated and stored
    x2, y2 = data_cache.stored_synthetic(16, 8, 3)  # loaded
    assert made == [16, 16]
    assert torch.equal(x0, x1) and torch.equal(x1, x2) and torch.equal(y0, y2)
    (stored,) = tmp_path.glob("synthetic-8px-n16-s3-*.pt")
    stored.write_bytes(b"cut")  # a damaged file is made anew
    x3, _ = data_cache.stored_synthetic(16, 8, 3)
    assert made == [16, 16, 16] and torch.equal(x3, x0)


@pytest.mark.parametrize("damage", ["empty", "random", "wrong_shape", "wrong_type", "directory"])
def test_a_damaged_stored_image_file_is_never_served(tmp_path: Path, monkeypatch, damage: str):
    from pycls_like.data.synthetic import make_synthetic

    monkeypatch.setenv(data_cache.CACHE_ENV, str(tmp_path))
    data_cache.stored_synthetic(16, 8, 3)
    (stored,) = tmp_path.glob("synthetic-8px-n16-s3-*.pt")
    stored.unlink()
    if damage == "empty":
        stored.write_bytes(b"")
    elif damage == "random":
        stored.write_bytes(bytes(range(256)) * 4)
    elif damage == "wrong_shape":
        torch.save(
            {"images": torch.zeros(4, 3, 8, 8, dtype=torch.uint8), "labels": torch.zeros(4)}, stored
        )
    elif damage == "wrong_type":
        torch.save([1, 2, 3], stored)
    else:
        stored.mkdir()
    x, y = data_cache.stored_synthetic(16, 8, 3)
    x0, y0 = make_synthetic(16, 8, 3)
    assert torch.equal(x, x0) and torch.equal(y, y0)
    assert stored.is_dir() == (damage == "directory")
