"""CIFAR-10/100 from the python-pickle directories distributed by the dataset's authors.

    cifar-10-batches-py/  data_batch_1 .. data_batch_5, test_batch, batches.meta  (labels: b"labels")
    cifar-100-python/     train, test, meta                                   (labels: b"fine_labels")

Each file is a pickled dict with b"data" (n x 3072 uint8, channel-major rows) and the labels.
`path` may be that directory or its parent.
"""

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pycls_like.errors import ConfigError

_LAYOUT = {
    # dataset: (subdirectory of a parent path, train files, test file, label key, description)
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        b"labels",
        "CIFAR-10 python files data_batch_1..5 and test_batch",
    ),
    "cifar100": (
        "cifar-100-python",
        ["train"],
        "test",
        b"fine_labels",
        "CIFAR-100 python files train and test",
    ),
}


def load_cifar(path: str | Path, dataset: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_train, y_train, x_test, y_test): uint8 images (n, 3, 32, 32) and int64 labels."""
    subdir, train_files, test_file, label_key, expected = _LAYOUT[dataset]
    root = Path(path).expanduser()
    if not (root / test_file).is_file() and (root / subdir / test_file).is_file():
        root = root / subdir
    missing = [f for f in [*train_files, test_file] if not (root / f).is_file()]
    if missing:
        raise ConfigError(f"{path}: expected {expected} (missing {missing[0]})", key="data.path")
    x_train, y_train = zip(*(_read_batch(root / f, label_key) for f in train_files), strict=True)
    x_test, y_test = _read_batch(root / test_file, label_key)
    num_classes = 10 if dataset == "cifar10" else 100
    for labels in (*y_train, y_test):
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
            raise ConfigError(f"{path}: labels outside 0..{num_classes - 1}", key="data.path")
    return torch.cat(x_train), torch.cat(y_train), x_test, y_test


def _read_batch(file: Path, label_key: bytes) -> tuple[Tensor, Tensor]:
    try:
        with open(file, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
        images = data.reshape(len(data), 3, 32, 32)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, OSError) as err:
        msg = f"{file}: not a CIFAR python batch ({type(err).__name__}: {err})"
        raise ConfigError(msg, key="data.path") from None
    if len(labels) != len(images):
        raise ConfigError(f"{file}: {len(images)} images but {len(labels)} labels", key="data.path")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels)
