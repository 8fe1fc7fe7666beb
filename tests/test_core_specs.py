"""Specs: YAML round-trip, pycls-format configs, validation errors."""

import json

import pytest
import yaml

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.io import load_spec
from pycls_like.presets import PRESETS
from pycls_like.pycls_cfg import spec_from_pycls
from pycls_like.specs import spec_from_dict, spec_to_dict


@pytest.mark.parametrize("name", list(PRESETS))
def test_round_trip_yaml_and_json(name, tmp_path):
    spec = PRESETS[name]
    assert spec_from_dict(yaml.safe_load(yaml.safe_dump(spec_to_dict(spec)))) == spec
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_to_dict(spec)))
    assert load_spec(str(path)) == spec
    assert hash(spec) == hash(load_spec(str(path)))


PYCLS_CONFIGS = {
    "RegNetY-200MF": {
        "MODEL": {"TYPE": "regnet", "NUM_CLASSES": 1000},
        "REGNET": {"SE_ON": True, "DEPTH": 13, "W0": 24, "WA": 36.44, "WM": 2.49, "GROUP_W": 8},
    },
    "ResNeXt-50": {
        "MODEL": {"TYPE": "anynet", "NUM_CLASSES": 1000},
        "ANYNET": {
            "STEM_TYPE": "res_stem_in",
            "STEM_W": 64,
            "BLOCK_TYPE": "res_bottleneck_block",
            "STRIDES": [1, 2, 2, 2],
            "DEPTHS": [3, 4, 6, 3],
            "WIDTHS": [256, 512, 1024, 2048],
            "BOT_MULS": [0.5, 0.5, 0.5, 0.5],
            "GROUP_WS": [4, 8, 16, 32],
        },
    },
    "EfficientNet-B0": {
        "MODEL": {"TYPE": "effnet", "NUM_CLASSES": 1000, "ACTIVATION_FUN": "silu"},
        "EN": {
            "STEM_W": 32,
            "DEPTHS": [1, 2, 2, 3, 3, 4, 1],
            "WIDTHS": [16, 24, 40, 80, 112, 192, 320],
            "EXP_RATIOS": [1, 6, 6, 6, 6, 6, 6],
            "KERNELS": [3, 3, 5, 3, 5, 5, 3],
            "STRIDES": [1, 2, 2, 2, 1, 2, 1],
            "HEAD_W": 1280,
        },
    },
    "ViTC-1GF": {
        "MODEL": {"TYPE": "vit", "NUM_CLASSES": 1000},
        "VIT": {
            "PATCH_SIZE": 16,
            "STEM_TYPE": "conv",
            "C_STEM_KERNELS": [3, 3, 3, 3, 1],
            "C_STEM_STRIDES": [2, 2, 2, 2, 1],
            "C_STEM_DIMS": [24, 48, 96, 192, 192],
            "NUM_LAYERS": 11,
            "NUM_HEADS": 3,
            "HIDDEN_DIM": 192,
            "MLP_DIM": 576,
        },
    },
    "ViTP-4GF": {
        "MODEL": {"TYPE": "vit", "NUM_CLASSES": 1000},
        "VIT": {"NUM_LAYERS": 12, "NUM_HEADS": 6, "HIDDEN_DIM": 384, "MLP_DIM": 1152},
    },
}


@pytest.mark.parametrize("name", list(PYCLS_CONFIGS))
def test_pycls_config_counts_like_native(name, tmp_path):
    path = tmp_path / "pycls.yaml"
    path.write_text(yaml.safe_dump(PYCLS_CONFIGS[name]))
    spec = load_spec(str(path))
    assert spec == PRESETS[name]
    assert complexity(spec) == complexity(PRESETS[name])


def test_pycls_resnet_legacy_imagenet_equals_anynet_resnet50():
    cfg = {
        "MODEL": {"TYPE": "resnet", "DEPTH": 50, "NUM_CLASSES": 1000},
        "RESNET": {"TRANS_FUN": "bottleneck_transform", "STRIDE_1X1": False},
    }
    assert complexity(spec_from_pycls(cfg)) == complexity(PRESETS["ResNet-50"])
    cfg["RESNET"].update(NUM_GROUPS=32, WIDTH_PER_GROUP=4)
    assert complexity(spec_from_pycls(cfg)) == complexity(PRESETS["ResNeXt-50"])
    # pycls's default STRIDE_1X1: True strides the first 1x1 instead, which costs fewer flops.
    del cfg["RESNET"]["STRIDE_1X1"]
    assert complexity(spec_from_pycls(cfg)).flops < complexity(PRESETS["ResNeXt-50"]).flops


