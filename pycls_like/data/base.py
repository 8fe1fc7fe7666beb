"""The dataset interface the engine trains on, and the normalization both kinds of data share."""

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor

Batch = tuple[Tensor, Tensor]  # (float images (n, 3, h, w) normalized, int64 labels (n,))


class ImageData(Protocol):
    """Train/test splits serving normalized batches on the training device."""

    num_classes: int
    image_size: int
    mean: tuple[float, float, float]  # per channel, on the [0, 1] scale
    std: tuple[float, float, float]
    n_train: int
    n_test: int

    def train_batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        """One epoch of shuffled, augmented, full batches; the order depends only on `seed`."""
        ...

    def test_batches(self, batch_size: int) -> Iterator[Batch]:
        """The test split in order, unaugmented; the last batch may be smaller."""
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
