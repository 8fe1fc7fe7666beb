"""Run config: one training run = model spec + data + optimizer and schedule + training options.

Native YAML schema (every key but `model` is optional; defaults shown)::

    model: RegNetX-200MF       # preset name, spec YAML path, or spec mapping with `family`
    data:
      dataset: synthetic       # synthetic | cifar10 | cifar100 | imagefolder
      path: null               # directory of cifar10/cifar100/imagefolder data
      n_train: 10000           # synthetic: images per split, and generation seed
      n_test: 2000
      seed: 0
      augment: true            # crop + flip (in memory) / random-resized crop + flip (folders)
      test_resize: null        # image folders: shorter side before center crop (res / 0.875)
      workers: null            # image folders: loader processes (min(8, cores))
    optim:
      optimizer: sgd           # sgd | adamw
      lr: 0.1                  # peak lr at ref_batch_size, scaled by batch_size / ref_batch_size
      ref_batch_size: 128
      momentum: 0.9            # sgd
      nesterov: true           # sgd
      betas: [0.9, 0.999]      # adamw
      wd: 5.0e-4               # weight decay (decoupled for adamw)
      wd_exempt_bn_bias: false # true: no decay on norm parameters and biases
      epochs: 10
      warmup_epochs: 0.0       # linear warmup from warmup_factor * lr; fractions allowed
      warmup_factor: 0.1
      min_lr: 0.0              # floor of the half-period cosine, as a fraction of lr
      ema: 0.0                 # EMA decay per step (e.g. 0.999); > 0 evaluates the EMA weights
    train:
      batch_size: 128
      test_batch_size: 256
      label_smoothing: 0.0
      precision: auto          # auto: bf16 autocast on CUDA and bf16-capable CPUs, else fp32 | bf16 | fp32
      zero_init_final_gamma: false  # zero the last BN of each residual branch
      precise_bn_images: 0     # > 0: BN statistics recomputed over this many training images
                               # before each evaluation (pycls BN.USE_PRECISE_STATS); 0: running
    seed: 0                    # weight init, data order, augmentation
    device: auto               # auto | cpu | cuda
    threads: null              # CPU threads for torch (null: the cores this process may use)
    gpus: 1                    # data-parallel processes for this run (pycls NUM_GPUS): one per
                               # GPU (NCCL), or CPU processes (gloo) without CUDA or with device: cpu

The model's `num_classes` follows the dataset (10 for synthetic and CIFAR-10, 100 for
CIFAR-100, the class folders of an image folder's train/); its `resolution` is the image size
trained at. `device`, `threads` and `gpus` say where a run executes, not what it computes:
a run resumes with other values (`threads` is for the whole run, shared by its processes).
pycls-format files (upper-case sections) are converted by `pycls_run.py`. This module never
imports torch: sweeps write and read run configs without training.
"""

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycls_like.coerce import coerce
from pycls_like.data import DataConfig
from pycls_like.errors import ConfigError
from pycls_like.io import apply_overrides, override_keys, read_yaml, spec_from_data
from pycls_like.specs import ModelSpec, spec_to_dict

