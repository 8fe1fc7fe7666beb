"""In-memory datasets: batched crop/flip on the device, seeded order, normalization, resizing."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pycls_like.data.memory import InMemoryData, crop_flip

CPU = torch.device("cpu")


def _data(n_train: int = 40, n_test: int = 10, size: int = 8, **kw) -> InMemoryData:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n_train + n_test, 3, size, size), generator=gen, dtype=torch.uint8)
    y = torch.arange(n_train + n_test) % 10
    kw = {"num_classes": 10, "resolution": size, "augment": True, "device": CPU, **kw}
    return InMemoryData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], **kw)


@settings(max_examples=20, deadline=None)
@given(pad=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_crop_flip_is_a_crop_of_the_padded_image(pad: int, seed: int):
    x = torch.randint(1, 256, (4, 3, 5, 6), dtype=torch.uint8)
    out = crop_flip(x, pad, torch.Generator().manual_seed(seed))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    for i in range(len(x)):
        offsets = range(2 * pad + 1)
        crops = [padded[i, :, dy : dy + 5, dx : dx + 6] for dy in offsets for dx in offsets]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(-1)) for c in crops)


def test_train_batches_are_seeded_full_and_distinct():
    data = _data(augment=False)
    a = list(data.train_batches(16, seed=1))
    b = list(data.train_batches(16, seed=1))
    c = list(data.train_batches(16, seed=2))
    assert len(a) == 2 and all(len(y) == 16 for _, y in a)  # the last partial batch is dropped
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b, strict=True))
    assert not torch.equal(a[0][0], c[0][0])
    # Without augmentation a batch is a permutation of distinct training images.
    first = a[0][0].flatten(1)
    assert len(torch.unique(first, dim=0)) == 16


def test_test_batches_cover_the_split_in_order_normalized():
    data = _data(augment=False)
    batches = list(data.test_batches(4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in batches]), data.y_test)
    x = torch.cat([x for x, _ in data.train_batches(40, seed=0)])
    assert x.dtype == torch.float32
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2)


def test_resizes_to_the_model_resolution_and_channels_last():
    data = _data(size=8, resolution=12, channels_last=True)
    x, _ = next(data.train_batches(8, seed=0))
    assert x.shape == (8, 3, 12, 12)
    assert x.is_contiguous(memory_format=torch.channels_last)
