"""What predicts runtime: log-log fits of measured figures against flops, params and acts."""

import numpy as np
import pandas as pd
import pytest

from pycls_like.analysis.report import _runtime_panel
from pycls_like.analysis.runtime import (
    by_setting,
    format_fits,
    has_profile,
    r2_differences,
    runtime_fits,
    timing_noise,
    wall_over_cpu,
)

SETTING = {
    "profile_device": "cpu",
    "profile_device_name": "test cpu",
    "profile_dtype": "fp32",
    "profile_batch_size": 32,
    "profile_threads": 1,
}


def population(n: int = 40, seed: int = 0, **setting: object) -> pd.DataFrame:
    """Train time ~ acts^0.9 (small noise), independent of flops; memory ~ params."""
    rng = np.random.default_rng(seed)
    acts = np.exp(rng.uniform(np.log(1e5), np.log(1e7), n))
    flops = np.exp(rng.uniform(np.log(1e7), np.log(1e9), n))
    params = np.exp(rng.uniform(np.log(1e5), np.log(1e7), n))
    train = 2e-4 * acts**0.9 * np.exp(rng.normal(0, 0.05, n))
    return pd.DataFrame(
        {
            "id": [f"{i:04d}" for i in range(n)],
            "flops": flops,
            "params": params,
            "acts": acts,
            **{k: [v] * n for k, v in {**SETTING, **setting}.items()},
            "fwd_ms": train / 3,
            "fwd_ms_q1": train / 3 * 0.95,
            "fwd_ms_q3": train / 3 * 1.05,
            "train_ms": train,
            "train_ms_q1": train * 0.9,
            "train_ms_q3": train * 1.1,
            "train_mem_mb": 3e-5 * params,
        }
    )


def fit(fits: pd.DataFrame, figure: str, measure: str) -> pd.Series:
    return fits[(fits["figure"] == figure) & (fits["measure"] == measure)].iloc[0]


def test_fits_recover_the_exponent_and_rank_the_counts():
    fits = runtime_fits(population(), n_boot=300)
    acts, flops = fit(fits, "train_ms", "acts"), fit(fits, "train_ms", "flops")
    assert acts.n == 40
    assert acts.exponent == pytest.approx(0.9, abs=0.03)
    assert acts.exponent_lo < 0.9 < acts.exponent_hi
    assert acts.r2 > 0.98 and acts.r2_lo > 0.95
    assert flops.r2 < 0.3
    mem = fit(fits, "train_mem_mb", "params")
    assert mem.exponent == pytest.approx(1.0) and mem.r2 == pytest.approx(1.0)


def test_r2_difference_interval_excludes_zero_when_one_count_wins():
    diffs = r2_differences(population(), "acts", "flops", n_boot=300).set_index("figure")
    row = diffs.loc["train_ms"]
    assert row.difference > 0.6 and row.lo > 0


@pytest.mark.parametrize(
    "column, other",
    [
        ("profile_device", "cuda"),
        ("profile_device_name", "other cpu"),
        ("profile_dtype", "bf16"),
        ("profile_batch_size", 256),
        ("profile_threads", 2),
    ],
)
def test_settings_are_never_pooled(column, other):
    """Two populations that differ in one setting are two fits of 40 models, never one of 80."""
    table = pd.concat([population(seed=0), population(seed=1, **{column: other})])
    settings = by_setting(table)
    assert len(settings) == 2 and all(len(frame) == 40 for frame in settings.values())
    fits = runtime_fits(table, n_boot=100)
    assert fits["setting"].nunique() == 2 and (fits["n"] == 40).all()
    noise = timing_noise(table)
    assert noise["setting"].nunique() == 2 and (noise["n"] == 40).all()


def test_too_small_populations_and_unprofiled_tables_give_no_fit():
    assert runtime_fits(population(n=4)).empty
    assert not has_profile(pd.DataFrame({"flops": [1.0]}))
    assert runtime_fits(pd.DataFrame({"flops": [1.0]})).empty
    assert "no profiled population" in format_fits(runtime_fits(population(n=4)))


def test_timing_noise_is_the_relative_iqr():
    table = population()
    table["train_cpu_ms"], table["train_cpu_ms_q1"] = table["train_ms"], table["train_ms"] * 0.97
    table["train_cpu_ms_q3"] = table["train_ms"] * 1.03
    noise = timing_noise(table).set_index("figure")
    assert noise.loc["train_ms", "median_rel_iqr"] == pytest.approx(0.2)
    assert noise.loc["fwd_ms", "max_rel_iqr"] == pytest.approx(0.1)
    assert noise.loc["train_cpu_ms", "median_rel_iqr"] == pytest.approx(0.06)
    assert "fwd_cpu_ms" not in noise.index  # no CPU-time quartiles (a GPU profile): no row


def test_wall_over_cpu_is_the_time_spent_waiting():
    table = population()
    assert wall_over_cpu(table).empty  # no CPU time (a GPU profile): nothing to compare
    table["train_cpu_ms"] = table["train_ms"] / np.linspace(1, 4, len(table))
    ratio = wall_over_cpu(table).set_index("figure").loc["train_ms"]
    assert ratio.median_ratio == pytest.approx(2.5) and ratio.max_ratio == pytest.approx(4.0)


def test_report_panel_and_text_table():
    table = population()
    html = _runtime_panel({"pop": table})
    assert "cpu (test cpu) fp32 batch 32" in html and "training step time" in html
    text = format_fits(runtime_fits(table, n_boot=100))
    assert text.startswith("what predicts runtime: cpu") and "train_ms" in text


def test_analyze_report_gets_the_panel_only_with_profile_columns(tmp_path):
    from pycls_like.analysis.report import write_report

    table = population()
    table["status"] = "complete"
    table["top1_err"] = np.random.default_rng(0).uniform(20, 60, len(table))
    write_report({"pop": table}, tmp_path / "a.html", n_boot=50)
    assert "What predicts runtime" in (tmp_path / "a.html").read_text()
    plain = table.drop(columns=[c for c in table if c.startswith(("fwd_", "train_", "profile_"))])
    write_report({"pop": plain}, tmp_path / "b.html", n_boot=50)
    assert "What predicts runtime" not in (tmp_path / "b.html").read_text()
