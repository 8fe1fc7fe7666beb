"""Sweep-table loading and validation, plus `make_sweep`, the fixture sweep the analysis tests share."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pycls_like.analysis.table import (
    as_numeric,
    load_population,
    parameter_columns,
    parse_block_widths,
)
from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_widths


def make_sweep(
    path: Path,
    name: str | None = "regnetx",
    n: int = 60,
    seed: int = 0,
    shift: float = 0.0,
    pending: int = 2,
    failed: int = 1,
    diverged: int = 2,
    curves: int = 5,
) -> Path:
    """A collected sweep directory of random RegNets (a third with jittered stage widths) whose error
    falls with flops and rises with the distance of wm from 2.4: trends and differences are visible."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        d, w0 = int(rng.integers(8, 24)), int(8 * rng.integers(2, 12))
        wa, wm = float(rng.uniform(10, 60)), float(rng.uniform(1.8, 3.0))
        widths = regnet_block_widths(d, w0, wa, wm)
        if i % 3 == 0:  # an AnyNet-like model: stage widths off the quantized-linear rule
            jitter = {w: 8 * max(1, round(w * rng.uniform(0.8, 1.25) / 8)) for w in set(widths)}
            widths = [jitter[w] for w in widths]
        flops = int(sum(w * w for w in widths) * 400)
        err = 60 - 4 * np.log10(flops) + 6 * abs(wm - 2.4) + shift + rng.normal(0, 1)
        rows.append(
            {
                "id": f"{i:04d}",
                "status": "complete",
                "flops": flops,
                "params": flops // 50,
                "acts": flops // 300,
                "top1_err": round(float(err), 3),
                "top5_err": round(float(err) / 3, 3),
                "best_top1_err": round(float(err) - 0.5, 3),
                "best_top5_err": round(float(err) / 3 - 0.2, 3),
                "epochs": 10,
                "train_time_s": 12.5,
                "images_per_s": 800.0,
                "block_widths": json.dumps(widths),
                "d": d,
                "w0": w0,
                "wa": round(wa, 2),
                "wm": round(wm, 3),
                "lr": float(10 ** rng.uniform(-2, 0)),
                "optimizer": str(rng.choice(["sgd", "adamw"])),
            }
        )
    table = pd.DataFrame(rows)
    for k in range(diverged):
        table.loc[k, ["status", "top1_err", "top5_err"]] = ["diverged", np.nan, np.nan]
    end = len(table)
    for k in range(pending + failed):
        table.loc[end - 1 - k, ["status", "top1_err"]] = [
            "pending" if k < pending else "failed",
            np.nan,
        ]
    path.mkdir(parents=True, exist_ok=True)
    table.to_csv(path / "results.csv", index=False)
    if name:
        (path / "sweep.yaml").write_text(f"name: {name}\nspace: regnet\n")
    done = table[table["status"] == "complete"].nsmallest(curves, "top1_err")
    for run_id, final in zip(done["id"], done["top1_err"], strict=True):
        run = path / "runs" / run_id
        run.mkdir(parents=True)
        lines = [
            {"epoch": e, "train_loss": 2.3 / (e + 1), "top1_err": final + 30 / (e + 1), "lr": 0.1}
            for e in range(10)
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_sweep_dir_name_counts_and_rows(tmp_path):
    pop = load_population(make_sweep(tmp_path / "s1"))
    assert pop.name == "regnetx"
    assert pop.status_counts() == {"complete": 55, "diverged": 2, "pending": 2, "failed": 1}
    rows = pop.rows()
    assert len(rows) == 57 and set(rows["status"]) == {"complete", "diverged"}
    assert (rows.loc[rows["status"] == "diverged", "top1_err"] == 100).all()
    assert pop.curves(rows.nsmallest(1, "top1_err")["id"].iloc[0]) is not None
    assert pop.curves("no-such-run") is None


def test_name_falls_back_to_directory(tmp_path):
    assert load_population(make_sweep(tmp_path / "my_sweep", name=None)).name == "my_sweep"


def test_csv_json_and_jsonl_tables(tmp_path):
    table = pd.read_csv(make_sweep(tmp_path / "s") / "results.csv")
    table.to_json(tmp_path / "t.json", orient="records")
    table.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    for file in ("s/results.csv", "t.json", "t.jsonl"):
        pop = load_population(tmp_path / file)
        assert len(pop.rows()) == 57, file
    assert load_population(tmp_path / "t.json").name == "t"
    assert load_population(tmp_path / "s/results.csv").name == "regnetx"


def test_parameters_numeric_and_categorical(tmp_path):
    rows = load_population(make_sweep(tmp_path / "s")).rows()
    params = parameter_columns(rows)
    assert params == ["d", "w0", "wa", "wm", "lr", "optimizer"]
    assert as_numeric(rows["optimizer"]) is None and as_numeric(rows["wm"]) is not None


def test_block_widths_cells():
    assert parse_block_widths("[24, 24, 56]") == [24, 24, 56]
    assert (
        parse_block_widths("") is None
        and parse_block_widths(float("nan")) is None
        and parse_block_widths("[]") is None
    )
    for bad in ("[24, 'a']", "24,56", "[24.5]", "{"):
        with pytest.raises(ConfigError, match="block_widths"):
            parse_block_widths(bad, "run7")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p, "no such sweep directory"),
        (lambda p: p.mkdir() or p, "no results.csv"),
        (lambda p: _write(p, "id,flops\na,1\n"), "missing column 'top1_err'"),
        (
            lambda p: _write(p, "id,status,top1_err\na,complete,x\n"),
            "column 'top1_err' must be numeric",
        ),
        (lambda p: _write(p, "id,status\na,complete\n"), "missing column 'top1_err'"),
        (lambda p: _write(p, "", "t.csv"), "unreadable table"),
        (lambda p: _write(p, "a", "t.txt"), "must be .csv, .json, .jsonl or .parquet"),
    ],
)
def test_bad_inputs_name_the_file_or_column(tmp_path, setup, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_population(setup(tmp_path / "x")).rows()
    assert "\n" not in str(err.value)


def _write(folder: Path, text: str, name: str = "results.csv") -> Path:
    folder.mkdir()
    (folder / name).write_text(text)
    return folder if name == "results.csv" else folder / name


def test_collect_stores_unadjusted_regnet_widths_and_e_fit(tmp_path):
    """A RegNet's table widths are the ones its (w0, wa, wm) generate, before the group-width
    adjustment, so its e_fit (stored at collect time) is 0; sampled parameters are kept."""
    from pycls_like.plan import block_widths as built_widths
    from pycls_like.specs import spec_from_dict, spec_to_dict
    from pycls_like.sweep.collect import collect

    model = {"family": "regnet", "d": 16, "w0": 48, "wa": 27.89, "wm": 2.09, "g": 24}
    spec = spec_from_dict(model)
    adjusted = built_widths(spec)
    raw = regnet_block_widths(16, 48, 27.89, 2.09)
    assert adjusted != raw  # group width 24 moves some stage widths off the rule
    run = tmp_path / "runs" / "0000"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": spec_to_dict(spec)}))
    sample = {
        "id": "0000",
        "params": {"d": 16, "w0": 48, "wa": 27.89, "wm": 2.09},
        "complexity": {"flops": 1, "params": 1, "acts": 1},
        "block_widths": adjusted,
    }
    (run / "sample.json").write_text(json.dumps(sample))
    table = collect(tmp_path, write=False)
    assert json.loads(table["block_widths"][0]) == raw and table["e_fit"][0] == 0.0
    assert (table["wa"][0], table["wm"][0]) == (27.89, 2.09)
