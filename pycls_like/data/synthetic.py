"""Synthetic shapes-and-textures: the embedded default dataset, generated in memory in seconds.

Ten classes, each an object drawn at a random position, size and colour on a cluttered
background, so that classifying needs spatial structure (orientation, periodicity, corners):

    0 stripes_v     stripes, wave direction 0 deg (+-10)   5 square    a filled square, any rotation
    1 stripes_h     stripes, wave direction 90 deg (+-10)  6 cross     a plus sign, any rotation
    2 stripes_diag  stripes at 45 or 135 deg (+-10)        7 checker   a round checkerboard patch
    3 rings         concentric rings                       8 triangle  a filled triangle, any rotation
    4 disk          a filled disk                          9 star      a five-pointed star, any rotation

Every class is closed under the horizontal flip that augmentation applies (a flip maps wave
direction d to 180 - d: 0 and 90 map to themselves, 45 and 135 to each other inside one class;
the shapes are drawn at uniform random rotations), so no augmentation changes a label.
Stripes, rings and checkerboards fill a disk (so their outline says nothing) with a random
frequency (period >= 3 px) and phase; objects span 40-70% of the half-image in radius.
The object is brighter than the background in every channel by a contrast drawn per image
from 0.1-0.5 (background colours random); nuisances: smooth coloured clutter on the background,
a thin line segment and a blob in random colours (distractors, drawn under the object), and
Gaussian pixel noise of a per-image std in 0.03-0.1. Contrast and noise vary from image to
image, so difficulty is graded: faint, noisy objects are where larger models gain.
Everything is drawn in coordinates relative to the image, so any resolution poses the same task.

Measured by tools/synthetic_claims.py (32 px, 10k train / 2k test images; chance 90% error;
three runs, 2 threads twice and 1 once): colour statistics alone (per-channel mean and std,
quadratic logistic regression) reach 86.2-86.3% error; a 5-layer CNN trained 4 epochs without
flips reaches 2.4-2.5%, and 2.5-2.6% on the mirrored test images, no wrong label gaining more
than 2 points under mirroring (a class pair that mirrors into each other, like 45/135-degree
gratings, would show ~50).
At the demo's budget (one pass over 40k images, SGD), tools/finding_check.py measured over 20
cifar_resnet models at 6.7-70 MF: Spearman(flops, error) = -0.78, median error 3.2% (1.4-15.2%),
no run near chance; a second training seed moved a model's error by 0.79 points on average (max
3.6). Over its 19 distinct architectures the two seeds' errors correlate at Pearson 0.965 (BCa
95% interval 0.81-0.99; Spearman 0.79; 0.86 without the smallest model), but only at 0.53 over
the 10 largest, whose errors (1.4-4.5%) differ by about the seed noise. Four passes over 10k
images (the same steps) gave 1.7-8.1%, seeds 0.49 points apart, Pearson 0.895 (0.66-0.98;
Spearman 0.69; 0.76 without the smallest; 0.83 over the 10 largest): the single pass spreads
the small models apart more than it adds seed noise. A harder version (contrast from 0.05, noise
to 0.15; 10k x 4) spread errors over 9-35% but moved them by 1.8 points (Pearson 0.83).
"""

import math

import torch
from torch import Tensor

CLASSES = (
    "stripes_v",
    "stripes_h",
    "stripes_diag",
    "rings",
    "disk",
    "square",
    "cross",
    "checker",
    "triangle",
    "star",
)
NUM_CLASSES = len(CLASSES)
CONTRAST = (0.1, 0.5)  # object minus background brightness, drawn per image
NOISE = (0.03, 0.1)  # std of the Gaussian pixel noise, drawn per image


