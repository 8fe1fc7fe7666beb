"""`pycls-like complexity` / `presets`: output formats, speed-critical imports, bad input."""

import json

import pytest
import yaml

from pycls_like.complexity import complexity
from pycls_like.presets import PRESETS
from tests.conftest import run_cli


def test_json_line_has_exact_keys(cli):
    code, out, _ = cli("complexity", "--json", "RegNetX-200MF", "ViTP-1GF")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [set(r) for r in lines] == [{"spec", "flops", "params", "acts", "stages"}] * 2
    first = lines[0]
    assert first["spec"] == "RegNetX-200MF"
    assert first["flops"] == complexity(PRESETS["RegNetX-200MF"]).flops
    stage_keys = {"depth", "width", "stride", "b", "g"}
    assert all(set(s) == stage_keys for s in first["stages"])
    assert [s["depth"] for s in first["stages"]] == [1, 1, 4, 7]
    assert lines[1]["stages"] == []


def test_human_output_labels_multiply_adds(cli):
    code, out, _ = cli("complexity", "ResNet-50")
    assert code == 0
    assert "4.09 G multiply-adds" in out and "params 25.56 M" in out
    assert "stage  depth  width  stride  b      g" in out


def test_set_and_yaml_paths(cli, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"preset": "RegNetY-400MF", "resolution": 128}))
    code, out, _ = cli("complexity", "--json", str(path), "--set", "num_classes=10")
    assert code == 0
    record = json.loads(out)
    assert record["spec"] == str(path)
    assert record["params"] < complexity(PRESETS["RegNetY-400MF"]).params


def test_presets_lists_every_preset(cli):
    code, out, _ = cli("presets", "--json")
    assert code == 0
    assert [json.loads(line)["name"] for line in out.splitlines()] == list(PRESETS)


BAD_INPUTS = [
    (["RegNetX-2OOMF"], "unknown preset 'RegNetX-2OOMF'; did you mean RegNetX-200MF"),
    (["RegNetX-200MF", "--set", "wm=0.9"], "wm: must be > 1"),
    (["RegNetX-200MF", "--set", "w0=12"], "w0: must be a positive multiple of 8"),
    (["RegNetX-200MF", "--set", "d=0"], "d: depth must be >= 1"),
    (["ViTP-1GF", "--set", "resolution=200"], "patch size 16 does not divide resolution 200"),
    (["ViTP-1GF", "--set", "heads=5"], "heads: 5 heads do not divide hidden_d=192"),
    (["RegNetX-200MF", "--set", "colour=red"], "colour: unknown key for family regnet"),
    (["missing.yaml"], "missing.yaml: cannot read file"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS)
def test_bad_input_one_line_exit_2(cli, args, message):
    code, out, err = cli("complexity", *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_bad_yaml_files_subprocess(tmp_path):
    bad_key = tmp_path / "unknown_key.yaml"
    bad_key.write_text("MODEL:\n  TYPE: anynet\nANYNET:\n  DEPTHZ: [1]\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("family: [regnet\n")
    for path, message in (
        (bad_key, "ANYNET.DEPTHZ: unknown pycls config key"),
        (broken, "malformed YAML"),
    ):
        proc = run_cli("complexity", str(path))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"{path}: " in proc.stderr and message in proc.stderr


def test_unknown_command_exit_2(cli):
    code, _, err = cli("complexify")
    assert code == 2 and "unknown command" in err
