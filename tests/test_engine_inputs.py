"""Training from what users have: pycls configs with overrides, image folders without
num_classes, data errors that name the file; progress on a terminal, clean logs elsewhere."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from subprocess import PIPE

import pytest
import yaml

from pycls_like.data import DataConfig
from pycls_like.engine import load_run_config
from pycls_like.errors import ConfigError
from tests.test_data_imagefolder import write_folder
from tests.test_engine_train import TINY, tiny_config

# pycls's configs/dds_baselines/regnetx/RegNetX-200MF_dds_8gpu.yaml, as users have it.
PYCLS_IMAGENET = {
    "MODEL": {"TYPE": "regnet", "NUM_CLASSES": 1000},
    "REGNET": {"DEPTH": 13, "W0": 24, "WA": 36.44, "WM": 2.49, "GROUP_W": 8},
    "OPTIM": {
        "LR_POLICY": "cos",
        "BASE_LR": 0.8,
        "MAX_EPOCH": 100,
        "MOMENTUM": 0.9,
        "WEIGHT_DECAY": 5e-5,
        "WARMUP_EPOCHS": 5,
        "NESTEROV": True,
    },
    "TRAIN": {"DATASET": "imagenet", "IM_SIZE": 224, "BATCH_SIZE": 1024},
    "TEST": {"DATASET": "imagenet", "IM_SIZE": 256, "BATCH_SIZE": 800},
    "NUM_GPUS": 8,
    "OUT_DIR": ".",
}


def _write(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_setting_train_dataset_alone_moves_the_test_split(tmp_path: Path, capsys):
    """README: `pycls-like train pycls_config.yaml --out runs/r1 --set TRAIN.DATASET=synthetic`."""
    path = _write(tmp_path / "pycls_config.yaml", PYCLS_IMAGENET)
    cfg = load_run_config(path, ["TRAIN.DATASET=synthetic"])
    assert cfg.data.dataset == "synthetic" and cfg.model.num_classes == 10
    assert (cfg.model.resolution, cfg.optim.epochs, cfg.train.batch_size) == (224, 100, 1024)
    err = capsys.readouterr().err
    assert "TEST.DATASET follows TRAIN.DATASET ('synthetic', was 'imagenet')" in err
    assert path in err


def test_both_splits_set_keep_both(tmp_path: Path, capsys):
    path = _write(tmp_path / "p.yaml", PYCLS_IMAGENET)
    cfg = load_run_config(path, ["TRAIN.DATASET=synthetic", "TEST.DATASET=synthetic"])
    assert cfg.data.dataset == "synthetic" and capsys.readouterr().err == ""
    with pytest.raises(ConfigError) as err:
        load_run_config(path, ["TRAIN.DATASET=synthetic", "TEST.DATASET=cifar10"])
    assert (err.value.key, err.value.source) == ("TEST.DATASET", path)
    # A file that sets both differently is refused too: one dataset serves both splits here.
    data = {**PYCLS_IMAGENET, "TRAIN": {"DATASET": "cifar10", "DATA_PATH": "/x"}}
    with pytest.raises(ConfigError) as err:
        load_run_config(_write(tmp_path / "q.yaml", data))
    assert err.value.key == "TEST.DATASET"


def test_a_pycls_dataset_without_its_directory_names_the_key(tmp_path: Path):
    path = _write(tmp_path / "p.yaml", PYCLS_IMAGENET)
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    assert (err.value.key, err.value.source) == ("TRAIN.DATA_PATH", path)
    cfg = load_run_config(path, ["data.path=/data/imagenet"])  # the native key works as well
    assert (cfg.data.dataset, cfg.data.path) == ("imagefolder", "/data/imagenet")


def test_image_folder_of_three_classes_trains_without_num_classes(tmp_path: Path, cli):
    root = write_folder(tmp_path / "folder")
    assert DataConfig(dataset="imagefolder", path=str(root)).num_classes == 3
    config = tiny_config(
        data={"dataset": "imagefolder", "path": str(root), "workers": 0},
        optim={"epochs": 1},
        train={"batch_size": 4, "test_batch_size": 4},
    )
    assert "num_classes" not in config["model"]
    path = _write(tmp_path / "run.yaml", config)
    assert load_run_config(path).model.num_classes == 3
    code, out, err = cli("train", path, "--out", str(tmp_path / "run"), "--json", "-q")
    assert code == 0, err
    assert '"status": "complete"' in out


def test_image_folder_errors_name_the_config_file_and_key(tmp_path: Path, cli):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    config = tiny_config(data={"dataset": "imagefolder", "path": str(tmp_path / "empty")})
    path = _write(tmp_path / "run.yaml", config)
    code, _, err = cli("train", path, "--out", str(tmp_path / "run"))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"pycls-like train: error: {path}: data.path: ")
    assert "no class folders in train/" in err
    # Absent data is not an error before training: a sweep may be set up off the data's machine.
    config["data"]["path"] = str(tmp_path / "elsewhere")
    spec = load_run_config(_write(tmp_path / "later.yaml", config)).model
    assert spec.num_classes == TINY.get("num_classes", 1000)


def _train_cmd(tmp_path: Path, *extra: str) -> list[str]:
    tmp_path.mkdir(exist_ok=True)
    config = tiny_config(data={"n_train": 128, "n_test": 32}, optim={"epochs": 1})
    path = _write(tmp_path / "run.yaml", config)
    out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    return [sys.executable, "-m", "pycls_like", "train", path, "--out", str(out), *extra]


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_progress_bar_on_a_terminal(tmp_path: Path):
    """Step count, loss, images/s and ETA are live on a terminal, before the epoch line."""
    master, slave = pty.openpty()
    # A fresh pty is 0 columns wide, and tqdm draws nothing in 0 columns: size it like a terminal.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(_train_cmd(tmp_path), stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the run ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(master)
    shown = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, shown
    assert "preparing synthetic data at 16 px" in shown
    assert "epoch 1/1" in shown and "/4 [" in shown and "step/s" in shown  # 128 / 32 steps
    assert "img_s=" in shown and "loss=" in shown and "<" in shown  # "<" precedes the ETA
    assert shown.index("img_s=") < shown.index("epoch 1/1  loss")


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_logs_stay_clean_off_a_terminal_and_quiet_is_silent(tmp_path: Path):
    # Two fresh runs in their own folders, trained at once (half the wall time on 2 cores).
    cmds = [_train_cmd(tmp_path / "logged"), _train_cmd(tmp_path / "quiet", "-q")]
    procs = [subprocess.Popen(c, stdout=PIPE, stderr=PIPE, text=True) for c in cmds]
    (_, logged), (quiet_out, quiet_err) = (p.communicate(timeout=120) for p in procs)
    assert procs[0].returncode == 0, logged
    assert "\r" not in logged and "step/s" not in logged
    assert [line for line in logged.splitlines() if "epoch 1/1" in line]
    assert procs[1].returncode == 0 and quiet_err == ""
    assert quiet_out.startswith("complete: top1_err")


def test_pycls_pairs_may_follow_the_options(tmp_path: Path, cli):
    """`pycls-like train cfg.yaml --out DIR KEY VALUE ...`, as pycls users write OPTS last."""
    pycls = {
        "MODEL": {"TYPE": "anynet", "NUM_CLASSES": 10},
        "ANYNET": {
            "STEM_TYPE": "res_stem_cifar",
            "STEM_W": 8,
            "BLOCK_TYPE": "res_basic_block",
            "DEPTHS": [1],
            "WIDTHS": [8],
            "STRIDES": [1],
        },
        "OPTIM": {"MAX_EPOCH": 5},
        "TRAIN": {"DATASET": "synthetic", "IM_SIZE": 8, "BATCH_SIZE": 32},
    }
    path = _write(tmp_path / "p.yaml", pycls)
    out = tmp_path / "run"
    args = ["--set", "data.n_train=64", "--set", "data.n_test=32", "--set", "threads=1"]
    code, _, err = cli("train", path, "--out", str(out), *args, "-q", "OPTIM.MAX_EPOCH", "1")
    assert code == 0, err
    assert yaml.safe_load((out / "result.json").read_text())["epochs"] == 1