def make_synthetic(n: int, size: int, seed: int) -> tuple[Tensor, Tensor]:
    """`n` balanced, shuffled images as (uint8 (n, 3, size, size), int64 labels (n,)); deterministic."""
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % NUM_CLASSES)[torch.randperm(n, generator=gen)]
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    # Chunks bound memory to ~16 MB per float field at any resolution.
    chunk = max(1, 2**22 // (size * size))
    for start in range(0, n, chunk):
        images[start : start + chunk] = _render(labels[start : start + chunk], size, gen)
    return images, labels


def _uniform(gen: torch.Generator, shape: tuple[int, ...], lo: float, hi: float) -> Tensor:
    return torch.rand(shape, generator=gen) * (hi - lo) + lo


def _edge(dist: Tensor, pix: Tensor) -> Tensor:
    """Antialiased inside-mask from a signed distance (object units, > 0 inside); ~1 px ramp."""
    return (dist * pix + 0.5).clamp_(0, 1)


def _render(labels: Tensor, size: int, gen: torch.Generator) -> Tensor:
    m = len(labels)
    axis = (torch.arange(size) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    yy, xx = axis[None, :, None], axis[None, None, :]

    # Object pose: centre, radius (fraction of the half-image), rotation, frequency, phase.
    cx, cy = _uniform(gen, (m, 1, 1), -0.4, 0.4), _uniform(gen, (m, 1, 1), -0.4, 0.4)
    radius = _uniform(gen, (m, 1, 1), 0.4, 0.7)
    theta = _uniform(gen, (m, 1, 1), 0, 2 * math.pi)
    # Stripes: wave direction 0 deg (vertical stripes), 90 deg, or 45/135 deg at random (+-10):
    # each class's set of directions is closed under a horizontal flip (theta -> 180 - theta).
    is_stripes = labels < 3
    base = torch.tensor([0.0, 90.0, 45.0])[labels.clamp(max=2)]
    diagonal = torch.rand(m, generator=gen) < 0.5
    base = torch.where((labels == 2) & diagonal, torch.full_like(base, 135.0), base)
    jitter = _uniform(gen, (m,), -10, 10)
    theta[is_stripes, 0, 0] = torch.deg2rad(base + jitter)[is_stripes]
    pix = radius * size / 2  # object radius in pixels
    # Frequency in cycles per radius; capped so that a period spans at least 3 pixels.
    freq = torch.minimum(_uniform(gen, (m, 1, 1), 1.5, 3.0), pix / 3)
    phase = _uniform(gen, (m, 1, 1), 0, 2 * math.pi)

    dx, dy = xx - cx, yy - cy
    u = (dx * theta.cos() + dy * theta.sin()) / radius
    v = (-dx * theta.sin() + dy * theta.cos()) / radius
    r = (u * u + v * v).sqrt()
    disk = _edge(1 - r, pix)

    mask = torch.empty(m, size, size)
    for c in range(NUM_CLASSES):
        i = labels == c
        if not i.any():
            continue
        ui, vi, ri, di, pi, fi, phi = u[i], v[i], r[i], disk[i], pix[i], freq[i], phase[i]
        if c < 3:  # stripes vary along u, so they run at angle theta + 90 deg
            mask[i] = di * (0.5 + 0.5 * torch.cos(2 * math.pi * fi * ui + phi))
        elif c == 3:
            mask[i] = di * (0.5 + 0.5 * torch.cos(2 * math.pi * fi * ri + phi))
        elif c == 4:
            mask[i] = di
        elif c == 5:
            mask[i] = _edge(0.8 - torch.maximum(ui.abs(), vi.abs()), pi)
        elif c == 6:
            arm_u = torch.minimum(0.3 - ui.abs(), 1 - vi.abs())
            arm_v = torch.minimum(0.3 - vi.abs(), 1 - ui.abs())
            mask[i] = _edge(torch.maximum(arm_u, arm_v), pi)
        elif c == 7:
            wave = torch.sin(math.pi * fi * ui + phi) * torch.sin(math.pi * fi * vi)
            mask[i] = di * (0.5 + 0.5 * torch.tanh(4 * wave))
        elif c == 8:  # equilateral triangle inscribed in the unit circle: three half-planes
            sides = [0.5 - (ui * math.cos(a) + vi * math.sin(a)) for a in (0.5, 2.594, 4.689)]
            mask[i] = _edge(torch.minimum(torch.minimum(sides[0], sides[1]), sides[2]), pi)
        else:  # five-pointed star: radius oscillating with the polar angle
            angle = torch.atan2(vi, ui)
            mask[i] = _edge(0.55 + 0.4 * torch.cos(5 * angle) - ri, pi)

    # Colours: the object is brighter than the background in every channel, by a contrast drawn
    # per image (times a per-channel factor): one edge polarity lets learning start in the first
    # epoch (with random polarities every model sat near chance for 1-2 epochs, then broke
    # through at a seed-dependent time), and low-contrast images make the difficulty graded.
    bg = torch.rand((m, 3, 1, 1), generator=gen) * 0.45
    contrast = _uniform(gen, (m, 1, 1, 1), *CONTRAST)
    fg = bg + contrast * _uniform(gen, (m, 3, 1, 1), 0.8, 1.2)

    # Background: base colour plus smooth coloured clutter.
    clutter = torch.rand((m, 3, 4, 4), generator=gen) - 0.5
    clutter = torch.nn.functional.interpolate(clutter, size=(size, size), mode="bicubic")
    img = bg + 0.15 * clutter

    # Distractors under the object: a thin line segment and a small blob.
    p0, p1 = _uniform(gen, (2, m, 1, 1), -1, 1), _uniform(gen, (2, m, 1, 1), -1, 1)
    seg = p1 - p0
    t = ((xx - p0[0]) * seg[0] + (yy - p0[1]) * seg[1]) / (seg**2).sum(0).clamp(min=1e-6)
    t = t.clamp(0, 1)
    dist = ((xx - p0[0] - t * seg[0]) ** 2 + (yy - p0[1] - t * seg[1]) ** 2).sqrt()
    line = _edge(1.5 / size - dist, torch.tensor(size / 2.0))[:, None]
    img = img * (1 - line) + torch.rand((m, 3, 1, 1), generator=gen) * line
    bx, by = _uniform(gen, (2, m, 1, 1), -0.8, 0.8)
    br = _uniform(gen, (m, 1, 1), 0.08, 0.2)
    blob = _edge(br - ((xx - bx) ** 2 + (yy - by) ** 2).sqrt(), torch.tensor(size / 2.0))[:, None]
    img = img * (1 - blob) + torch.rand((m, 3, 1, 1), generator=gen) * blob

    # The object, then pixel noise of random strength.
    img = img * (1 - mask[:, None]) + fg * mask[:, None]
    img = img + torch.randn(img.shape, generator=gen) * _uniform(gen, (m, 1, 1, 1), *NOISE)
    return (img * 255).round_().clamp_(0, 255).to(torch.uint8)
