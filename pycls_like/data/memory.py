"""In-memory datasets (synthetic, CIFAR): uint8 tensors on the device, augmented in whole batches.

Per-image Python work would dominate small-model training, so a batch is cropped, flipped,
resized and normalized by a few tensor ops on the training device instead.
"""

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from pycls_like.data.base import WHOLE, Batch, Normalizer, Shard, channel_stats


class InMemoryData:
    """Train/test uint8 images (n, 3, h, w) with int64 labels; see `ImageData`."""

    def __init__(
        self,
        x_train: Tensor,
        y_train: Tensor,
        x_test: Tensor,
        y_test: Tensor,
        *,
        num_classes: int,
        resolution: int,
        augment: bool,
        device: torch.device,
        channels_last: bool = False,
    ) -> None:
        self.num_classes, self.image_size = num_classes, resolution
        self.n_train, self.n_test = len(y_train), len(y_test)
        self.mean, self.std = channel_stats(x_train)
        self.device, self.channels_last = device, channels_last
        self.x_train, self.y_train = x_train.to(device), y_train.to(device)
        self.x_test, self.y_test = x_test.to(device), y_test.to(device)
        # Zero padding of 4 px at 32 px, the CIFAR recipe of the ResNet and pycls papers.
        self.pad = max(1, round(x_train.shape[-1] / 8)) if augment else 0
        self.normalize = Normalizer(self.mean, self.std, device)

    def train_batches(self, batch_size: int, seed: int, shard: Shard = WHOLE) -> Iterator[Batch]:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        order = torch.randperm(self.n_train, generator=gen, device=self.device)
        part = shard.part(batch_size)
        for start in range(0, self.n_train - batch_size + 1, batch_size):
            idx = order[start : start + batch_size][part]
            x = self.x_train[idx]
            if self.pad:
                x = crop_flip(x, self.pad, gen, batch_size=batch_size, first=part.start)
            yield self._prepare(x), self.y_train[idx]

    def test_batches(self, batch_size: int, shard: Shard = WHOLE) -> Iterator[Batch]:
        for i, start in enumerate(range(0, self.n_test, batch_size)):
            if shard.takes(i):
                stop = start + batch_size
                yield self._prepare(self.x_test[start:stop]), self.y_test[start:stop]

    def _prepare(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            size = (self.image_size, self.image_size)
            x = F.interpolate(x.float(), size=size, mode="bilinear", antialias=True)
        return self.normalize(x, self.channels_last)


def crop_flip(
    x: Tensor, pad: int, gen: torch.Generator, *, batch_size: int | None = None, first: int = 0
) -> Tensor:
    """Random crop of the zero-padded batch (offsets 0..2*pad) and horizontal flip, per image.

    `x` may be rows first.. of a batch of `batch_size` (a data-parallel rank's part): the draws
    are made for the whole batch and this part's are used, so every rank's generator stays in
    step and the crops are those a single process would draw.
    """
    n, _, h, w = x.shape
    total = batch_size or n
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (total, 1), generator=gen, device=dev)[first : first + n]
    dx = torch.randint(0, 2 * pad + 1, (total, 1), generator=gen, device=dev)[first : first + n]
    rows = dy + torch.arange(h, device=dev)  # (n, h)
    cols = dx + torch.arange(w, device=dev)  # (n, w)
    flip = (torch.rand((total, 1), generator=gen, device=dev) < 0.5)[first : first + n]
    cols = torch.where(flip, cols.flip(1), cols)
    # Advanced indexing around the channel slice gives (n, h, w, c): back to (n, c, h, w).
    batch = torch.arange(n, device=dev)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
