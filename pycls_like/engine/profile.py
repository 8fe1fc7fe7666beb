"""Measured speed and memory of one model: forward (inference) and training-step time, peak memory.

Fast and Accurate Model Scaling (sec. 3) judges models by measured runtime, not flops. The
protocol here is pycls's `benchmark` made repeatable: build the model (channels_last, the layout
the trainer uses), run `warmup` untimed calls (cuDNN/oneDNN pick kernels, caches fill), then time
`repeats` calls one by one, synchronizing the device around each, and keep every sample: the
median is the figure, the interquartile range and min/max say how noisy the machine was. On CPU
the process's CPU time of each call is kept as well: on a shared machine the wall clock also
counts the time spent waiting for a core (measured here: 1x to 10x), the CPU time does not.

Peak memory means the same on both devices: the most bytes held by live tensors at any instant
of one call, model state included (weights, buffers, gradients, optimizer state, the batch).
- CUDA: `torch.cuda.max_memory_allocated` over the timed calls (the caching allocator's count).
- CPU: no allocator keeps that count, so one extra call runs under `LiveTensorBytes`, a dispatch
  mode that adds each new tensor storage's bytes when an op creates it and subtracts them when it
  is freed; state that exists before the call is summed from the module and optimizer. This is
  the tensor-level peak (allocator rounding and caching excluded), not the process's RSS.
"""

import platform
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from pycls_like.complexity import complexity
from pycls_like.cores import available_cores
from pycls_like.engine.config import OptimConfig
from pycls_like.engine.optim import build_optimizer
from pycls_like.engine.trainer import resolve_device
from pycls_like.errors import ConfigError
from pycls_like.specs import ModelSpec, spec_to_dict

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
MB = 2**20


@dataclass(frozen=True)
class ProfileSettings:
    """How to measure. The defaults trade time for stability on a shared CPU: 3 warm-up calls
    cover oneDNN's first-call primitive creation; 10 timed calls give a median and an IQR."""

    device: str = "cpu"
    batch_size: int = 32
    dtype: str = "fp32"
    warmup: int = 3
    repeats: int = 10
    threads: int | None = None  # None: every core this process may use

    @classmethod
    def from_args(cls, args: Any) -> "ProfileSettings":
        """The settings a command's parsed options give (`profile`, `scale --profile`); options
        a command does not offer keep their defaults."""
        given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        return cls(**given)

    def __post_init__(self) -> None:
        checks = (
            (self.device in ("cpu", "cuda"), "--device", f"must be cpu or cuda, got {self.device!r}"),
            (self.dtype in DTYPES, "--dtype", f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}"),
            (self.batch_size >= 1, "--batch-size", f"must be >= 1, got {self.batch_size}"),
            (self.warmup >= 0, "--warmup", f"must be >= 0, got {self.warmup}"),
            (self.repeats >= 3, "--repeats", f"must be >= 3 (median and IQR), got {self.repeats}"),
            (self.threads is None or self.threads >= 1, "--threads", "must be >= 1"),
        )  # fmt: skip
        for ok, key, message in checks:
            if not ok:
                raise ConfigError(message, key=key)


# The settings that make two profiles comparable: figures measured under different ones are never
# fitted together (see `analysis.runtime`).
SETTING_KEYS = ("device", "device_name", "dtype", "batch_size", "threads")


def setting_of(record: dict[str, Any]) -> dict[str, Any]:
    """The comparability key of a profile record."""
    return {k: record.get(k) for k in SETTING_KEYS}


def expected_setting(settings: ProfileSettings) -> dict[str, Any]:
    """The setting `profile_model` will record under `settings` on this machine."""
    device = resolve_device(settings.device)
    return {
        "device": device.type,
        "device_name": device_name(device),
        "dtype": settings.dtype,
        "batch_size": settings.batch_size,
        "threads": settings.threads or available_cores(),
    }


def timing_stats(seconds: Iterable[float]) -> dict[str, float]:
    """Median, quartiles and extremes in milliseconds; every sample kept for later analysis."""
    ms = np.asarray(list(seconds), dtype=float) * 1e3
    q1, median, q3 = np.percentile(ms, [25, 50, 75])
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(ms.min()),
        "max": float(ms.max()),
        "samples": [round(float(v), 4) for v in ms],
    }


class LiveTensorBytes(TorchDispatchMode):
    """Running and peak bytes of tensor storages created while the mode is active (CPU peak memory).

    A storage is counted once, when the first op returns a tensor on it (views and in-place ops
    return storages already counted), and uncounted by a weakref finalizer when it is freed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._sizes: dict[int, int] = {}

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if not isinstance(value, torch.Tensor):
                continue
            storage = value.untyped_storage()
            key = id(storage)
            if key in self._sizes:
                continue
            self._sizes[key] = storage.nbytes()
            self.live += self._sizes[key]
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._free, key)
        return out


def _state_bytes(tensors: Iterable[torch.Tensor | None]) -> int:
    """Bytes of distinct storages (a weight shared by two layers counts once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            s = t.untyped_storage()
            seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


def _optimizer_tensors(optimizer: torch.optim.Optimizer | None) -> list[torch.Tensor]:
    if optimizer is None:
        return []
    return [v for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)]


