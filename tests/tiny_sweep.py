"""The tiny sweep the sweep tests and `tools/kill_harness.py` share (one definition).

16 px synthetic images, 256 train images, one epoch, 2-stage AnyNets of a few thousand
parameters, one thread per run: a run trains in about a second, so tests can launch, kill and
relaunch whole sweeps. Imports nothing heavy (no pytest, pandas or torch): the harness runs alone.
"""

from pathlib import Path
from typing import Any

import yaml

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
