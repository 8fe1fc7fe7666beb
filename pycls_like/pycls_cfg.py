"""pycls-format configs (upper-case sections): defaults, validated merge, conversion to specs.

Users coming from pycls keep their YAML files. Keys a file omits take pycls's defaults
(pycls/core/config.py); keys pycls does not know are errors naming the key and the file.
"""

import copy
import sys
from typing import Any

from pycls_like.errors import ConfigError
from pycls_like.layers import BLOCKS
from pycls_like.specs import ModelSpec, spec_from_dict

PYCLS_DEFAULTS: dict[str, Any] = {
    "MODEL": {
        "TYPE": "",
        "DEPTH": 0,
        "NUM_CLASSES": 10,
        "LOSS_FUN": "cross_entropy",
        "ACTIVATION_FUN": "relu",
        "ACTIVATION_INPLACE": True,
        "SCALING_TYPE": "",
        "SCALING_FACTOR": 1.0,
    },
    "RESNET": {
        "TRANS_FUN": "basic_transform",
        "NUM_GROUPS": 1,
        "WIDTH_PER_GROUP": 64,
        "STRIDE_1X1": True,
    },
    "ANYNET": {
        "STEM_TYPE": "simple_stem_in",
        "STEM_W": 32,
        "BLOCK_TYPE": "res_bottleneck_block",
        "DEPTHS": [],
        "WIDTHS": [],
        "STRIDES": [],
        "BOT_MULS": [],
        "GROUP_WS": [],
        "HEAD_W": 0,
        "SE_ON": False,
        "SE_R": 0.25,
    },
    "REGNET": {
        "STEM_TYPE": "simple_stem_in",
        "STEM_W": 32,
        "BLOCK_TYPE": "res_bottleneck_block",
        "STRIDE": 2,
        "SE_ON": False,
        "SE_R": 0.25,
        "DEPTH": 10,
        "W0": 32,
        "WA": 5.0,
        "WM": 2.5,
        "GROUP_W": 16,
        "BOT_MUL": 1.0,
        "HEAD_W": 0,
    },
    "EN": {
        "STEM_W": 32,
        "DEPTHS": [],
        "WIDTHS": [],
        "EXP_RATIOS": [],
        "SE_R": 0.25,
        "STRIDES": [],
        "KERNELS": [],
        "HEAD_W": 1280,
        "DC_RATIO": 0.0,
        "DROPOUT_RATIO": 0.0,
    },
    "VIT": {
        "PATCH_SIZE": 16,
        "STEM_TYPE": "patchify",
        "C_STEM_KERNELS": [],
        "C_STEM_STRIDES": [],
        "C_STEM_DIMS": [],
        "NUM_LAYERS": 12,
        "NUM_HEADS": 12,
        "HIDDEN_DIM": 768,
        "MLP_DIM": 3072,
        "CLASSIFIER_TYPE": "class_token",
    },
    "BN": {
        "EPS": 1e-5,
        "MOM": 0.1,
        "USE_PRECISE_STATS": True,
        "NUM_SAMPLES_PRECISE": 8192,
        "ZERO_INIT_FINAL_GAMMA": False,
        "USE_CUSTOM_WEIGHT_DECAY": False,
        "CUSTOM_WEIGHT_DECAY": 0.0,
    },
    "LN": {"EPS": 1e-5, "USE_CUSTOM_WEIGHT_DECAY": False, "CUSTOM_WEIGHT_DECAY": 0.0},
    "OPTIM": {
        "OPTIMIZER": "sgd",
        "BASE_LR": 0.1,
        "MIN_LR": 0.0,
        "LR_POLICY": "cos",
        "STEPS": [],
        "LR_MULT": 0.1,
        "MAX_EPOCH": 200,
        "MOMENTUM": 0.9,
        "DAMPENING": 0.0,
        "NESTEROV": True,
        "BETA1": 0.9,
        "BETA2": 0.999,
        "WEIGHT_DECAY": 5e-4,
        "WARMUP_FACTOR": 0.1,
        "WARMUP_EPOCHS": 0,
        "EMA_ALPHA": 0.0,
        "EMA_UPDATE_PERIOD": 32,
        "BIAS_USE_CUSTOM_WEIGHT_DECAY": False,
        "BIAS_CUSTOM_WEIGHT_DECAY": 0.0,
    },
    "TRAIN": {
        "DATASET": "",
        "SPLIT": "train",
        "BATCH_SIZE": 128,
        "IM_SIZE": 224,
        "EVAL_PERIOD": 1,
        "CHECKPOINT_PERIOD": 1,
        "AUTO_RESUME": True,
        "WEIGHTS": "",
        "MIXED_PRECISION": False,
        "LABEL_SMOOTHING": 0.0,
        "MIXUP_ALPHA": 0.0,
        "CUTMIX_ALPHA": 0.0,
        "PCA_STD": 0.1,
        "AUGMENT": "",
    },
    "TEST": {"DATASET": "", "SPLIT": "val", "BATCH_SIZE": 200, "IM_SIZE": 256, "WEIGHTS": ""},
    "DATA_LOADER": {"NUM_WORKERS": 8, "PIN_MEMORY": True},
    "CUDNN": {"BENCHMARK": True},
    "PREC_TIME": {"WARMUP_ITER": 3, "NUM_ITER": 30},
    "LAUNCH": {
        "PARTITION": "devlab",
        "COMMENT": "",
        "CPUS_PER_GPU": 10,
        "MEM_PER_GPU": 60,
        "PARALLEL": False,
        "GPU_TYPE": "volta",
        "MODE": "local",
        "MAX_RETRY": 3,
        "NAME": "pycls_job",
        "TIME_LIMIT": 4200,
        "EMAIL": "",
    },
    "NUM_GPUS": 1,
    "OUT_DIR": "/tmp",
    "CFG_DEST": "config.yaml",
    "RNG_SEED": 1,
    "LOG_DEST": "stdout",
    "LOG_PERIOD": 10,
    "DIST_BACKEND": "nccl",
    "HOST": "localhost",
    "PORT_RANGE": [10000, 65000],
    "DOWNLOAD_CACHE": "/tmp/pycls-download-cache",
}
PYCLS_MODEL_TYPES = ("anynet", "regnet", "resnet", "effnet", "vit")


