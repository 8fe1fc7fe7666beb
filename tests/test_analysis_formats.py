"""Tables from elsewhere (analysis.formats): parquet, pycls's collected sweep JSON, the released NDS
model data; optional id/status columns; every missing required column named at once."""

import json

import numpy as np
import pandas as pd
import pytest

from pycls_like.analysis.report import write_report
from pycls_like.analysis.summary import analyze
from pycls_like.analysis.table import load_population
from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_widths


def _nds_records(n: int, rng: np.random.Generator, shift: float = 0.0) -> list[dict]:
    """Records in the NDS model-data layout: flops/params in millions, errors named "top1"."""
    out = []
    for i in range(n):
        ds = [int(x) for x in rng.integers(1, 5, 4)]
        ws = [int(x) for x in np.sort(8 * rng.integers(2, 64, 4))]
        flops = float(rng.uniform(300, 600))
        curve = [float(60 - 2 * e - 0.01 * flops + shift + rng.normal(0, 1)) for e in range(10)]
        out.append(
            {
                "job_id": 1000 + i,
                "net": {
                    "block_type": "res_bottleneck_block",
                    "ds": ds,
                    "ws": ws,
                    "bot_muls": [1.0] * 4,
                    "num_gs": [1] * 4,
                    "stem_w": 32,
                },
                "optim": {"lr": 0.1, "wd": 5e-5, "max_ep": 10},
                "flops": flops,
                "params": float(rng.uniform(2, 6)),
                "test_ep_top1": curve,
                "min_test_top1": min(curve),
            }
        )
    return out


def test_nds_model_data(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "ResNeXt-A.json"
    path.write_text(json.dumps(_nds_records(30, rng)))
    pop = load_population(path)
    rows = pop.rows()
    assert len(rows) == 30 and set(rows["status"]) == {"complete"}
    assert rows["flops"].between(300e6, 600e6).all()  # millions -> absolute counts
    first = _nds_records(1, np.random.default_rng(0))[0]
    assert rows["top1_err"].iloc[0] == pytest.approx(first["min_test_top1"])
    widths = json.loads(rows["block_widths"].iloc[0])
    assert widths == [
        w for d, w in zip(first["net"]["ds"], first["net"]["ws"], strict=True) for _ in range(d)
    ]
    assert {"ds_1", "ws_4", "stem_w", "optim.lr"} <= set(pop.table.columns)
    # NDS files of some spaces split records into {"top": [...], "mid": [...]}.
    split = tmp_path / "split.json"
    records = _nds_records(20, rng)
    split.write_text(json.dumps({"top": records[:10], "mid": records[10:]}))
    assert len(load_population(split).rows()) == 20


def test_pycls_sweep_json(tmp_path):
    rng = np.random.default_rng(1)
    records = []
    for i in range(25):
        d, w0, wa, wm = int(rng.integers(10, 20)), 24, float(rng.uniform(20, 40)), 2.5
        records.append(
            {
                "cfg": {
                    "MODEL": {"TYPE": "regnet"},
                    "REGNET": {"DEPTH": d, "W0": w0, "WA": wa, "WM": wm, "GROUP_W": 8},
                    "OPTIM": {"BASE_LR": float(rng.uniform(0.1, 0.8)), "MAX_EPOCH": 10},
                },
                "complexity": {"flops": 4e8 + 1e6 * i, "params": 5e6, "acts": 4e6},
                "test_epoch": {
                    "min_top1_err": [50.0 - k - 0.1 * i for k in range(10)],
                    "epoch_ind": list(range(1, 11)),
                    "epoch_max": [10] * 10,
                },
                "log_file": f"/sweeps/s/logs/run_{i:03d}/stdout.log",
            }
        )
    records[-1]["test_epoch"]["epoch_ind"] = [1, 2]  # an unfinished run
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(records))
    pop = load_population(path)
    rows = pop.rows()
    assert len(rows) == 24 and pop.status_counts() == {"complete": 24, "running": 1}
    assert rows["id"].iloc[0] == "run_000" and rows["top1_err"].iloc[0] == pytest.approx(41.0)
    r = records[0]["cfg"]["REGNET"]
    assert json.loads(rows["block_widths"].iloc[0]) == regnet_block_widths(
        r["DEPTH"], r["W0"], r["WA"], r["WM"]
    )
    result = analyze([pop])  # RegNet widths before adjustment: every fit exact
    assert (result.populations[0].rows["e_fit"] == 0).all()


def test_parquet_table_and_optional_columns(tmp_path):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(2)
    table = pd.DataFrame(
        {
            "flops": rng.uniform(1e8, 4e8, 40),
            "top1_err": rng.normal(30, 2, 40),
            "d": rng.integers(10, 20, 40),
        }
    )
    table.to_parquet(tmp_path / "t.parquet")
    pop = load_population(tmp_path / "t.parquet")
    assert list(pop.table.columns[:2]) == ["id", "status"] and pop.table["id"].iloc[3] == "0003"
    summary = write_report([tmp_path / "t.parquet"], tmp_path / "r.html", n_boot=50)
    assert summary["populations"][0]["n"] == 40


def test_missing_columns_named_at_once(tmp_path):
    (tmp_path / "t.csv").write_text("id,status,d\na,complete,3\n")
    with pytest.raises(ConfigError, match=r"missing columns 'top1_err', 'flops'") as err:
        analyze([load_population(tmp_path / "t.csv")])
    assert "t.csv" in str(err.value) and "\n" not in str(err.value)
