"""Measure the claims of `pycls_like/data/synthetic.py`'s docstring on freshly generated data.

1. Flips preserve labels: a small CNN trained WITHOUT flip augmentation is evaluated on the test
   images and on their horizontal mirrors; for every class, the share of mirrored images predicted
   as that class stays close to the unmirrored share, and no class's mirrors go to another class
   (a chiral class pair, like 45/135-degree gratings, shows up as a large off-diagonal jump).
2. Colour statistics do not suffice: multinomial logistic regression on per-channel mean and std.
3. Chance level for reference.

    python tools/synthetic_claims.py [--n-train 10000] [--n-test 2000] [--epochs 4]
"""

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from pycls_like.data.synthetic import CLASSES, NUM_CLASSES, make_synthetic


def colour_features(x: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and std of each image, standardized: (n, 6)."""
    f = x.float() / 255
    feats = torch.cat([f.mean((2, 3)), f.std((2, 3))], 1)
    return feats


def logistic_regression_error(
    f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor
) -> float:
    """Test error (%) of multinomial logistic regression fitted to convergence with L-BFGS."""
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-8
    a, b = (f_train - mu) / sd, (f_test - mu) / sd
    # Quadratic features too: colour-mean x colour-std interactions a linear model would miss.
    a = torch.cat([a, a[:, :, None].mul(a[:, None, :]).flatten(1)], 1)
    b = torch.cat([b, b[:, :, None].mul(b[:, None, :]).flatten(1)], 1)
    lin = nn.Linear(a.shape[1], NUM_CLASSES)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(lin(a), y_train) + 1e-4 * lin.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return 100 * (lin(b).argmax(1) != y_test).float().mean().item()


def small_cnn() -> nn.Module:
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, NUM_CLASSES),
    )  # fmt: skip


def train_without_flips(x, y, epochs: int, seed: int) -> nn.Module:
    """SGD with random crops only: the model never sees a mirrored image."""
    torch.manual_seed(seed)
    model = small_cnn().to(memory_format=torch.channels_last)
    mean, std = x.float().mean((0, 2, 3), keepdim=True), x.float().std((0, 2, 3), keepdim=True)
    steps = epochs * (len(y) // 128)
    opt = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for s in range(len(y) // 128):
            idx = order[s * 128 : (s + 1) * 128]
            xb = F.pad(x[idx].float(), (4, 4, 4, 4))
            dx, dy = torch.randint(0, 9, (2,), generator=gen).tolist()
            xb = ((xb[:, :, dy : dy + x.shape[2], dx : dx + x.shape[3]] - mean) / std).contiguous(
                memory_format=torch.channels_last
            )
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = F.cross_entropy(model(xb).float(), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    model.norm = (mean, std)  # type: ignore[assignment]
    return model


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    mean, std = model.norm  # type: ignore[attr-defined]
    out = []
    for s in range(0, len(x), 500):
        xb = ((x[s : s + 500].float() - mean) / std).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out.append(model(xb).float().argmax(1))
    return torch.cat(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=32)
    args = parser.parse_args()
    t0 = time.perf_counter()
    x_train, y_train = make_synthetic(args.n_train, args.resolution, 0)
    x_test, y_test = make_synthetic(args.n_test, args.resolution, 1)
    print(
        f"generated {args.n_train} + {args.n_test} images at {args.resolution} px "
        f"in {time.perf_counter() - t0:.1f} s; chance error {100 * (1 - 1 / NUM_CLASSES):.1f}%"
    )

    err = logistic_regression_error(
        colour_features(x_train), y_train, colour_features(x_test), y_test
    )
    print(
        f"colour statistics alone (per-channel mean+std, quadratic logistic regression): {err:.1f}% error"
    )

    model = train_without_flips(x_train, y_train, args.epochs, seed=0)
    plain, mirrored = predict(model, x_test), predict(model, x_test.flip(3))
    print(
        f"CNN trained without flips: {100 * (plain != y_test).float().mean():.1f}% error, "
        f"{100 * (mirrored != y_test).float().mean():.1f}% on mirrored test images"
    )
    print(f"{'class':14s} {'acc':>6s} {'acc mirrored':>13s}  most frequent wrong label (mirrored)")
    worst_jump = 0.0
    for c, name in enumerate(CLASSES):
        i = y_test == c
        acc, acc_m = (plain[i] == c).float().mean().item(), (mirrored[i] == c).float().mean().item()
        wrong = mirrored[i][mirrored[i] != c]
        other, share = "-", 0.0
        if len(wrong):
            top = torch.bincount(wrong, minlength=NUM_CLASSES).argmax().item()
            other, share = CLASSES[top], (mirrored[i] == top).float().mean().item()
            base = (plain[i] == top).float().mean().item()
            worst_jump = max(worst_jump, share - base)
        print(f"{name:14s} {100 * acc:6.1f} {100 * acc_m:13.1f}  {other} ({100 * share:.1f}%)")
    print(
        f"largest rise of one wrong label under mirroring: {100 * worst_jump:.1f} points "
        f"(a class that mirrors into another would show ~50+)"
    )


if __name__ == "__main__":
    main()