def is_pycls_config(data: dict[str, Any]) -> bool:
    """pycls files are recognized by their upper-case top-level keys (MODEL, TRAIN, ...)."""
    return bool(data) and all(isinstance(k, str) and k.isupper() for k in data)


def pycls_merge(data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """pycls defaults overlaid with `data`; unknown sections or keys raise ConfigError."""
    merged = copy.deepcopy(PYCLS_DEFAULTS)

    def merge(into: dict[str, Any], new: dict[str, Any], prefix: str) -> None:
        for key, value in new.items():
            path = f"{prefix}{key}"
            if key not in into:
                raise ConfigError("unknown pycls config key", key=path, source=source)
            if isinstance(into[key], dict):
                if not isinstance(value, dict):
                    raise ConfigError("must be a section (mapping)", key=path, source=source)
                merge(into[key], value, f"{path}.")
            else:
                into[key] = value

    merge(merged, data, "")
    return merged


# Native spec key <- pycls key, per MODEL.TYPE (errors are reported with the pycls key).
PYCLS_SPEC_KEYS: dict[str, dict[str, str]] = {
    "anynet": {
        "ds": "ANYNET.DEPTHS",
        "ws": "ANYNET.WIDTHS",
        "ss": "ANYNET.STRIDES",
        "bs": "ANYNET.BOT_MULS",
        "gs": "ANYNET.GROUP_WS",
        "stem_type": "ANYNET.STEM_TYPE",
        "stem_w": "ANYNET.STEM_W",
        "block_type": "ANYNET.BLOCK_TYPE",
        "se_ratio": "ANYNET.SE_R",
        "head_w": "ANYNET.HEAD_W",
    },
    "regnet": {
        "d": "REGNET.DEPTH",
        "w0": "REGNET.W0",
        "wa": "REGNET.WA",
        "wm": "REGNET.WM",
        "g": "REGNET.GROUP_W",
        "b": "REGNET.BOT_MUL",
        "se_ratio": "REGNET.SE_R",
        "stride": "REGNET.STRIDE",
        "stem_type": "REGNET.STEM_TYPE",
        "stem_w": "REGNET.STEM_W",
        "block_type": "REGNET.BLOCK_TYPE",
        "head_w": "REGNET.HEAD_W",
    },
    "resnet": {
        "depth": "MODEL.DEPTH",
        "trans_fun": "RESNET.TRANS_FUN",
        "num_groups": "RESNET.NUM_GROUPS",
        "width_per_group": "RESNET.WIDTH_PER_GROUP",
        "stride_1x1": "RESNET.STRIDE_1X1",
    },
    "effnet": {
        "ds": "EN.DEPTHS",
        "ws": "EN.WIDTHS",
        "exp_rs": "EN.EXP_RATIOS",
        "ks": "EN.KERNELS",
        "ss": "EN.STRIDES",
        "stem_w": "EN.STEM_W",
        "head_w": "EN.HEAD_W",
        "se_ratio": "EN.SE_R",
        "dropout": "EN.DROPOUT_RATIO",
        "drop_connect": "EN.DC_RATIO",
    },
    "vit": {
        "depth": "VIT.NUM_LAYERS",
        "heads": "VIT.NUM_HEADS",
        "hidden_d": "VIT.HIDDEN_DIM",
        "mlp_d": "VIT.MLP_DIM",
        "patch_size": "VIT.PATCH_SIZE",
        "stem_type": "VIT.STEM_TYPE",
        "stem_ws": "VIT.C_STEM_DIMS",
        "stem_ss": "VIT.C_STEM_STRIDES",
    },
}
PYCLS_COMMON_KEYS = {"resolution": "TRAIN.IM_SIZE", "num_classes": "MODEL.NUM_CLASSES"}
# Native keys set from part of a pycls list (the conv stem's last entry): named in errors only.
_DERIVED_KEYS = {"stem_k": "VIT.C_STEM_KERNELS", "stem_s": "VIT.C_STEM_STRIDES"}


def _lookup(cfg: dict[str, Any], path: str) -> Any:
    section, _, key = path.partition(".")
    return cfg[section][key]


def spec_from_pycls(data: dict[str, Any], source: str | None = None) -> ModelSpec:
    """Convert a pycls config (with pycls defaults for omitted keys) to a model spec."""
    cfg = pycls_merge(data, source)
    model_type = cfg["MODEL"]["TYPE"]
    if model_type not in PYCLS_MODEL_TYPES:
        msg = f"must be one of {', '.join(PYCLS_MODEL_TYPES)}, got {model_type!r}"
        raise ConfigError(msg, key="MODEL.TYPE", source=source)
    activation = cfg["MODEL"]["ACTIVATION_FUN"]
    expected = {"effnet": ("silu", "swish"), "vit": ("relu", "gelu")}.get(model_type, ("relu",))
    if activation not in expected:
        msg = f"pycls_like builds {model_type} with {expected[0]}, got {activation!r}"
        raise ConfigError(msg, key="MODEL.ACTIVATION_FUN", source=source)
    keys = {**PYCLS_SPEC_KEYS[model_type], **PYCLS_COMMON_KEYS}
    native = {"family": model_type, **{k: _lookup(cfg, p) for k, p in keys.items()}}
    try:
        if model_type in ("anynet", "regnet"):
            _convert_cnn_block(cfg[model_type.upper()], model_type.upper(), native, source)
        elif model_type == "resnet":
            native["cifar"] = "cifar" in str(cfg["TRAIN"]["DATASET"]).lower()
        elif model_type == "vit":
            _convert_vit_stem(cfg["VIT"], native, source)
        return spec_from_dict(native)
    except ConfigError as err:
        key = keys.get(err.key) or _DERIVED_KEYS.get(err.key, err.key)
        raise ConfigError(err.message, key=key, source=source) from None


def warn_no_effect(source: str | None, key: str, why: str) -> None:
    """pycls accepts the key and ignores it, so it is accepted here too, with a note on stderr."""
    where = f"{source}: " if source else ""
    print(f"warning: {where}{key}: has no effect ({why})", file=sys.stderr)


def _convert_cnn_block(
    sec: dict[str, Any], name: str, native: dict[str, Any], source: str | None
) -> None:
    """SE_ON and the bottleneck keys reach every block in pycls; blocks without them ignore them."""
    block = native["block_type"]
    kind = BLOCKS.get(block) if isinstance(block, str) else None
    if not sec["SE_ON"]:
        native["se_ratio"] = 0.0
    elif kind is not None and not kind.se:
        warn_no_effect(source, f"{name}.SE_ON", f"{block} has no SE")
        native["se_ratio"] = 0.0
    if name == "ANYNET" and kind is not None and not kind.bottleneck:
        if sec["BOT_MULS"] or sec["GROUP_WS"]:
            warn_no_effect(source, "ANYNET.BOT_MULS", f"{block} has no bottleneck or groups")
        native["bs"], native["gs"] = [], []


def _convert_vit_stem(vit: dict[str, Any], native: dict[str, Any], source: str | None) -> None:
    """pycls's conv stem: conv3x3 + BN + ReLU per entry but the last, a biased k x k conv last."""
    native["class_token"] = vit["CLASSIFIER_TYPE"] == "class_token"
    if vit["CLASSIFIER_TYPE"] not in ("class_token", "pooled"):
        got = vit["CLASSIFIER_TYPE"]
        raise ConfigError(f"must be class_token or pooled, got {got!r}", key="VIT.CLASSIFIER_TYPE")
    if vit["STEM_TYPE"] != "conv":
        native["stem_ws"], native["stem_ss"] = [], []
        return
    ks, ss, ws = vit["C_STEM_KERNELS"], vit["C_STEM_STRIDES"], vit["C_STEM_DIMS"]
    if not (len(ks) == len(ss) == len(ws) >= 1):
        raise ConfigError(
            "C_STEM_KERNELS/STRIDES/DIMS need equal lengths >= 1", key="VIT.C_STEM_DIMS"
        )
    if ws[-1] != vit["HIDDEN_DIM"]:
        msg = f"the last conv stem width must equal VIT.HIDDEN_DIM ({vit['HIDDEN_DIM']}), got {ws[-1]}"
        raise ConfigError(msg, key="VIT.C_STEM_DIMS")
    if any(k != 3 for k in ks[:-1]):
        warn_no_effect(
            source, "VIT.C_STEM_KERNELS", "pycls uses conv3x3 for every stem layer but the last"
        )
    native["stem_ws"], native["stem_ss"] = ws[:-1], ss[:-1]
    native["stem_k"], native["stem_s"] = ks[-1], ss[-1]