def device_name(device: torch.device) -> str:
    """The accelerator's or CPU's model name: timings from different machines never share a fit."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class _Measure:
    """Timing and memory of one callable on one device."""

    def __init__(self, device: torch.device, settings: ProfileSettings) -> None:
        self.device, self.settings = device, settings
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time(self, call: Callable[[], object]) -> tuple[list[float], list[float], int | None]:
        """Warm up, then time each call alone: wall seconds, this process's CPU seconds (on a
        shared CPU, time spent waiting for a core shows in the first but not the second), and
        the CUDA peak over the timed calls."""
        for _ in range(self.settings.warmup):
            call()
        self.sync()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        wall, cpu = [], []
        for _ in range(self.settings.repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            call()
            self.sync()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        peak = torch.cuda.max_memory_allocated(self.device) if self.cuda else None
        return wall, cpu, peak

    def cpu_peak(self, call: Callable[[], object], state: Callable[[], int]) -> int:
        """State held before the call plus the peak of what the call creates (see module doc)."""
        before = state()
        mode = LiveTensorBytes()
        with mode:
            call()
        return before + mode.peak


def profile_model(spec: ModelSpec, settings: ProfileSettings) -> dict[str, Any]:
    """One profile record: settings, environment, complexity at this resolution, times, memory."""
    from pycls_like.models import build_model

    device = resolve_device(settings.device)
    threads = settings.threads or available_cores()
    saved_threads, saved_benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True  # fixed shapes: measure the kernels training would use
    try:
        torch.manual_seed(0)
        model = build_model(spec).to(device, memory_format=torch.channels_last)
        n, r = settings.batch_size, spec.resolution
        x = torch.randn(n, 3, r, r, device=device).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, spec.num_classes, (n,), device=device)
        autocast_dtype = DTYPES[settings.dtype]
        meter = _Measure(device, settings)

        def autocast() -> torch.autocast:
            return torch.autocast(
                device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None
            )

        # Inference: eval mode, no autograd graph.
        model.eval()

        def forward() -> None:
            with torch.no_grad(), autocast():
                model(x)

        fwd_s, fwd_cpu_s, fwd_peak = meter.time(forward)
        if not meter.cuda:
            fwd_peak = meter.cpu_peak(forward, lambda: _state_bytes([*_model_tensors(model), x]))

        # Training: one SGD step (the project's default recipe), gradients freed between steps.
        model.train()
        optimizer = build_optimizer(model, OptimConfig())

        def train_step() -> None:
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = F.cross_entropy(model(x).float(), y)
            loss.backward()
            optimizer.step()

        train_s, train_cpu_s, train_peak = meter.time(train_step)
        if not meter.cuda:
            train_peak = meter.cpu_peak(
                train_step,
                lambda: _state_bytes(
                    [*_model_tensors(model), *_optimizer_tensors(optimizer), x, y]
                ),
            )
    finally:
        torch.set_num_threads(saved_threads)
        torch.backends.cudnn.benchmark = saved_benchmark
    return {
        "device": device.type,
        "device_name": device_name(device),
        "dtype": settings.dtype,
        "batch_size": settings.batch_size,
        "resolution": spec.resolution,
        "threads": threads,
        "torch": torch.__version__,
        "warmup": settings.warmup,
        "repeats": settings.repeats,
        "memory_method": "cuda max_memory_allocated" if meter.cuda else "cpu live tensor bytes",
        **complexity(spec).as_dict(),
        "fwd_ms": timing_stats(fwd_s),
        "train_ms": timing_stats(train_s),
        # The host's CPU time says nothing of a GPU's work: kept for CPU profiles only.
        **(
            {}
            if meter.cuda
            else {"fwd_cpu_ms": timing_stats(fwd_cpu_s), "train_cpu_ms": timing_stats(train_cpu_s)}
        ),
        "fwd_mem_mb": fwd_peak / MB,
        "train_mem_mb": train_peak / MB,
        "spec": spec_to_dict(spec),
    }


def _model_tensors(model: nn.Module) -> list[torch.Tensor | None]:
    return [*model.parameters(), *model.buffers(), *(p.grad for p in model.parameters())]


def at_resolution(spec: ModelSpec, resolution: int | None) -> ModelSpec:
    """The spec at the profiling resolution (None: its own)."""
    if resolution is None or resolution == spec.resolution:
        return spec
    if resolution < 1:
        raise ConfigError(f"must be >= 1, got {resolution}", key="--resolution")
    return replace(spec, resolution=resolution)
