"""Datasets kept alive between runs of one process: a worker that trains run after run makes
its data once per (data config, resolution, device, layout), not once per run.

Generating the synthetic set is most of a tiny run's time (measured on 2 loaded CPU cores:
13 s for 8,000 images at 32 px, 150 s for 2,000 at 224 px, against seconds of training on a
GPU). In-memory datasets are read-only after construction (batches are new tensors drawn from
a seed), so a reused one serves exactly the batches a fresh one would: same seed, same run.
Image folders stream from disk and are never cached. The cache holds the last `MAX_ENTRIES`
datasets (on the training device: a packed GPU worker keeps one copy, not one per run).

Across processes, generated synthetic images are stored once in `$PYCLS_LIKE_DATA_CACHE` when
it is set (the local launcher sets it to SWEEP_DIR/data_cache for its workers): the first
process to need a split generates it under a file lock, the others load it. The file name
carries a hash of the generator's source, so a changed generator never serves old images.
"""

import fcntl
import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from pycls_like.data import DataConfig, build_data
from pycls_like.fileio import atomic_write

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from pycls_like.data.base import ImageData

CACHE_ENV = "PYCLS_LIKE_DATA_CACHE"  # directory for generated images shared by processes
# Two: a worker alternating between two resolutions (a study's pairs) keeps both; more would
# hold device memory for datasets that are rarely asked for again.
MAX_ENTRIES = 2
CACHED = ("synthetic", "cifar10", "cifar100")  # in-memory kinds; image folders stream

Key = tuple[DataConfig, int, str, bool]
_cache: "OrderedDict[Key, ImageData]" = OrderedDict()


def data_key(cfg: DataConfig, resolution: int, device: "torch.device", channels_last: bool) -> Key:
    """What makes two requests the same dataset (the config is frozen, hence hashable)."""
    return (cfg, resolution, str(device), channels_last)


def cached_data(
    cfg: DataConfig, *, resolution: int, device: "torch.device", channels_last: bool = False
) -> "ImageData":
    """`build_data`, reusing this process's last datasets for in-memory kinds."""
    if cfg.dataset not in CACHED:
        return build_data(cfg, resolution=resolution, device=device, channels_last=channels_last)
    key = data_key(cfg, resolution, device, channels_last)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    data = build_data(cfg, resolution=resolution, device=device, channels_last=channels_last)
    put(key, data)
    return data


def put(key: Key, data: "ImageData") -> None:
    """Store a dataset made elsewhere (a benchmark that loads it from a file), evicting the oldest."""
    _cache[key] = data
    _cache.move_to_end(key)
    while len(_cache) > MAX_ENTRIES:
        _cache.popitem(last=False)


def clear() -> None:
    """Drop every cached dataset (frees its device memory once no run holds it)."""
    _cache.clear()


def cached_keys() -> list[Key]:
    """The keys held now, oldest first (tests, benchmarks)."""
    return list(_cache)


def _generator_hash() -> str:
    from pycls_like.data import synthetic

    return hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]


def stored_synthetic(n: int, size: int, seed: int) -> "tuple[Tensor, Tensor]":
    """`make_synthetic(n, size, seed)`, read from `$PYCLS_LIKE_DATA_CACHE` if another process
    made it (else generated, then stored for the next one); just generated when unset."""
    import torch

    from pycls_like.data.synthetic import make_synthetic

    root = os.environ.get(CACHE_ENV)
    if not root:
        return make_synthetic(n, size, seed)
    path = Path(root) / f"synthetic-{size}px-n{n}-s{seed}-{_generator_hash()}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process generates; the others wait, then load
        try:
            stored = torch.load(path, weights_only=True)
            images, labels = stored["images"], stored["labels"]
            expected = ((n, 3, size, size), torch.uint8, (n,), torch.int64)
            if (images.shape, images.dtype, labels.shape, labels.dtype) == expected:
                return images, labels
        except Exception:  # absent, or damaged in any way: make it anew
            pass
        images, labels = make_synthetic(n, size, seed)
        if not path.is_dir():  # something in its place that is not ours: leave it, do not store
            data = {"images": images, "labels": labels}
            atomic_write(path, lambda f: torch.save(data, f), "wb")
        return images, labels
