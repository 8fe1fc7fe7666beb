"""Run configs: native and pycls YAML, overrides, round trips, errors naming key and file."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pycls_like.engine import RunConfig, load_run_config, run_config_from_dict
from pycls_like.errors import ConfigError
from pycls_like.specs import AnyNetSpec

TINY = {
    "family": "anynet",
    "ds": [1, 1],
    "ws": [8, 16],
    "ss": [1, 2],
    "stem_type": "res_stem_cifar",
    "stem_w": 8,
    "block_type": "res_basic_block",
    "resolution": 16,
}


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_and_round_trip_through_yaml(tmp_path: Path):
    cfg = run_config_from_dict({"model": TINY})
    assert cfg.data.dataset == "synthetic" and cfg.optim.optimizer == "sgd"
    assert cfg.model.num_classes == 10  # follows the dataset, not the spec default of 1000
    custom = run_config_from_dict(
        {
            "model": TINY,
            "data": {"n_train": 100, "n_test": 50},
            "optim": {"optimizer": "adamw", "lr": "5e-4", "betas": [0.8, 0.99], "ema": 0.99},
            "train": {"batch_size": 32, "label_smoothing": 0.1},
            "seed": 3,
            "device": "cpu",
            "threads": 1,
        }
    )
    assert custom.optim.lr == 5e-4  # YAML 1.1 reads 5e-4 as a string
    path = _write(tmp_path / "run.yaml", custom.to_dict())
    assert load_run_config(path) == custom
    assert run_config_from_dict(custom.to_dict()) == custom
    assert isinstance(hash(custom), int)


def test_preset_model_with_overrides(tmp_path: Path):
    path = _write(
        tmp_path / "run.yaml",
        {"model": "RegNetX-200MF", "data": {"dataset": "cifar100", "path": "/d"}},
    )
    cfg = load_run_config(path, ["model.resolution=32", "optim.lr=0.05", "train.batch_size=64"])
    assert cfg.model.family == "regnet" and cfg.model.resolution == 32
    assert cfg.model.num_classes == 100 and cfg.optim.lr == 0.05 and cfg.train.batch_size == 64


def test_model_path_relative_to_the_config(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "net.yaml", TINY)
    path = _write(tmp_path / "sub" / "run.yaml", {"model": "net.yaml"})
    assert isinstance(load_run_config(path).model, AnyNetSpec)


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"model": TINY, "optim": {"lrr": 0.1}}, "optim.lrr", "unknown key"),
        ({"model": TINY, "sched": {}}, "sched", "unknown key"),
        ({"model": TINY, "optim": {"epochs": 2.5}}, "optim.epochs", "must be an integer"),
        ({"model": TINY, "optim": {"optimizer": "lamb"}}, "optim.optimizer", "must be one of"),
        ({"model": TINY, "train": {"precision": "fp16"}}, "train.precision", "must be one of"),
        ({"model": TINY, "data": {"dataset": "cifar10"}}, "data.path", "needs a directory"),
        ({"model": TINY, "device": "tpu"}, "device", "must be one of"),
        ({"model": {**TINY, "ws": [8]}}, "model.ws", "entries"),
        ({"optim": {}}, "model", "missing"),
    ],
)
def test_errors_name_key_and_file(tmp_path: Path, data: dict, key: str, message: str):
    path = _write(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    assert err.value.source == str(path) and err.value.key == key
    assert message in str(err.value)


PYCLS = {
    "MODEL": {"TYPE": "anynet", "NUM_CLASSES": 10},
    "ANYNET": {
        "STEM_TYPE": "res_stem_cifar",
        "STEM_W": 8,
        "BLOCK_TYPE": "res_basic_block",
        "DEPTHS": [1, 1],
        "WIDTHS": [8, 16],
        "STRIDES": [1, 2],
    },
    "OPTIM": {"BASE_LR": 0.2, "MAX_EPOCH": 3, "WARMUP_EPOCHS": 1, "NESTEROV": False},
    "BN": {"USE_CUSTOM_WEIGHT_DECAY": True, "CUSTOM_WEIGHT_DECAY": 0.0},
    "TRAIN": {"DATASET": "cifar10", "IM_SIZE": 32, "BATCH_SIZE": 64, "DATA_PATH": "/x/cifar"},
    "TEST": {"BATCH_SIZE": 100},
    "RNG_SEED": 5,
    "OUT_DIR": "/ignored",
}


def test_pycls_config(tmp_path: Path):
    cfg = load_run_config(_write(tmp_path / "pycls.yaml", PYCLS))
    assert cfg.model.ws == (8, 16) and cfg.model.resolution == 32
    assert (cfg.data.dataset, cfg.data.path) == ("cifar10", "/x/cifar")
    o = cfg.optim
    assert (o.lr, o.epochs, o.warmup_epochs, o.nesterov, o.ref_batch_size) == (0.2, 3, 1, False, 64)
    assert o.wd == 5e-4 and o.wd_exempt_bn_bias and o.ema == 0.0
    assert (cfg.train.batch_size, cfg.train.test_batch_size, cfg.train.precision) == (
        64,
        100,
        "fp32",
    )
    assert cfg.seed == 5
    assert cfg.train.precise_bn_images == 8192  # pycls's BN.USE_PRECISE_STATS default: on
    off = {**PYCLS, "BN": {**PYCLS["BN"], "USE_PRECISE_STATS": False}}
    assert load_run_config(_write(tmp_path / "off.yaml", off)).train.precise_bn_images == 0
    less = {**PYCLS, "BN": {**PYCLS["BN"], "NUM_SAMPLES_PRECISE": 1024}}
    assert load_run_config(_write(tmp_path / "less.yaml", less)).train.precise_bn_images == 1024
    # pycls keys and native sections both take --set overrides.
    cfg = load_run_config(
        tmp_path / "pycls.yaml", ["OPTIM.BASE_LR=0.4", "data.path=/y", "device=cpu"]
    )
    assert (cfg.optim.lr, cfg.data.path, cfg.device) == (0.4, "/y", "cpu")


def test_pycls_synthetic_and_ema(tmp_path: Path):
    data = {**PYCLS, "TRAIN": {"DATASET": "synthetic", "IM_SIZE": 16, "MIXED_PRECISION": True}}
    data["OPTIM"] = {"EMA_ALPHA": 1e-5, "MAX_EPOCH": 10, "EMA_UPDATE_PERIOD": 32}
    cfg = load_run_config(_write(tmp_path / "p.yaml", data))
    assert cfg.data.dataset == "synthetic" and cfg.train.precision == "bf16"
    alpha = 1e-5 * 128 / 10 * 32
    assert cfg.optim.ema == pytest.approx((1 - alpha) ** (1 / 32))


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"OPTIM": {"LR_POLICY": "steps"}}, "OPTIM.LR_POLICY"),
        ({"TRAIN": {"MIXUP_ALPHA": 0.2}}, "TRAIN.MIXUP_ALPHA"),
        ({"TRAIN": {"DATASET": "mnist"}}, "TRAIN.DATASET"),
        ({"TRAIN": {"BATCH_SIZ": 3}}, "TRAIN.BATCH_SIZ"),
        (
            {"BN": {"USE_CUSTOM_WEIGHT_DECAY": True, "CUSTOM_WEIGHT_DECAY": 1e-5}},
            "BN.CUSTOM_WEIGHT_DECAY",
        ),
    ],
)
def test_pycls_errors(tmp_path: Path, patch: dict, key: str):
    path = _write(tmp_path / "p.yaml", {**PYCLS, **patch})
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    assert err.value.key == key and err.value.source == str(path)


def test_config_modules_do_not_import_torch():
    code = (
        "import sys, pycls_like.engine, pycls_like.engine.commands, pycls_like.data;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_config_is_frozen():
    cfg = run_config_from_dict({"model": TINY})
    assert isinstance(cfg, RunConfig)
    with pytest.raises(AttributeError):
        cfg.seed = 1  # type: ignore[misc]
