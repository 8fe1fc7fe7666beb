"""Overhead of the engine's training loop over a bare forward/backward/step loop.

Both loops train the same model with the same optimizer, batch size and in-memory synthetic
data, in alternating rounds within one process (so machine load affects both alike); the best
and median images/s of each are reported with the engine's overhead in percent. The engine loop
is `train_epoch` exactly as `train()` calls it: on-device crop/flip/normalize, per-step lr,
device-side metrics, periodic divergence check and a (log-mode) progress bar. The bare loop
reads pre-normalized batches and does forward + backward + optimizer step only.

    python tools/bench_train.py                       # CPU, 32 px, small ResNet-ish (~27 MF)
    python tools/bench_train.py --device cuda --resolution 224 --dtype bf16 --model RegNetX-400MF
"""

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from pycls_like.complexity import complexity
from pycls_like.cores import available_cores
from pycls_like.data import DataConfig, build_data
from pycls_like.data.base import ImageData
from pycls_like.engine.config import OptimConfig
from pycls_like.engine.optim import build_optimizer, lr_at
from pycls_like.engine.trainer import train_epoch
from pycls_like.io import load_spec
from pycls_like.models import build_model
from pycls_like.specs import AnyNetSpec

SMALL = AnyNetSpec(
    ds=(2, 2, 2),
    ws=(16, 32, 64),
    ss=(1, 2, 2),
    stem_type="res_stem_cifar",
    stem_w=16,
    block_type="res_basic_block",
    resolution=32,
    num_classes=10,
)


def bare_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    *,
    bf16: bool,
) -> None:
    """The bare peer of the engine: forward, loss, backward, step over `batches`, nothing else."""
    model.train()
    device_type = next(model.parameters()).device.type
    for x, y in batches:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--dtype", choices=("bf16", "fp32"), default=None, help="default: bf16 on cuda"
    )
    parser.add_argument(
        "--resolution", type=int, default=None, help="default: the model's (32 for the default)"
    )
    parser.add_argument(
        "--model", default=None, help="preset name or spec YAML (default: ~27 MF ResNet-ish)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds of each loop")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: cores available)"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads or available_cores())
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    bf16 = (args.dtype or ("bf16" if cuda else "fp32")) == "bf16"
    torch.backends.cudnn.benchmark = True
    spec = load_spec(args.model) if args.model else SMALL
    spec = dataclasses.replace(spec, num_classes=10, resolution=args.resolution or spec.resolution)
    bs, steps = args.batch_size, args.steps

    def make_data(augment: bool) -> ImageData:
        cfg = DataConfig(n_train=bs * steps, n_test=1, augment=augment)
        return build_data(cfg, resolution=spec.resolution, device=device, channels_last=cuda)

    data = make_data(augment=True)
    # Bare loop input: the same images, normalized once, without augmentation, in fixed batches.
    fixed = list(make_data(augment=False).train_batches(bs, seed=0))
    torch.manual_seed(0)
    model = build_model(spec).to(
        device, memory_format=torch.channels_last if cuda else torch.preserve_format
    )
    optim_cfg = OptimConfig()
    optimizer = build_optimizer(model, optim_cfg)
    lrs = [lr_at(optim_cfg, 1 + i / steps, bs) for i in range(steps)]

    def bare() -> None:
        bare_steps(model, optimizer, fixed, bf16=bf16)

    def engine(seed: int) -> None:
        bar = tqdm(total=steps, disable=True)  # as train() runs in logs (not a TTY)
        train_epoch(model, optimizer, data.train_batches(bs, seed), lrs, bf16=bf16, bar=bar)

    def timed(fn, *fn_args) -> float:
        if cuda:
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn(*fn_args)
        if cuda:
            torch.cuda.synchronize(device)
        return bs * steps / (time.perf_counter() - t0)

    bare(), engine(0)  # warm up (allocator, cuDNN autotuning, lazy init)
    rates_bare, rates_engine = [], []
    for r in range(args.rounds):
        rates_bare.append(timed(bare))
        rates_engine.append(timed(engine, r + 1))
    # Other processes only ever slow a round down: the fastest rounds are the steady state.
    b, e = max(rates_bare), max(rates_engine)
    bm, em = statistics.median(rates_bare), statistics.median(rates_engine)
    cx = complexity(spec)
    name = torch.cuda.get_device_name(device) if cuda else f"cpu, {torch.get_num_threads()} threads"
    print(
        f"{args.model or 'small ResNet-ish'} @ {spec.resolution} px: {cx.flops / 1e6:.1f} MF, "
        f"batch {bs}, {'bf16' if bf16 else 'fp32'}, {name}"
    )
    print(f"bare loop   {b:10.1f} img/s best   {bm:10.1f} median of {args.rounds} rounds")
    print(f"engine loop {e:10.1f} img/s best   {em:10.1f} median")
    print(f"overhead    {100 * (b / e - 1):+9.1f}%  best   {100 * (bm / em - 1):+9.1f}% median")


if __name__ == "__main__":
    main()
