"""`pycls-like sample` / `spaces`: output formats, options, and one-line errors for bad input."""

import csv
import json
import re
import subprocess
import sys

import pytest

from pycls_like.design.constraints import parse_band
from pycls_like.design.space import load_space
from tests.conftest import run_cli


def test_sample_jsonl_lines(cli):
    code, out, err = cli("sample", "regnetx", "-n", "5", "--seed", "3")
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 5
    for row in rows:
        assert {"spec", "d", "w0", "wa", "wm", "g", "flops", "params", "acts"} <= set(row)
        assert row["spec"]["family"] == "regnet" and 360e6 <= row["flops"] <= 400e6
    expected = [s.record() for s in load_space("regnetx").sample(5, 3)]
    assert rows == json.loads(json.dumps(expected))


@pytest.mark.parametrize("band", ["20e6:30e6", "20M:30M", "0.02G:0.03G", ":30M"])
def test_band_forms(cli, band):
    code, out, _ = cli("sample", "cifar_anynetx", "-n", "20", "--flops", band)
    assert code == 0
    flops = [json.loads(line)["flops"] for line in out.splitlines()]
    assert max(flops) <= 30e6 and (band.startswith(":") or min(flops) >= 20e6)


def test_band_parser():
    assert parse_band("360M:400M", "k") == parse_band([360e6, "400e6"], "k")
    assert parse_band("0.36G:", "k").hi is None and parse_band(":4e8", "k").lo is None


def test_csv_output_optim_stratify_set_dedupe(cli, tmp_path):
    path = tmp_path / "pop.csv"
    code, out, err = cli(
        "sample",
        "cifar_regnetx",
        "-n",
        "12",
        "--seed",
        "1",
        "--optim",
        "sgd",
        "--stratify",
        "3",
        "--dedupe",
        "--set",
        "params.resolution=32",
        "-o",
        str(path),
    )
    assert code == 0 and out == "" and "12 models from cifar_regnetx" in err
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 12
    assert {"optim.lr", "optim.wd", "d", "flops", "spec", "optim"} <= set(rows[0])
    assert json.loads(rows[0]["optim"])["optimizer"] == "sgd"
    assert list(rows[0])[-2:] == ["spec", "optim"]


def test_spaces_lists_descriptions(cli):
    code, out, _ = cli("spaces")
    assert code == 0
    assert any(line.startswith("regnetx ") and "pycls" in line for line in out.splitlines())
    code, out, _ = cli("spaces", "--json")
    names = [json.loads(line)["name"] for line in out.splitlines()]
    assert "anynetx_e" in names and "vit_stem" in names


def test_commands_module_imports_without_numpy():
    code = "import sys, pycls_like.design.commands; print('numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def write(tmp_path, text: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


GOOD = "family: regnet\nparams:\n  d: {type: int, range: [12, 28]}\n  w0: 24\n  wa: 24.0\n  wm: 2.5\n  g: 8\n"
BAD_SPACES = [
    (GOOD.replace("type: int", "type: gaussian"), "params.d.type: unknown sampler type 'gaussian'"),
    (GOOD.replace("[12, 28]", "[28, 12]"), "params.d.range: inverted range [28, 12]"),
    (GOOD + "  colour: red\n", "params.colour: not a parameter of family regnet"),
    (GOOD + "  ds: [1, 2]\n", "params.ds: not a parameter of family regnet"),
    (
        GOOD + "constraints:\n  latency: [0, 1]\n",
        "constraints.latency: unknown constraint 'latency'",
    ),
    (GOOD + "constraints:\n  flops: [400M, 360M]\n", "constraints.flops: inverted band"),
    (GOOD + "constraints:\n  where: ['depth > 3']\n", "constraints.where[0]: unknown name 'depth'"),
    (GOOD + "constraints:\n  where: ['__import__(\"os\")']\n", "constraints.where[0]: only min"),
    (
        GOOD + "constraints:\n  where: ['d.real > 1']\n",
        "constraints.where[0]: `Attribute` is not allowed",
    ),
    (GOOD + "constraints:\n  flops: [1, 2]\n", "constraints: accepted 0 of"),
    (
        GOOD + "constraints:\n  flops: 1:2\n",
        "constraints.flops: a band is [lo, hi] or 'LO:HI', got 62 (quote",
    ),
    (
        GOOD.replace("w0: 24", "w0: {type: uniform, range: [8, 64]}"),
        "params.w0: an integer field needs integer values",
    ),
    (
        GOOD.replace("w0: 24", "w0: 12"),
        "params.w0: gives an invalid spec (must be a positive multiple of 8",
    ),
    (GOOD.replace("family: regnet", "family: effnet"), "family: can sample anynet, regnet, vit"),
    (GOOD + "optim:\n  lr: {type: log_uniform, range: [0, 1]}\n", "optim.lr.range: needs lo > 0"),
    (GOOD + "optim:\n  momentum: 0.9\n", "optim.momentum: unknown optimizer setting"),
    (
        GOOD + "optim:\n  optimizer: lamb\n",
        "optim.optimizer: must be a constant or choice of sgd, adamw",
    ),
    (GOOD + "stages: 4\n", "stages: only anynet spaces take `stages`"),
    (GOOD + "colour: red\n", "colour: unknown key"),
    ("family: regnet\nparams: [1, 2\n", "malformed YAML"),
    (GOOD.replace("  g: 8\n", ""), "params.g: family regnet needs this parameter"),
]


@pytest.mark.parametrize("text, message", BAD_SPACES)
def test_bad_space_one_line_exit_2(cli, tmp_path, text, message):
    path = write(tmp_path, text)
    code, out, err = cli("sample", path, "-n", "3", "--max-candidates", "40000")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert f"{path}: {message}" in err, err


def test_unsatisfiable_reports_acceptance_rate(cli, tmp_path):
    path = write(tmp_path, GOOD.replace("[12, 28]", "[1, 3]"))
    code, _, err = cli("sample", path, "-n", "5", "--flops", "1G:2G")
    assert code == 2 and re.search(r"accepted 0 of \d+ candidates \(acceptance rate 0.0000%\)", err)


@pytest.mark.parametrize(
    "args, message",
    [
        (["no_such_space", "-n", "2"], "unknown design space 'no_such_space'"),
        (["regnetxx", "-n", "2"], "did you mean regnetx"),
        (["regnetx", "-n", "2", "--flops", "400M-500M"], "constraints.flops: a band is LO:HI"),
        (["regnetx", "-n", "2", "--flops", "x:500M"], "constraints.flops: not a number: 'x'"),
        (
            ["regnetx", "-n", "2", "--set", "params.wm.range=[3, 2]"],
            "params.wm.range: inverted range",
        ),
        (["regnetx", "-n", "2", "--optim", "nope"], "unknown optimizer space 'nope'"),
        (["regnetx", "-n", "2", "--stratify", "4"], ""),
        (
            ["regnetx", "-n", "2", "--stratify", "4", "--flops", "360M:"],
            "needs a closed flops band",
        ),
    ],
)
def test_bad_cli_arguments(cli, args, message):
    code, out, err = cli("sample", *args)
    if not message:
        assert code == 0
        return
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1, err


def test_bad_space_subprocess_no_traceback(tmp_path):
    path = write(tmp_path, GOOD.replace("type: int", "type: gaussian"))
    proc = run_cli("sample", path, "-n", "2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "params.d.type: unknown sampler type" in proc.stderr