def test_pycls_resnet_cifar_depth_6n_plus_2():
    cfg = {"MODEL": {"TYPE": "resnet", "DEPTH": 56}, "TRAIN": {"DATASET": "cifar10", "IM_SIZE": 32}}
    cx = complexity(spec_from_pycls(cfg))
    # He et al. report 0.85 M with zero-padding shortcuts; pycls projects (+2,752 params).
    assert (round(cx.params / 1e3), round(cx.flops / 1e6)) == (856, 126)
    cfg["MODEL"]["DEPTH"] = 21
    with pytest.raises(ConfigError, match="6n\\+2"):
        spec_from_pycls(cfg)


def test_pycls_defaults_fill_omitted_keys():
    spec = spec_from_pycls({"MODEL": {"TYPE": "regnet"}})
    assert (spec.d, spec.w0, spec.wa, spec.wm, spec.g, spec.num_classes) == (
        10,
        32,
        5.0,
        2.5,
        16,
        10,
    )


@pytest.mark.parametrize(
    "data, match",
    [
        ({"family": "regnet", "d": 13, "w0": 20, "wa": 36.0, "wm": 2.5, "g": 8}, "w0: must be a positive multiple of 8"),
        ({"family": "regnet", "d": 13, "w0": 24, "wa": 36.0, "wm": 1.0, "g": 8}, "wm: must be > 1"),
        ({"family": "regnet", "d": 0, "w0": 24, "wa": 36.0, "wm": 2.5, "g": 8}, "d: depth must be >= 1"),
        ({"family": "regnet", "d": 13, "w0": 24, "wa": 36.0, "wm": 2.5, "g": 8, "zz": 1}, "zz: unknown key"),
        ({"family": "vit", "depth": 2, "heads": 2, "hidden_d": 64, "mlp_d": 64, "resolution": 30}, "does not divide resolution"),
        ({"family": "vit", "depth": 2, "heads": 3, "hidden_d": 64, "mlp_d": 64}, "heads: 3 heads do not divide hidden_d=64"),
        ({"family": "anynet", "ds": [1, 0], "ws": [8, 8], "ss": [1, 1], "bs": [1, 1], "gs": [1, 1]}, "ds: entries must be > 0"),
        ({"family": "anynet", "ds": [1], "ws": [8.5], "ss": [1], "bs": [1], "gs": [1]}, "ws: must be an integer"),
        ({"family": "cnn"}, "family: must be one of"),
    ],
)  # fmt: skip
def test_impossible_values_are_config_errors(data, match):
    with pytest.raises(ConfigError, match=match):
        spec_from_dict(data)


def test_unknown_pycls_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("MODEL:\n  TYPE: regnet\nREGNET:\n  W00: 24\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: REGNET.W00: unknown pycls config key"):
        load_spec(str(path))


def test_malformed_yaml_is_one_line_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: regnet\nd: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: malformed YAML at line"):
        load_spec(str(path))


def test_overrides_apply_to_presets_and_files(tmp_path):
    spec = load_spec("RegNetX-200MF", ["resolution=32", "num_classes=10"])
    assert (spec.resolution, spec.num_classes, spec.w0) == (32, 10, 24)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(PYCLS_CONFIGS["ViTP-4GF"]))
    assert load_spec(str(path), ["TRAIN.IM_SIZE=112"]).resolution == 112


def test_run_config_model_section_and_preset_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  preset: RegNetX-200MF\n  resolution: 64\noptim:\n  lr: 0.1\n")
    assert load_spec(str(path)) == spec_from_dict(
        {**spec_to_dict(PRESETS["RegNetX-200MF"]), "resolution": 64}
    )


def test_vit_d_loads_as_the_deprecated_name_of_hidden_d(capsys, monkeypatch):
    """ViT specs written before the rename still load, with a note (issue 12)."""
    monkeypatch.setattr("pycls_like.errors._WARNED", set())
    vit = {"family": "vit", "depth": 2, "heads": 2, "mlp_d": 64, "resolution": 32}
    old = spec_from_dict({**vit, "d": 64})
    assert old == spec_from_dict({**vit, "hidden_d": 64}) and old.hidden_d == 64
    assert "model key d is deprecated; use hidden_d" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="d: give hidden_d only"):
        spec_from_dict({**vit, "d": 64, "hidden_d": 64})
