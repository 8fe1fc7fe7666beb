"""ImageNet-layout image folders: ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg.

Images are decoded with PIL in DataLoader worker processes and shipped as uint8 (4x less
inter-process traffic than float); normalization happens on the device. Transforms follow the
standard ImageNet recipe (as torchvision implements it, which is not available here):
training takes a random-resized crop (8%-100% of the area, aspect 3/4-4/3) and a horizontal
flip; testing resizes the shorter side to `test_resize` (default resolution / 0.875, i.e. 256
for 224) and takes the center crop.
"""

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from pycls_like.cores import available_cores
from pycls_like.data import FOLDER_LAYOUT, DataConfig, folder_classes
from pycls_like.data.base import WHOLE, Batch, Normalizer, Shard
from pycls_like.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
Box = tuple[float, float, float, float]


def list_samples(split_dir: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(file, label) for every image under split_dir/<class>/, in a stable order."""
    samples = []
    for label, name in enumerate(classes):
        class_dir = split_dir / name
        if class_dir.is_dir():
            files = sorted(f for f in os.listdir(class_dir) if f.lower().endswith(EXTENSIONS))
            samples += [(str(class_dir / f), label) for f in files]
    return samples


def random_resized_crop_box(width: int, height: int, rng: np.random.Generator) -> Box:
    """A crop of 8%-100% of the area with log-uniform aspect 3/4-4/3; center crop after 10 misses."""
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left, top = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
            return (float(left), float(top), float(left + w), float(top + h))
    side = min(width, height)
    return center_box(width, height, side)


def center_box(width: int, height: int, side: float) -> Box:
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


class _Split(Dataset):
    """Decodes one image to a uint8 (3, size, size) tensor; randomness is seeded per (seed, index)."""

    def __init__(
        self, samples: list[tuple[str, int]], size: int, *, train: bool, resize: int, seed: int
    ) -> None:
        self.samples, self.size, self.train, self.resize, self.seed = (
            samples,
            size,
            train,
            resize,
            seed,
        )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        with Image.open(path) as img:
            if self.train:
                rng = np.random.default_rng((self.seed, index))
                box = random_resized_crop_box(*img.size, rng)
                flip = rng.random() < 0.5
            else:
                # Let the JPEG decoder downscale (by 1/2..1/8) while staying above the resize.
                scale = self.resize / min(img.size)
                img.draft("RGB", (math.ceil(img.size[0] * scale), math.ceil(img.size[1] * scale)))
                box = center_box(*img.size, min(img.size) * self.size / self.resize)
                flip = False
            out = img.convert("RGB").resize((self.size, self.size), Image.BILINEAR, box=box)
        if flip:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.asarray(out).copy()).permute(2, 0, 1), label


class ImageFolderData:
    """Train and val splits of an image folder; see `ImageData`."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(
        self,
        cfg: DataConfig,
        *,
        resolution: int,
        device: torch.device,
        channels_last: bool = False,
    ) -> None:
        root = Path(cfg.path).expanduser()
        train_dir, val_dir = root / "train", root / "val"
        self.classes = folder_classes(cfg.path)
        if not val_dir.is_dir():
            raise ConfigError(f"{cfg.path}: {FOLDER_LAYOUT} (missing val/)", key="data.path")
        unknown = sorted(
            d.name for d in val_dir.iterdir() if d.is_dir() and d.name not in self.classes
        )
        if unknown:
            msg = f"{cfg.path}: val/{unknown[0]} is not a class in train/"
            raise ConfigError(msg, key="data.path")
        self.train_samples = list_samples(train_dir, self.classes)
        self.test_samples = list_samples(val_dir, self.classes)
        if not self.train_samples or not self.test_samples:
            raise ConfigError(f"{cfg.path}: {FOLDER_LAYOUT} (found no images)", key="data.path")
        self.num_classes, self.image_size = len(self.classes), resolution
        self.n_train, self.n_test = len(self.train_samples), len(self.test_samples)
        self.augment = cfg.augment
        self.resize = cfg.test_resize or round(resolution / 0.875)
        cores = available_cores()
        self.workers = min(8, cores or 1) if cfg.workers is None else cfg.workers
        self.device, self.channels_last = device, channels_last
        self.normalize = Normalizer(self.mean, self.std, device)

    def train_batches(self, batch_size: int, seed: int, shard: Shard = WHOLE) -> Iterator[Batch]:
        split = _Split(
            self.train_samples, self.image_size, train=self.augment, resize=self.resize, seed=seed
        )
        # The order RandomSampler(generator=seed) draws; full global batches, this shard's part
        # of each. Augmentation is seeded per (seed, image), so it does not depend on the shard.
        order = torch.randperm(self.n_train, generator=torch.Generator().manual_seed(seed))
        batches = order[: self.n_train // batch_size * batch_size].view(-1, batch_size)
        part = batches[:, shard.part(batch_size)]
        yield from self._batches(Subset(split, part.flatten().tolist()), part.shape[1])

    def test_batches(self, batch_size: int, shard: Shard = WHOLE) -> Iterator[Batch]:
        split = _Split(self.test_samples, self.image_size, train=False, resize=self.resize, seed=0)
        mine = [i for i in range(self.n_test) if shard.takes(i // batch_size)]
        yield from self._batches(Subset(split, mine), batch_size)

    def _batches(self, images: Dataset, batch_size: int) -> Iterator[Batch]:
        cuda = self.device.type == "cuda"
        loader = DataLoader(
            images,
            batch_size=batch_size,
            num_workers=self.workers,
            pin_memory=cuda,  # page-locked host memory makes the copy below asynchronous
        )
        for x, y in loader:
            x = x.to(self.device, non_blocking=cuda)
            yield self.normalize(x, self.channels_last), y.to(self.device, non_blocking=cuda)
