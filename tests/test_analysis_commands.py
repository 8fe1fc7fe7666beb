"""`pycls-like analyze` and `pycls-like fit-regnet`: argparse wiring, outputs, one-line errors."""

import argparse
import json
import subprocess
import sys

import pandas as pd
import pytest

from pycls_like.analysis import commands
from pycls_like.errors import ConfigError
from pycls_like.io import load_spec
from pycls_like.plan import block_widths
from pycls_like.regnet import regnet_block_widths
from tests.test_analysis_sweeps import make_sweep


def _run(name: str, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    getattr(commands, f"add_{name}")(parser)
    return getattr(commands, f"run_{name}")(parser.parse_args(list(argv)))


def test_commands_module_imports_only_stdlib():
    code = (
        "import sys, pycls_like.analysis.commands; "
        "heavy = {'numpy', 'pandas', 'scipy', 'matplotlib', 'seaborn', 'torch', 'yaml'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_analyze_writes_report_and_prints_summary(tmp_path, capsys):
    a = make_sweep(tmp_path / "a", "A", n=30, seed=0)
    b = make_sweep(tmp_path / "b", "B", n=30, seed=1)
    out = tmp_path / "rep" / "index.html"
    assert (
        _run("analyze", str(a), str(b), "-o", str(out), "--boot", "50", "--metric", "params") == 0
    )
    text = capsys.readouterr().out
    assert (tmp_path / "rep" / "report.json").is_file() and out.is_file()
    assert "A: 27 runs" in text and "A vs B: KS D=" in text and "params-normalized" in text
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["metric"] == "params"


def test_analyze_errors_are_one_line_exit_2(cli, tmp_path):
    code, out, err = cli("analyze", str(tmp_path / "missing"), "-o", str(tmp_path / "r.html"))
    assert code == 2 and "no such sweep directory" in err and err.count("\n") == 1
    make_sweep(tmp_path / "s", n=10)
    code, _, err = cli(
        "analyze", str(tmp_path / "s"), "--error", "top9_err", "-o", str(tmp_path / "r.html")
    )
    assert code == 2 and "missing column 'top9_err'" in err


def test_fit_regnet_widths_human_and_json(capsys):
    widths = regnet_block_widths(13, 24, 36.44, 2.49)
    assert _run("fit_regnet", "--widths", ",".join(map(str, widths))) == 0
    human = capsys.readouterr().out
    assert (
        "e_fit=0 (exact)" in human
        and "depths [1, 1, 4, 7]" in human
        and len(human.splitlines()) == 4
    )
    assert _run("fit_regnet", "--widths", ",".join(map(str, widths)), "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert list(record) == ["d", "w0", "wa", "wm", "e_fit", "widths_fit"]
    assert (record["d"], record["w0"], record["e_fit"], record["widths_fit"]) == (
        13,
        24,
        0.0,
        widths,
    )
    assert isinstance(record["wa"], float) and isinstance(record["wm"], float)


def test_fit_regnet_sweep_one_line_per_run(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "s", n=12)
    assert _run("fit_regnet", str(sweep), "--json") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 12 and records[0]["id"] == "0000" and list(records[0])[0] == "id"
    assert _run("fit_regnet", str(sweep)) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("0001: d=")


def test_fit_regnet_spec_preset_and_yaml(tmp_path, capsys):
    assert _run("fit_regnet", "RegNetX-200MF", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert (
        record["widths_fit"] == block_widths(load_spec("RegNetX-200MF")) and record["e_fit"] == 0.0
    )
    # RegNetX-1.6GF is built with widths made group-compatible (80 -> 72, 176 -> 168): off the rule.
    assert _run("fit_regnet", "RegNetX-1.6GF", "--json") == 0
    assert 0 < json.loads(capsys.readouterr().out)["e_fit"] < 0.01
    spec = tmp_path / "m.yaml"
    spec.write_text("family: regnet\nd: 16\nw0: 48\nwa: 36.97\nwm: 2.24\ng: 24\n")
    assert _run("fit_regnet", str(spec), "--json") == 0
    assert json.loads(capsys.readouterr().out)["d"] == 16


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "exactly one of"),
        (["--widths", "24,x,56"], "not a number: 'x'"),
        (["--widths", "24,-8"], "positive integers"),
        (["ViTP-1GF"], "no per-block widths"),
    ],
)
def test_fit_regnet_bad_input(argv, message):
    with pytest.raises(ConfigError, match=message):
        _run("fit_regnet", *argv)


def test_fit_regnet_sweep_without_widths(tmp_path, cli):
    sweep = make_sweep(tmp_path / "s", n=5)
    frame = pd.read_csv(sweep / "results.csv", dtype={"id": str}).drop(columns=["block_widths"])
    frame.to_csv(sweep / "results.csv", index=False)
    code, _, err = cli("fit-regnet", str(sweep))
    assert code == 2 and "missing column 'block_widths'" in err


def test_analyze_reports_good_sources_and_one_line_per_bad_one(tmp_path, capsys):
    """Many inputs: the good ones are analysed, each bad one is one stderr line, exit 2."""
    import pandas as pd

    from pycls_like.cli import main

    rows = {"top1_err": [10.0, 20.0, 30.0], "flops": [1e6, 2e6, 3e6]}
    for name in ("a", "b"):
        pd.DataFrame(rows).to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe not a table")
    out = tmp_path / "r.html"
    args = ["analyze", str(tmp_path / "a.csv"), str(tmp_path / "bad.csv"), str(tmp_path / "b.csv")]
    assert main([*args, "-o", str(out), "--boot", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.csv" in err[0] and err[0].startswith("pycls-like analyze: error:")
    assert out.is_file()
