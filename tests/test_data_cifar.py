"""CIFAR-10/100 python-pickle directories, written small by the tests."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from pycls_like.data import DataConfig, build_data
from pycls_like.data.cifar import load_cifar
from pycls_like.errors import ConfigError


def _write_batch(path: Path, n: int, label_key: bytes, offset: int) -> np.ndarray:
    rows = (np.arange(n * 3072).reshape(n, 3072) + offset) % 256
    labels = [(offset + i) % 10 for i in range(n)]
    with open(path, "wb") as f:
        pickle.dump({b"data": rows.astype(np.uint8), label_key: labels, b"batch_label": b"x"}, f)
    return rows


def write_cifar10(root: Path, n: int = 4) -> Path:
    root.mkdir(parents=True)
    for i in range(1, 6):
        _write_batch(root / f"data_batch_{i}", n, b"labels", offset=i)
    _write_batch(root / "test_batch", n + 2, b"labels", offset=0)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"c%d" % i for i in range(10)]}, f)
    return root


def test_cifar10_layout_and_pixel_order(tmp_path: Path):
    root = write_cifar10(tmp_path / "cifar-10-batches-py")
    x_train, y_train, x_test, y_test = load_cifar(root, "cifar10")
    assert x_train.shape == (20, 3, 32, 32) and x_train.dtype == torch.uint8
    assert x_test.shape == (6, 3, 32, 32) and y_test.tolist() == [0, 1, 2, 3, 4, 5]
    assert y_train[:4].tolist() == [1, 2, 3, 4]  # data_batch_1 comes first
    # Rows are channel-major: red plane, then green, then blue, each row by row.
    assert x_test[0, 1, 0, 0] == 1024 % 256 and x_test[0, 0, 0, 5] == 5
    # The parent directory works too.
    assert load_cifar(tmp_path, "cifar10")[0].shape == (20, 3, 32, 32)


def test_cifar100_fine_labels_through_build_data(tmp_path: Path):
    root = tmp_path / "c100"
    root.mkdir()
    _write_batch(root / "train", 12, b"fine_labels", offset=0)
    _write_batch(root / "test", 5, b"fine_labels", offset=3)
    data = build_data(
        DataConfig(dataset="cifar100", path=str(root)), resolution=32, device=torch.device("cpu")
    )
    assert (data.n_train, data.n_test, data.num_classes) == (12, 5, 100)
    x, y = next(data.train_batches(4, seed=0))
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and y.max() < 10


def test_missing_files_name_what_was_expected(tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        load_cifar(tmp_path / "nowhere", "cifar10")
    text = str(err.value)
    assert text.startswith("data.path: ") and "nowhere" in text
    assert "expected CIFAR-10 python files data_batch_1..5 and test_batch" in text
    with pytest.raises(ConfigError, match="CIFAR-100 python files train and test"):
        load_cifar(tmp_path, "cifar100")


def test_malformed_files_are_config_errors(tmp_path: Path):
    root = write_cifar10(tmp_path / "c10")
    (root / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="data_batch_3: not a CIFAR python batch"):
        load_cifar(root, "cifar10")
    with open(root / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 42]}, f)
    with pytest.raises(ConfigError, match="labels outside 0..9"):
        load_cifar(root, "cifar10")
