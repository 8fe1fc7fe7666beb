"""Image folders (ImageNet layout) with tiny JPEGs written by the tests; PIL transforms."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pycls_like.data import DataConfig, build_data
from pycls_like.data.imagefolder import ImageFolderData, random_resized_crop_box
from pycls_like.errors import ConfigError

CPU = torch.device("cpu")
CLASSES = ("cat", "dog", "eel")


def write_folder(root: Path, n_train: int = 4, n_val: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                h, w = 20 + 7 * i, 30 + 5 * label
                pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                pixels[..., 0] = 80 * label  # the red level tells the class
                Image.fromarray(pixels).save(root / split / name / f"{i}.jpg")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    return root


def _data(root: Path, **kw) -> ImageFolderData:
    cfg = DataConfig(dataset="imagefolder", path=str(root), **kw)
    return build_data(cfg, resolution=16, device=CPU)


def test_splits_classes_and_batches(tmp_path: Path):
    data = _data(write_folder(tmp_path), workers=0)
    assert data.classes == list(CLASSES)
    assert (data.num_classes, data.n_train, data.n_test, data.resize) == (3, 12, 6, 18)
    batches = list(data.train_batches(5, seed=0))
    assert [len(y) for _, y in batches] == [5, 5]  # partial batch dropped
    x, y = batches[0]
    assert x.shape == (5, 3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    test = list(data.test_batches(4))
    assert [len(y) for _, y in test] == [4, 2]
    assert torch.cat([y for _, y in test]).tolist() == [0, 0, 1, 1, 2, 2]
    # The center crop keeps the class's red level (JPEG and resampling blur it a little).
    red = test[0][0][:, 0] * data.std[0] + data.mean[0]
    assert abs(red[0].mean().item() - 0.0) < 0.08 and abs(red[2].mean().item() - 80 / 255) < 0.08


def test_worker_processes_give_the_same_seeded_batches(tmp_path: Path):
    root = write_folder(tmp_path)
    serial = list(_data(root, workers=0).train_batches(4, seed=7))
    parallel = list(_data(root, workers=2).train_batches(4, seed=7))
    for (xs, ys), (xp, yp) in zip(serial, parallel, strict=True):
        assert torch.equal(xs, xp) and torch.equal(ys, yp)
    other = list(_data(root, workers=0).train_batches(4, seed=8))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(serial, other, strict=True))


def test_large_jpeg_decodes_through_draft(tmp_path: Path):
    root = write_folder(tmp_path)
    Image.new("RGB", (400, 300), (200, 10, 10)).save(root / "val" / "eel" / "big.jpg")
    data = _data(root, workers=0)
    x, _ = list(data.test_batches(8))[0]
    red = x[:, 0] * data.std[0] + data.mean[0]
    assert abs(red[-1].mean().item() - 200 / 255) < 0.03  # big.jpg sorts last


@settings(max_examples=50, deadline=None)
@given(w=st.integers(1, 500), h=st.integers(1, 500), seed=st.integers(0, 2**32 - 1))
def test_random_resized_crop_box_stays_inside(w: int, h: int, seed: int):
    left, top, right, bottom = random_resized_crop_box(w, h, np.random.default_rng(seed))
    assert 0 <= left < right <= w and 0 <= top < bottom <= h
    cw, ch = right - left, bottom - top
    is_fallback = cw == ch == min(w, h)
    # The box is rounded from a crop of >= 8% of the area with aspect in [3/4, 4/3]: each side
    # is within 0.5 px of such a crop (tiny images round far from the target aspect).
    area_ok = (cw + 0.5) * (ch + 0.5) >= 0.08 * w * h
    aspect_ok = (cw - 0.5) / (ch + 0.5) <= 4 / 3 and (cw + 0.5) / (ch - 0.5) >= 3 / 4
    assert is_fallback or (area_ok and aspect_ok)
    assert math.isfinite(cw * ch)


def test_bad_layouts_are_config_errors(tmp_path: Path):
    with pytest.raises(
        ConfigError, match=r"^data.path: .*expected ImageNet-style folders.*missing train/"
    ):
        _data(tmp_path / "nothing")
    root = write_folder(tmp_path / "a")
    (root / "val" / "fox").mkdir()
    with pytest.raises(ConfigError, match="val/fox is not a class in train/"):
        _data(root)
    empty = tmp_path / "b"
    (empty / "train" / "cat").mkdir(parents=True)
    (empty / "val").mkdir()
    with pytest.raises(ConfigError, match="found no images"):
        _data(empty)
