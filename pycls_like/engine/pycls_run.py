"""pycls-format run configs (MODEL, OPTIM, TRAIN, TEST, BN, RNG_SEED, ...) -> native run config.

pycls users keep their files: keys a file omits take pycls's defaults, keys pycls does not know
are errors. One key is ours: `TRAIN.DATA_PATH`, the data directory (pycls hard-codes it).
Settings pycls_like cannot honour (step schedules, mixup, dampening, ...) are errors naming the
key rather than silently different training. Launch, logging and checkpoint-period keys are
accepted and ignored: where and how a run executes is the launcher's business. `NUM_GPUS` is
the run's data-parallel process count (`gpus`), as in pycls: `TRAIN.BATCH_SIZE` is the global
batch, split over the processes.

Conversions: the half-period cosine with linear warmup is pycls's (evaluated per step instead of
per epoch); `ref_batch_size` is `TRAIN.BATCH_SIZE` (pycls does not rescale lr);
`TRAIN.MIXED_PRECISION` false means fp32, true bf16 autocast; `TRAIN.DATASET` imagenet is an
image folder, empty means synthetic; `TEST.IM_SIZE` is the test resize for image folders.
One split dataset serves both: an override of `TRAIN.DATASET` alone (`--set` or `KEY VALUE`)
moves `TEST.DATASET` with it, with a warning (pycls would keep them apart, which here could
only be an error); a file or overrides that set both keep both.
`BN.USE_PRECISE_STATS` (pycls's default: on) recomputes BN statistics over
`BN.NUM_SAMPLES_PRECISE` training images before each evaluation (`train.precise_bn_images`).
pycls updates its EMA every `EMA_UPDATE_PERIOD` steps with
`alpha = min(1, EMA_ALPHA * TRAIN.BATCH_SIZE / MAX_EPOCH * period)`; the native per-step decay
with the same weight per period is `(1 - alpha) ** (1 / period)`.
"""

import copy
import sys
from collections.abc import Collection
from typing import Any

from pycls_like.errors import ConfigError
from pycls_like.pycls_cfg import pycls_merge, spec_from_pycls
from pycls_like.specs import spec_to_dict

_DATASETS = {
    "": "synthetic",
    "synthetic": "synthetic",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "imagenet": "imagefolder",
    "imagefolder": "imagefolder",
}
# key -> value pycls_like requires (the pycls default); other values are refused.
_UNSUPPORTED = {
    "OPTIM.LR_POLICY": "cos",
    "OPTIM.DAMPENING": 0.0,
    "TRAIN.MIXUP_ALPHA": 0.0,
    "TRAIN.CUTMIX_ALPHA": 0.0,
    "TRAIN.AUGMENT": "",
    "TRAIN.WEIGHTS": "",
    "TEST.WEIGHTS": "",
}
# Custom weight-decay switches -> their value key; any switch on exempts norms and biases.
_CUSTOM_WD = {
    "BN.USE_CUSTOM_WEIGHT_DECAY": "BN.CUSTOM_WEIGHT_DECAY",
    "LN.USE_CUSTOM_WEIGHT_DECAY": "LN.CUSTOM_WEIGHT_DECAY",
    "OPTIM.BIAS_USE_CUSTOM_WEIGHT_DECAY": "OPTIM.BIAS_CUSTOM_WEIGHT_DECAY",
}


def _get(cfg: dict[str, Any], key: str) -> Any:
    section, _, name = key.partition(".")
    return cfg[section][name]


def pycls_to_native(
    data: dict[str, Any], source: str | None = None, overridden: Collection[str] = ()
) -> dict[str, Any]:
    """Native run-config mapping from a pycls config (validated against pycls's keys).

    `overridden` names the keys set on the command line (`TRAIN.DATASET`, ...).
    """
    data = copy.deepcopy(data)
    data_path = (data.get("TRAIN") or {}).pop("DATA_PATH", None)
    cfg = pycls_merge(data, source)

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(message, key=key, source=source)

    for key, required in _UNSUPPORTED.items():
        if _get(cfg, key) != required:
            raise fail(key, f"not supported by pycls_like (only {required!r})")
    exempt = False
    for switch, value_key in _CUSTOM_WD.items():
        if _get(cfg, switch):
            if _get(cfg, value_key) != 0:
                raise fail(value_key, "only 0 is supported (no decay on norms and biases)")
            exempt = True

    dataset = str(cfg["TRAIN"]["DATASET"]).lower()
    if dataset not in _DATASETS:
        raise fail("TRAIN.DATASET", f"must be one of {', '.join(sorted(_DATASETS)[1:])}")
    test_dataset = str(cfg["TEST"]["DATASET"]).lower()
    if "TRAIN.DATASET" in overridden and "TEST.DATASET" not in overridden:
        if test_dataset not in ("", dataset):
            where = f"{source}: " if source else ""
            print(
                f"warning: {where}TEST.DATASET follows TRAIN.DATASET ({dataset!r}, "
                f"was {test_dataset!r}); set TEST.DATASET too to choose it",
                file=sys.stderr,
            )
        test_dataset = dataset
    if test_dataset and test_dataset != dataset:
        raise fail("TEST.DATASET", f"must equal TRAIN.DATASET ({dataset!r})")
    native_data: dict[str, Any] = {"dataset": _DATASETS[dataset], "path": data_path}
    if native_data["dataset"] != "synthetic" and not data_path and "data.path" not in overridden:
        raise fail("TRAIN.DATA_PATH", f"dataset {dataset!r} needs its directory (pycls_like's key)")
    if native_data["dataset"] == "imagefolder":
        native_data["test_resize"] = cfg["TEST"]["IM_SIZE"]
        native_data["workers"] = cfg["DATA_LOADER"]["NUM_WORKERS"]

    optim, train = cfg["OPTIM"], cfg["TRAIN"]
    ema = 0.0
    if optim["EMA_ALPHA"] > 0:
        period = optim["EMA_UPDATE_PERIOD"]
        alpha = min(1.0, optim["EMA_ALPHA"] * train["BATCH_SIZE"] / optim["MAX_EPOCH"] * period)
        ema = (1 - alpha) ** (1 / period)
    return {
        "model": spec_to_dict(spec_from_pycls(data, source)),
        "data": native_data,
        "optim": {
            "optimizer": optim["OPTIMIZER"],
            "lr": optim["BASE_LR"],
            "ref_batch_size": train["BATCH_SIZE"],
            "momentum": optim["MOMENTUM"],
            "nesterov": optim["NESTEROV"],
            "betas": [optim["BETA1"], optim["BETA2"]],
            "wd": optim["WEIGHT_DECAY"],
            "wd_exempt_bn_bias": exempt,
            "epochs": optim["MAX_EPOCH"],
            "warmup_epochs": optim["WARMUP_EPOCHS"],
            "warmup_factor": optim["WARMUP_FACTOR"],
            "min_lr": optim["MIN_LR"],
            "ema": ema,
        },
        "train": {
            "batch_size": train["BATCH_SIZE"],
            "test_batch_size": cfg["TEST"]["BATCH_SIZE"],
            "label_smoothing": train["LABEL_SMOOTHING"],
            "precision": "bf16" if train["MIXED_PRECISION"] else "fp32",
            "zero_init_final_gamma": cfg["BN"]["ZERO_INIT_FINAL_GAMMA"],
            "precise_bn_images": (
                cfg["BN"]["NUM_SAMPLES_PRECISE"] if cfg["BN"]["USE_PRECISE_STATS"] else 0
            ),
        },
        "seed": cfg["RNG_SEED"],
        "gpus": cfg["NUM_GPUS"],
    }
