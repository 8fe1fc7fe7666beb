"""What users type: many SPECs in one call, pycls-style `KEY VALUE` overrides, timm/torchvision names."""

import json
import re
from pathlib import Path

import pytest
import yaml

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.io import override_keys, split_trailing_overrides
from pycls_like.presets import ALIASES, PRESETS, aliases_of, get_preset
from tests.conftest import run_cli

PYCLS_R = {
    "MODEL": {"TYPE": "regnet", "NUM_CLASSES": 1000},
    "REGNET": {"DEPTH": 13, "W0": 24, "WA": 36.44, "WM": 2.49, "GROUP_W": 8},
    "TRAIN": {"IM_SIZE": 224},
}


def _write(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_bad_specs_lose_no_good_answer(tmp_path: Path, cli):
    good = _write(tmp_path / "good.yaml", PYCLS_R)
    (tmp_path / "broken.yaml").write_text("family: regnet\nd: [\n")
    wrong = _write(
        tmp_path / "wrong.yaml",
        {"family": "regnet", "d": 13, "w0": 24, "wa": 36.4, "wm": 0.5, "g": 8},
    )
    args = [good, str(tmp_path / "broken.yaml"), "RegNetX-200MF", wrong, "RegNetX-20MF", "resnet50"]
    code, out, err = cli("complexity", "--json", *args)
    assert code == 2
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["spec"] for a in answers] == [good, "RegNetX-200MF", "resnet50"]
    assert answers[1]["flops"] == complexity(PRESETS["RegNetX-200MF"]).flops
    lines = err.splitlines()
    assert len(lines) == 3 and all(x.startswith("pycls-like complexity: error: ") for x in lines)
    assert "broken.yaml: malformed YAML" in lines[0]
    assert "wrong.yaml: wm:" in lines[1]
    assert "unknown preset 'RegNetX-20MF'" in lines[2]


def test_all_good_is_exit_0_and_human_output_keeps_blank_lines(cli):
    code, out, err = cli("complexity", "RegNetX-200MF", "ResNet-50")
    assert code == 0 and err == ""
    blocks = out.strip().split("\n\n")
    assert [b.splitlines()[0].split()[0] for b in blocks] == ["RegNetX-200MF", "ResNet-50"]


def test_trailing_key_value_pairs_are_pycls_overrides(tmp_path: Path, cli):
    path = _write(tmp_path / "r.yaml", PYCLS_R)
    code, out, _ = cli("complexity", "--json", path, "REGNET.DEPTH", "20", "TRAIN.IM_SIZE", "160")
    same = _write(tmp_path / "r20.yaml", {**PYCLS_R, "REGNET": {**PYCLS_R["REGNET"], "DEPTH": 20}})
    _, expected, _ = cli("complexity", "--json", same, "--set", "TRAIN.IM_SIZE=160")
    assert code == 0
    assert json.loads(out)["flops"] == json.loads(expected)["flops"]
    assert json.loads(out)["flops"] != json.loads(cli("complexity", "--json", path)[1])["flops"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["REGNET.DEPTH"], "'REGNET.DEPTH' has no value"),
        (["REGNET.DEPHT", "3"], "REGNET.DEPHT: unknown pycls config key"),
    ],
)
def test_bad_trailing_overrides_are_one_line(tmp_path: Path, cli, args, message):
    code, out, err = cli("complexity", _write(tmp_path / "r.yaml", PYCLS_R), *args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err


def test_split_trailing_overrides():
    assert split_trailing_overrides(["a.yaml", "b", "REGNET.W0", "32", "OPTIM.LR", "0.1"]) == (
        ["a.yaml", "b"],
        ["REGNET.W0=32", "OPTIM.LR=0.1"],
    )
    assert split_trailing_overrides(["RegNetX-200MF"]) == (["RegNetX-200MF"], [])
    with pytest.raises(ConfigError, match="has no value"):
        split_trailing_overrides(["a.yaml", "A.B", "1", "C.D"])
    assert override_keys(["TRAIN.DATASET=synthetic", "optim.lr=0.1"]) == {
        "TRAIN.DATASET",
        "optim.lr",
    }


def test_pairs_without_a_spec_are_an_error(cli):
    code, _, err = cli("complexity", "REGNET.DEPTH", "20")
    assert code == 2 and "expected a SPEC" in err


@pytest.mark.parametrize(
    ("alias", "preset"),
    [
        ("regnetx_002", "RegNetX-200MF"),
        ("regnety_004", "RegNetY-400MF"),
        ("regnety_016", "RegNetY-1.6GF"),
        ("regnetx_320", "RegNetX-32GF"),
        ("regnet_y_400mf", "RegNetY-400MF"),
        ("regnet_x_1_6gf", "RegNetX-1.6GF"),
        ("regnet_y_8gf", "RegNetY-8.0GF"),
        ("resnet50", "ResNet-50"),
        ("resnext50_32x4d", "ResNeXt-50"),
        ("efficientnet_b0", "EfficientNet-B0"),
        ("vit_b_16", "ViTP-18GF"),
        ("REGNETX_002", "RegNetX-200MF"),
    ],
)
def test_timm_and_torchvision_names(alias, preset):
    assert get_preset(alias) is PRESETS[preset]


def test_every_alias_names_a_preset_and_every_regnet_has_its_timm_name():
    assert set(ALIASES.values()) <= set(PRESETS)
    timm = re.compile(r"regnet[xy]_\d{3}")
    for name in (n for n in PRESETS if n.startswith("RegNet")):
        assert len([a for a in aliases_of(name) if timm.fullmatch(a)]) == 1, name


def test_suggestions_include_aliases():
    with pytest.raises(ConfigError) as err:
        get_preset("regnetx_02")
    assert "regnetx_002 (RegNetX-200MF)" in str(err.value)
    with pytest.raises(ConfigError) as err:
        get_preset("resnet5")
    assert str(err.value).count("ResNet-50") == 1  # one suggestion per preset


def test_presets_shows_aliases(cli):
    code, out, _ = cli("presets")
    row = next(line for line in out.splitlines() if line.startswith("RegNetY-400MF "))
    assert code == 0 and row.split()[-2:] == ["regnety_004", "regnet_y_400mf"]
    code, out, _ = cli("presets", "--json")
    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert rows["ResNet-50"]["aliases"] == ["resnet50"] and rows["ViTC-1GF"]["aliases"] == []


def test_measure_without_fvcore_is_one_line(cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fvcore" else real(name, *a)
    )
    code, out, err = cli("complexity", "--measure", "RegNetX-200MF")
    assert code == 2 and out == ""
    assert err.strip() == (
        "pycls-like complexity: error: --measure needs fvcore: pip install 'pycls_like[measure]'"
    )


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pycls_like", "complexity", "--json", "regnetx_002"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["spec"] == "regnetx_002"
    assert run_cli("complexity", "nope_preset").returncode == 2