OPTIMIZERS = ("sgd", "adamw")
PRECISIONS = ("auto", "bf16", "fp32")
DEVICES = ("auto", "cpu", "cuda")


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(message, key=key)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, weight decay and learning-rate schedule (`optim:`)."""

    optimizer: str = "sgd"
    lr: float = 0.1
    ref_batch_size: int = 128
    momentum: float = 0.9
    nesterov: bool = True
    betas: tuple[float, float] = (0.9, 0.999)
    wd: float = 5e-4
    wd_exempt_bn_bias: bool = False  # pycls decays everything by default
    epochs: int = 10
    warmup_epochs: float = 0.0
    warmup_factor: float = 0.1
    min_lr: float = 0.0
    ema: float = 0.0

    def __post_init__(self) -> None:
        _check(self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        _check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        _check(self.ref_batch_size >= 1, "ref_batch_size", "must be >= 1")
        _check(0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")
        _check(all(0 <= b < 1 for b in self.betas), "betas", f"must be in [0, 1), got {self.betas}")
        _check(self.wd >= 0, "wd", f"must be >= 0, got {self.wd}")
        _check(self.epochs >= 1, "epochs", f"must be >= 1, got {self.epochs}")
        ok = 0 <= self.warmup_epochs <= self.epochs
        _check(ok, "warmup_epochs", f"must be in [0, epochs], got {self.warmup_epochs}")
        _check(0 < self.warmup_factor <= 1, "warmup_factor", "must be in (0, 1]")
        _check(0 <= self.min_lr <= 1, "min_lr", f"must be in [0, 1], got {self.min_lr}")
        _check(0 <= self.ema < 1, "ema", f"must be in [0, 1), got {self.ema}")


@dataclass(frozen=True)
class TrainConfig:
    """Batching, loss and numerics (`train:`)."""

    batch_size: int = 128
    test_batch_size: int = 256
    label_smoothing: float = 0.0
    precision: str = "auto"
    zero_init_final_gamma: bool = False
    precise_bn_images: int = 0

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        n = self.precise_bn_images
        _check(n >= 0, "precise_bn_images", f"must be >= 0, got {n}")
        _check(self.test_batch_size >= 1, "test_batch_size", "must be >= 1")
        ok = 0 <= self.label_smoothing < 1
        _check(ok, "label_smoothing", f"must be in [0, 1), got {self.label_smoothing}")
        _check(self.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}")


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run depends on; `to_dict()` round-trips through `run_config_from_dict`."""

    model: ModelSpec
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    gpus: int = 1

    def __post_init__(self) -> None:
        _check(self.device in DEVICES, "device", f"must be one of {', '.join(DEVICES)}")
        _check(self.threads is None or self.threads >= 1, "threads", "must be >= 1")
        _check(self.gpus >= 1, "gpus", f"must be >= 1, got {self.gpus}")

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-ready mapping (tuples become lists)."""
        optim = dataclasses.asdict(self.optim)
        optim["betas"] = list(optim["betas"])
        return {
            "model": spec_to_dict(self.model),
            "data": self.data.to_dict(),
            "optim": optim,
            "train": dataclasses.asdict(self.train),
            "seed": self.seed,
            "device": self.device,
            "threads": self.threads,
            "gpus": self.gpus,
        }


def _section(cls: type, values: Any, prefix: str) -> Any:
    """Build a section dataclass from a mapping; unknown keys and bad values name `prefix.key`."""
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError("must be a mapping", key=prefix)
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    try:
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown key (known: {', '.join(known)})", key=key)
            kwargs[key] = coerce(value, hints[key], key)
        return cls(**kwargs)
    except ConfigError as err:
        raise err.located(prefix=prefix) from None


_TOP_LEVEL = ("model", "data", "optim", "train", "seed", "device", "threads", "gpus")


def run_config_from_dict(data: dict[str, Any], source: str | None = None) -> RunConfig:
    """Validate a native run-config mapping (the inverse of `RunConfig.to_dict`)."""
    try:
        if not isinstance(data, dict):
            raise ConfigError("a run config must be a mapping")
        _check_top_level(data)
        if "model" not in data:
            raise ConfigError("missing: a preset name, spec path or spec mapping", key="model")
        try:
            spec = spec_from_data({"model": data["model"]})
        except ConfigError as err:
            raise err.located(prefix="model") from None
        return _with_model(spec, data)
    except ConfigError as err:
        raise err.located(source=err.source or source) from None


def run_config_for(spec: ModelSpec, data: dict[str, Any], source: str | None = None) -> RunConfig:
    """A run of `spec` (a typed value, as a sampler made it) with the other sections from a
    mapping without `model` (a sweep's base); the data section's class count wins."""
    try:
        if not isinstance(data, dict):
            raise ConfigError("a run config must be a mapping")
        _check_top_level(data)
        if "model" in data:
            raise ConfigError("the model is given; remove it from the mapping", key="model")
        return _with_model(spec, data)
    except ConfigError as err:
        raise err.located(source=err.source or source) from None


def data_config(data: dict[str, Any]) -> DataConfig:
    """The data section of a run-config mapping (the other sections are not read)."""
    return _section(DataConfig, data.get("data"), "data")


def _check_top_level(data: dict[str, Any]) -> None:
    unknown = [k for k in data if k not in _TOP_LEVEL]
    if unknown:
        raise ConfigError(f"unknown key (known: {', '.join(_TOP_LEVEL)})", key=str(unknown[0]))


def _with_model(spec: ModelSpec, data: dict[str, Any]) -> RunConfig:
    data_cfg = data_config(data)
    if data_cfg.num_classes is not None and spec.num_classes != data_cfg.num_classes:
        spec = dataclasses.replace(spec, num_classes=data_cfg.num_classes)
    hints = typing.get_type_hints(RunConfig)
    scalars = {
        k: coerce(data[k], hints[k], k) for k in ("seed", "device", "threads", "gpus") if k in data
    }
    return RunConfig(
        model=spec,
        data=data_cfg,
        optim=_section(OptimConfig, data.get("optim"), "optim"),
        train=_section(TrainConfig, data.get("train"), "train"),
        **scalars,
    )


def load_run_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a native or pycls-format run config and apply `--set KEY=VALUE` overrides.

    A `model:` given as a name or path is expanded to its spec first, so `model.resolution=64`
    overrides one field. Lower-case sections set on a pycls config (e.g. `data.path=...`) are
    laid over its conversion.
    """
    from pycls_like.engine.pycls_run import pycls_to_native

    path = Path(path)
    source = str(path)
    raw = read_yaml(path)
    if isinstance(raw.get("model"), str):
        raw["model"] = _expand_model(raw["model"], path.parent, source)
    raw = apply_overrides(raw, overrides)
    upper = {k: v for k, v in raw.items() if isinstance(k, str) and k.isupper()}
    if upper:
        native = pycls_to_native(upper, source, override_keys(overrides))
        for key, value in raw.items():
            if key in upper:
                continue
            if isinstance(value, dict) and isinstance(native.get(key), dict):
                native[key] = {**native[key], **value}
            else:
                native[key] = value
        raw = native
    return run_config_from_dict(raw, source)


def _expand_model(arg: str, base: Path, source: str) -> dict[str, Any]:
    """A preset name or spec path (relative to the config file first) -> spec mapping."""
    local = base / arg
    try:
        spec = spec_from_data({"model": str(local) if local.is_file() else arg})
    except ConfigError as err:
        raise err.located(source=err.source or source, prefix="model") from None
    return spec_to_dict(spec)
