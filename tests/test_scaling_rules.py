"""Scaling rules from a population: recover the strategy that generated the best models."""

import numpy as np
import pandas as pd
import pytest

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.presets import PRESETS
from pycls_like.scaling import exponents, scale
from pycls_like.scaling.rules import fit_scaling_rules, model_dimensions, select_best

RIVALS = ("d", "w", "r", "dw", "dwr", "fast", "d1_w4", "w1_r1")
FACTORS = (1, 4, 16, 64)


def population(truth: str, base: str, seed: int = 0) -> pd.DataFrame:
    """Models of every rival strategy at each factor, 3 noisy 'trainings' each; `truth` wins."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in FACTORS:
        rivals = [truth, *(r for r in RIVALS if r != truth)]
        for rank, strategy in enumerate(rivals):
            spec = scale(PRESETS[base], strategy, s)
            per_stage = {
                f"{k}_{i + 1}": v
                for k in ("ds", "ws", "gs")
                for i, v in enumerate(getattr(spec, k))
            }
            for _ in range(3):
                err = 40 - 4 * np.log2(s) + 1.5 * rank + rng.normal(0, 0.2)
                rows.append(
                    {
                        "flops": complexity(spec).flops,
                        "top1_err": err,
                        "resolution": spec.resolution,
                        **per_stage,
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "truth, base, expected",
    [
        ("d1_w4", "RegNetY-400MF", "d1_w4"),
        ("dwr", "RegNetY-400MF", "dwr"),
        ("w", "RegNetY-400MF", "w"),
        # group width 24 (not 8) so its snapping to multiples of 8 stays close to s**0.4
        ("fast", "RegNetY-1.6GF", "d1_w8_g8_r1"),
    ],
)
def test_recovers_generating_strategy(truth, base, expected):
    rules = fit_scaling_rules(population(truth, base), n_bins=4, top_k=1, n_boot=200)
    assert rules.strategy == expected
    e = exponents(truth)
    for dim, key in (("depth", "d"), ("width", "w"), ("group_width", "g"), ("resolution", "r")):
        assert rules.exponent(dim) == pytest.approx(e[key], abs=0.04), dim
        fit = next(f for f in rules.fits if f.dimension == dim)
        assert fit.low - 0.04 <= e[key] <= fit.high + 0.04, dim
    assert sorted(rules.selected["regime"]) == [0, 1, 2, 3]
    assert rules.as_frame().columns.tolist() == [
        "dimension",
        "source",
        "exponent",
        "r2",
        "low",
        "high",
    ]


def test_bootstrap_is_seeded():
    table = population("dwr", "RegNetY-400MF")
    a = fit_scaling_rules(table, n_bins=4, top_k=2, n_boot=50, rng=np.random.default_rng(1))
    b = fit_scaling_rules(table, n_bins=4, top_k=2, n_boot=50, rng=np.random.default_rng(1))
    assert a.fits == b.fits


def test_select_best_per_regime():
    bins = np.array([0, 0, 0, 1, 1, 2])
    errors = np.array([5.0, 3.0, 4.0, 9.0, 1.0, 7.0])
    assert sorted(select_best(bins, errors, np.arange(6), 2)) == [1, 2, 3, 4, 5]
    assert sorted(select_best(bins, errors, np.arange(6), 1)) == [1, 4, 5]


def test_column_sources():
    table = pd.DataFrame(
        {
            "ds": [[1, 3, 6, 6], "[2, 4]"],  # lists, or JSON text as read back from CSV
            "ws_1": [48, 64],
            "ws_2": [440, 128],
            "g": [8, 16],
            "flops": [1, 2],
        }
    )
    dims = model_dimensions(table)
    assert dims["depth"][0] == "sum of ds" and dims["depth"][1].tolist() == [16, 6]
    assert dims["width"][0] == "max of ws" and dims["width"][1].tolist() == [440, 128]
    assert dims["group_width"][0] == "g" and "resolution" not in dims
    sweep = pd.DataFrame({"d": [3], "block_widths": ["[48, 104, 104]"], "g": [8]})
    width = model_dimensions(sweep)["width"]
    assert width[0] == "max of block_widths" and width[1].tolist() == [104]
    assert model_dimensions(sweep.drop(columns="d"))["depth"][1].tolist() == [3]
    regnet = pd.DataFrame({"d": [16], "w": [440], "depth_blocks": [9]})
    assert model_dimensions(regnet)["depth"][0] == "d"
    assert model_dimensions(regnet, {"depth": "depth_blocks"})["depth"][1].tolist() == [9]
    with pytest.raises(ConfigError, match="nope"):
        model_dimensions(regnet, {"width": "nope"})
    # A group width shared by all stages is one number per row (sweep tables of AnyNetX_C-E).
    shared = pd.DataFrame({"ds_0": [1, 2], "ws_0": [32, 64], "gs": [8, 2]})
    assert model_dimensions(shared)["group_width"][1].tolist() == [8, 2]


def test_bad_tables():
    with pytest.raises(ConfigError, match="top1_err"):
        fit_scaling_rules(pd.DataFrame({"flops": [1, 2]}))
    with pytest.raises(ConfigError, match="no depth"):
        fit_scaling_rules(pd.DataFrame({"flops": [1, 2], "top1_err": [3, 4]}))
