"""Crossed spaces (`cross:`): every draw of the other parameters is taken at each value of the
crossed choices, so a study compares those values on the same settings; `analyze --by` then
pairs the runs by setting (Wilcoxon signed-rank) instead of treating them as independent."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pycls_like.analysis.groups import group_rows, hodges_lehmann
from pycls_like.design import load_space
from pycls_like.errors import ConfigError
from pycls_like.sweep.config import sweep_from_dict
from pycls_like.sweep.setup import setup

# A vectorized (regnet) space, fast to sample: the group width is crossed with the other draws.
SPACE = {
    "family": "regnet",
    "params": {
        "d": {"type": "int", "range": [6, 12]},
        "w0": {"type": "log_uniform", "range": [16, 64], "q": 8},
        "wa": {"type": "log_uniform", "range": [8, 64], "q": 0.1},
        "wm": {"type": "log_uniform", "range": [2.0, 3.0], "q": 0.001},
        "g": {"type": "choice", "values": [8, 16]},
        "resolution": 32,
        "num_classes": 10,
    },
    "optim": {
        "optimizer": {"type": "choice", "values": ["sgd", "adamw"]},
        "lr": {"type": "log_uniform", "range": [1e-3, 1.0]},
    },
    "cross": ["g"],
}


def _space(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({**SPACE, **changes}))
    return path


def test_each_draw_is_taken_at_every_crossed_value(tmp_path):
    space = load_space(str(_space(tmp_path)))
    assert space.cross_size == 2 and "setting" in space.flat_names
    table = pd.DataFrame(space.sample_table(40, seed=3))
    assert list(table["index"]) == list(range(40))
    assert list(table["setting"]) == [i // 2 for i in range(40)]
    for _, pair in table.groupby("setting"):
        assert list(pair["g"]) == [8, 16]
        # everything but the crossed value is shared (the optimizer settings included)
        for column in ("d", "w0", "wa", "wm", "optim.optimizer", "optim.lr"):
            assert pair[column].nunique() == 1, column
    assert table["setting"].nunique() == 20 and table["optim.optimizer"].nunique() == 2
    # prefix- and slice-stable like any population
    again = pd.DataFrame(space.sample_table(10, seed=3, start=5))
    pd.testing.assert_frame_equal(again, table.iloc[5:15].reset_index(drop=True))


def test_a_draw_is_accepted_only_when_every_member_is(tmp_path):
    # g = 16 needs widths divisible by 16 after the compatibility rule; a predicate that one
    # member fails rejects the whole draw, so no setting is ever left without its partner.
    space = load_space(str(_space(tmp_path, constraints={"where": ["d >= 9"]})))
    table = pd.DataFrame(space.sample_table(30, seed=0))
    assert (table["d"] >= 9).all() and (table.groupby("setting").size() == 2).all()
    one_sided = load_space(str(_space(tmp_path, constraints={"where": ["g == 8"]})))
    with pytest.raises(ConfigError, match="nearly"):
        one_sided.sample(2, seed=0, max_candidates=100)


@pytest.mark.parametrize(
    ("cross", "match"),
    [
        (["depth"], "not a choice parameter"),
        (["d"], "not a choice parameter"),  # an int range is not a finite choice
        ("g", None),  # a bare name is a one-item list
        ([], "list of parameter names"),
        (["g", "g"], "twice"),
    ],
)
def test_cross_is_validated(tmp_path, cross, match):
    path = _space(tmp_path, cross=cross)
    if match is None:
        assert load_space(str(path)).cross == (("g", (8, 16)),)
        return
    with pytest.raises(ConfigError, match=match) as err:
        load_space(str(path))
    assert err.value.key == "cross" and "space.yaml" in str(err.value)


def test_crossed_sweeps_need_whole_settings_and_refuse_stratification(tmp_path):
    config = sweep_from_dict(
        {"name": "x", "dir": str(tmp_path / "sw"), "space": str(_space(tmp_path)), "n": 5}
    )
    with pytest.raises(ConfigError, match="multiple of 2") as err:
        setup(config)
    assert err.value.key == "n" and not (tmp_path / "sw").exists()
    space = load_space(str(_space(tmp_path)))
    with pytest.raises(ConfigError, match="stratified"):
        space.sample(4, seed=0, stratify=2)


def _paired_rows(shift: float, n: int = 16, seed: int = 0) -> pd.DataFrame:
    """Errors that vary a lot between settings (lr), and b worse than a by `shift` on each."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(10, 60, n)  # the setting effect: far larger than the level effect
    rows = []
    for s, e in enumerate(base):
        for level, err in (("a", e), ("b", e + shift + rng.normal(0, 0.5))):
            rows.append({"setting": s, "arch": level, "optim.optimizer": ("sgd", "adamw")[s % 2],
                         "top1_err": err})  # fmt: skip
    return pd.DataFrame(rows)


def test_paired_runs_get_the_signed_rank_test_and_it_sees_what_independent_draws_miss():
    rows = _paired_rows(shift=2.0)
    (c,) = group_rows(rows, ["arch"]).comparisons
    assert c.test == "wilcoxon-paired" and c.n_pairs == 16
    assert c.significant and c.better == "a" and c.p_value < 1e-3
    assert c.effect == pytest.approx(2.0, abs=0.5) and "same settings" in c.sentence
    # the same numbers without the pairing: the setting-to-setting spread hides the shift
    (u,) = group_rows(rows.drop(columns="setting"), ["arch"]).comparisons
    assert u.test == "mean-permutation" and u.n_pairs is None and not u.significant
    assert u.effect == pytest.approx(rows.top1_err[1::2].mean() - rows.top1_err[::2].mean())
    # no shift: no verdict either way
    (null,) = group_rows(_paired_rows(shift=0.0), ["arch"]).comparisons
    assert null.test == "wilcoxon-paired" and not null.significant


def test_pairs_are_matched_within_strata_and_only_where_settings_are_shared():
    rows = _paired_rows(shift=2.0, n=20).iloc[:-1]  # the last setting lost its `b` run
    g = group_rows(rows, ["arch", "optimizer"])
    assert sorted(c.n_pairs for c in g.comparisons) == [9, 10]
    # optimizers share no setting: compared as independent populations
    by_opt = group_rows(rows, ["optimizer", "arch"])
    assert {c.test for c in by_opt.comparisons} == {"mean-permutation"}


def test_hodges_lehmann_is_the_median_of_walsh_averages():
    d = np.array([1.0, 2.0, 9.0])
    # Walsh averages: 1, 1.5, 5, 2, 5.5, 9
    assert hodges_lehmann(d) == pytest.approx(np.median([1, 1.5, 5, 2, 5.5, 9]))


def test_analyze_by_reports_the_paired_test(tmp_path, cli):
    rows = _paired_rows(shift=2.0).assign(id=lambda t: range(len(t)), flops=1)
    rows.to_csv(tmp_path / "t.csv", index=False)
    code, out, _ = cli("analyze", str(tmp_path / "t.csv"), "--by", "arch", "--boot", "20",
                       "-o", str(tmp_path / "g.html"))  # fmt: skip
    assert code == 0 and "Wilcoxon signed-rank" in out and "equal spread (paired)" in out
    page = (tmp_path / "g.html").read_text()
    assert "<th>pairs</th>" in page and "error per shared setting" in page
    assert page.count("<svg") == 2  # the EDFs and the per-setting scatter (no lr/wd columns)
