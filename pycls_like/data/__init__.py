"""Datasets behind one interface: train/test batches already on the device, normalized.

    synthetic    embedded default: procedurally drawn shapes and textures (see synthetic.py)
    cifar10      CIFAR-10 python-pickle directory (data_batch_1..5, test_batch)
    cifar100     CIFAR-100 python-pickle directory (train, test; fine labels)
    imagefolder  ImageNet layout ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg

In-memory datasets (synthetic, CIFAR) live as uint8 tensors on the training device and are
augmented there in whole batches; image folders are decoded by DataLoader worker processes.
This module is torch-free (configs are read by sweeps that never train); `build_data` imports
the loaders lazily.
"""

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pycls_like.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from pycls_like.data.base import ImageData

DATASETS = ("synthetic", "cifar10", "cifar100", "imagefolder")
# Class counts known without reading data (image folders count their class directories).
FIXED_NUM_CLASSES = {"synthetic": 10, "cifar10": 10, "cifar100": 100}
FOLDER_LAYOUT = "expected ImageNet-style folders train/<class>/*.jpg and val/<class>/*.jpg"


def folder_classes(path: str) -> list[str]:
    """The classes of an image folder: the directories of ROOT/train, sorted (labels 0..n-1)."""
    train_dir = Path(path).expanduser() / "train"
    if not train_dir.is_dir():
        raise ConfigError(f"{path}: {FOLDER_LAYOUT} (missing train/)", key="data.path")
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    if not classes:
        raise ConfigError(f"{path}: {FOLDER_LAYOUT} (no class folders in train/)", key="data.path")
    return classes


@dataclass(frozen=True)
class DataConfig:
    """The `data:` section of a run config."""

    dataset: str = "synthetic"
    path: str | None = None  # directory for cifar10/cifar100/imagefolder
    n_train: int = 10000  # synthetic only
    n_test: int = 2000  # synthetic only
    seed: int = 0  # synthetic generation seed: every run of a sweep sees the same images
    augment: bool = True  # crop + flip (in memory); random-resized crop + flip (image folders)
    test_resize: int | None = None  # image folders: shorter side before the center crop
    workers: int | None = None  # image folders: DataLoader processes (None: min(8, cores))

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            msg = f"must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            raise ConfigError(msg, key="dataset")
        if self.dataset != "synthetic" and not self.path:
            raise ConfigError(f"dataset {self.dataset} needs a directory", key="path")
        for key in ("n_train", "n_test"):
            if getattr(self, key) < 1:
                raise ConfigError(f"must be >= 1, got {getattr(self, key)}", key=key)
        if self.test_resize is not None and self.test_resize < 1:
            raise ConfigError(f"must be >= 1, got {self.test_resize}", key="test_resize")
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"must be >= 0, got {self.workers}", key="workers")

    @functools.cached_property
    def num_classes(self) -> int | None:
        """The dataset's class count: fixed by its kind, or the class folders of an image folder.

        None for an image folder that is not there (yet): a sweep may be set up on a machine
        without the data; training reads the folder and counts then.
        """
        if self.dataset != "imagefolder":
            return FIXED_NUM_CLASSES[self.dataset]
        if not (Path(str(self.path)).expanduser() / "train").is_dir():
            return None
        return len(folder_classes(str(self.path)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_data(
    cfg: DataConfig, *, resolution: int, device: "torch.device", channels_last: bool = False
) -> "ImageData":
    """Load or generate the dataset for images of `resolution` px, serving batches on `device`."""
    from pycls_like.data.memory import InMemoryData

    if cfg.dataset == "synthetic":
        from pycls_like.data.cache import stored_synthetic

        # Distinct generator seeds per split, so no data seed's train set is another's test set.
        x_train, y_train = stored_synthetic(cfg.n_train, resolution, 2 * cfg.seed)
        x_test, y_test = stored_synthetic(cfg.n_test, resolution, 2 * cfg.seed + 1)
        splits = (x_train, y_train, x_test, y_test)
    elif cfg.dataset in ("cifar10", "cifar100"):
        from pycls_like.data.cifar import load_cifar

        splits = load_cifar(cfg.path, cfg.dataset)
    else:
        from pycls_like.data.imagefolder import ImageFolderData

        return ImageFolderData(
            cfg, resolution=resolution, device=device, channels_last=channels_last
        )
    return InMemoryData(
        *splits,
        num_classes=FIXED_NUM_CLASSES[cfg.dataset],
        resolution=resolution,
        augment=cfg.augment,
        device=device,
        channels_last=channels_last,
    )
