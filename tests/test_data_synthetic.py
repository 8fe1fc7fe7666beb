"""The synthetic dataset: deterministic, balanced, any size, not solvable from colour alone, and
every class closed under the horizontal flip that augmentation applies."""

import torch

from pycls_like.data import DataConfig, build_data
from pycls_like.data.synthetic import CLASSES, NUM_CLASSES, make_synthetic


def test_deterministic_balanced_any_size():
    x, y = make_synthetic(50, 12, seed=3)
    assert x.shape == (50, 3, 12, 12) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.bincount(y, minlength=NUM_CLASSES).tolist() == [5] * NUM_CLASSES
    x2, y2 = make_synthetic(50, 12, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = make_synthetic(50, 12, seed=4)
    assert not torch.equal(x, x3)
    assert make_synthetic(3, 40, seed=0)[0].shape == (3, 3, 40, 40)
    assert len(CLASSES) == NUM_CLASSES == 10


def test_images_use_the_full_range():
    x, _ = make_synthetic(100, 16, seed=0)
    assert x.float().std() > 40  # not washed out
    assert (x.float().mean(dim=(1, 2, 3)).std()) > 10  # backgrounds vary between images


def test_mean_colour_does_not_reveal_the_class():
    """A nearest-centroid classifier on per-image mean colour stays near chance (10%)."""
    x, y = make_synthetic(2000, 16, seed=0)
    feats = x.float().mean(dim=(2, 3))
    train, test = slice(0, 1000), slice(1000, 2000)
    centroids = torch.stack([feats[train][y[train] == c].mean(0) for c in range(NUM_CLASSES)])
    pred = torch.cdist(feats[test], centroids).argmin(1)
    assert (pred == y[test]).float().mean() < 0.2


def test_build_data_splits_differ_and_normalize():
    data = build_data(
        DataConfig(n_train=60, n_test=30, seed=0),
        resolution=8,
        device=torch.device("cpu"),
    )
    assert (data.n_train, data.n_test, data.num_classes, data.image_size) == (60, 30, 10, 8)
    assert not torch.equal(data.x_train[:30], data.x_test)
    # Data seed s's test split is not data seed s+1's train split.
    other = build_data(
        DataConfig(n_train=30, n_test=30, seed=1), resolution=8, device=torch.device("cpu")
    )
    assert not torch.equal(data.x_test, other.x_train)


def test_every_class_is_closed_under_horizontal_flips():
    """A flip negates the diagonal gradient statistic sum(gx*gy)/sum(gx^2+gy^2); a class whose
    images are as likely as their mirrors (labels survive flip augmentation) averages ~0. A
    45-degree grating class (whose mirror is the 135-degree class) would average ~0.3."""
    x, y = make_synthetic(3000, 32, seed=0)
    grey = x.float().mean(1)
    gx = grey[:, 1:-1, 2:] - grey[:, 1:-1, :-2]
    gy = grey[:, 2:, 1:-1] - grey[:, :-2, 1:-1]
    diagonal = (gx * gy).sum((1, 2)) / (gx**2 + gy**2).sum((1, 2))
    means = torch.stack([diagonal[y == c].mean() for c in range(NUM_CLASSES)])
    assert means.abs().max() < 0.05, dict(zip(CLASSES, means.tolist(), strict=True))
    # The statistic does see diagonals: the mirrored half of the diagonal class flips its sign
    # (|statistic| ~0.19 there, diluted by low-contrast images, against class means < 0.05).
    diag = y == CLASSES.index("stripes_diag")
    assert diagonal[diag].abs().mean() > 0.12
