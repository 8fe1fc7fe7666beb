"""`pycls-like scale`: JSON line, YAML output, human table, growth table, one-line errors."""

import json

import pytest

from pycls_like.complexity import complexity
from pycls_like.io import load_spec
from pycls_like.presets import PRESETS
from pycls_like.scaling import scale
from pycls_like.specs import spec_to_dict

KEYS = ["spec", "strategy", "factor", "scaled", "stages", "resolution", "flops", "params", "acts"]


def test_json_line(cli):
    code, out, err = cli("scale", "RegNetY-400MF", "--strategy", "fast", "--factor", "4", "--json")
    assert code == 0 and err == ""
    assert len(out.splitlines()) == 1
    record = json.loads(out)
    assert list(record) == KEYS
    scaled = scale(PRESETS["RegNetY-400MF"], "fast", 4)
    assert record["scaled"] == spec_to_dict(scaled)
    assert (record["spec"], record["strategy"], record["factor"]) == ("RegNetY-400MF", "fast", 4)
    assert record["resolution"] == 240
    cx = complexity(scaled)
    assert (record["flops"], record["params"], record["acts"]) == (cx.flops, cx.params, cx.acts)
    code, out, _ = cli("complexity", "RegNetY-400MF", "--json")
    assert [set(s) for s in record["stages"]] == [set(s) for s in json.loads(out)["stages"]]
    assert [s["depth"] for s in record["stages"]] == [1, 3, 7, 7]


def test_output_yaml_accepted(cli, tmp_path):
    path = tmp_path / "scaled.yaml"
    code, out, _ = cli(
        "scale", "EfficientNet-B0", "--strategy", "dwr", "--factor", "2", "-o", str(path)
    )
    assert code == 0 and f"wrote {path}" in out
    assert load_spec(str(path)) == scale(PRESETS["EfficientNet-B0"], "dwr", 2)
    code, out, _ = cli("complexity", str(path), "--json")
    assert code == 0 and json.loads(out)["flops"] == complexity(load_spec(str(path))).flops


def test_set_override_and_human_table(cli):
    code, out, _ = cli("scale", "ViTP-1GF", "--strategy", "w", "--factor", "2", "--set", "depth=6")
    assert code == 0
    assert "before" in out and "after" in out and "d 192 -> 264" in out and "depth 6 " in out
    code, out, _ = cli("scale", "RegNetY-400MF", "--strategy", "d", "--factor", "2")
    flops_row = next(line for line in out.splitlines() if line.split()[0] == "flops")
    assert flops_row.endswith("1.84x")  # the stem and head do not deepen
    assert "1 -> 2" in out and "6 -> 12" in out


def test_growth_table(cli):
    code, out, _ = cli("scale", "RegNetY-400MF", "--growth", "--strategy", "d,w,fast")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5 and lines[2].split()[0] == "d"
    code, out, _ = cli("scale", "RegNetY-400MF", "--growth", "--factors", "1,4", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["strategy"] for r in rows] == ["d", "w", "r", "dw", "dwr", "fast"]
    assert rows[0]["factors"] == [1, 4] and "acts_e" in rows[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "dq", "--factor", "2"], "'dq'"),
        (["--strategy", "dw", "--factor", "0"], "'dw'"),
        (["--strategy", "dw"], "--factor"),
        (["--growth", "--strategy", "d,x"], "'x'"),
        (["--growth", "--factors", "1,a"], "--factors"),
    ],
)
def test_errors_are_one_line_exit_2(cli, args, message):
    code, out, err = cli("scale", "RegNetY-400MF", *args)
    assert code == 2 and out == ""
    assert (
        len(err.splitlines()) == 1 and err.startswith("pycls-like scale: error:") and message in err
    )
