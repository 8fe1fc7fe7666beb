"""The dataset interface the engine trains on, and what both kinds of data share: the
normalization and the sharding of a global batch over data-parallel processes."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

Batch = tuple[Tensor, Tensor]  # (float images (n, 3, h, w) normalized, int64 labels (n,))


@dataclass(frozen=True)
class Shard:
    """Process `rank` of `world` data-parallel processes: which part of the data it serves.

    Training: every global batch of the run's seeded order is cut into `world` equal,
    contiguous parts and rank r takes part r, so the ranks together see exactly the batches one
    process would (DistributedSampler's guarantee, with the single-process order kept).
    Testing: test batch i goes to rank i % world, so each batch is the one a single process
    evaluates and only the summation order of the totals differs.
    """

    rank: int = 0
    world: int = 1

    def part(self, batch_size: int) -> slice:
        """This rank's rows of a global batch (`batch_size` divisible by `world`)."""
        size = batch_size // self.world
        return slice(self.rank * size, (self.rank + 1) * size)

    def takes(self, test_batch: int) -> bool:
        return test_batch % self.world == self.rank


WHOLE = Shard()  # one process serves everything


class ImageData(Protocol):
    """Train/test splits serving normalized batches on the training device."""

    num_classes: int
    image_size: int
    mean: tuple[float, float, float]  # per channel, on the [0, 1] scale
    std: tuple[float, float, float]
    n_train: int
    n_test: int

    def train_batches(self, batch_size: int, seed: int, shard: Shard = WHOLE) -> Iterator[Batch]:
        """One epoch of shuffled, augmented, full global batches of `batch_size` (this shard's
        part of each); the order and the augmentation depend only on `seed`."""
        ...

    def test_batches(self, batch_size: int, shard: Shard = WHOLE) -> Iterator[Batch]:
        """The test split in order (this shard's batches), unaugmented; the last may be smaller."""
        ...


class Normalizer:
    """uint8 batch -> float, (x/255 - mean)/std as one fused multiply-add per channel."""

    def __init__(
        self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
    ) -> None:
        std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -torch.tensor(mean, device=device).view(1, -1, 1, 1) / std_t

    def __call__(self, x: Tensor, channels_last: bool) -> Tensor:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        return torch.addcmul(self.shift, x.float(), self.scale).contiguous(memory_format=fmt)


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the [0, 1] scale of uint8 images (n, 3, h, w), in chunks."""
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    for chunk in images.split(4096):
        x = chunk.to(torch.float64).div_(255).transpose(0, 1).reshape(3, -1)
        total += x.sum(1)
        total_sq += (x * x).sum(1)
    count = images.numel() // 3
    mean = total / count
    std = (total_sq / count - mean**2).clamp(min=1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
