"""`pycls-like demo` plumbing end to end, on a tiny budget (the real budgets are measured by hand
and in tools/bench_all.py: 10 minutes default, 2 minutes --quick on 2 cores)."""

import json

import pytest

from pycls_like import demo as demo_module
from pycls_like.demo import DemoSettings, demo, summarize

TINY = DemoSettings(n=3, flops=(4e6, 12e6), n_train=128, n_test=64, epochs=1, batch_size=32)


@pytest.mark.slow
def test_tiny_demo_writes_report_and_summary(tmp_path, capsys):
    lines = demo(tmp_path, TINY, workers=2, device="cpu", quiet=True)
    assert (tmp_path / "report.html").stat().st_size > 10_000
    report = json.loads((tmp_path / "report.json").read_text())
    assert [p["name"] for p in report["populations"]] == list(demo_module.SPACES)
    assert all(p["n"] == 3 for p in report["populations"])
    assert lines[-1] == f"report: {tmp_path / 'report.html'}"
    assert any(line.startswith("better space: ") and "KS D=" in line for line in lines)
    assert any(line.startswith("best model: ") for line in lines)
    # Rerunning resumes: every run is already complete, nothing is trained again.
    assert demo(tmp_path, TINY, workers=2, device="cpu", quiet=True) == lines


def test_summary_names_the_better_space():
    pop = {"n": 4, "best": {"id": "0001", "top1_err": 40.0, "flops": 8e6, "params": 1e5}}
    report = {
        "populations": [
            {**pop, "name": "a", "median_error": 60.0},
            {**pop, "name": "b", "median_error": 50.0, "best": {**pop["best"], "top1_err": 30.0}},
        ],
        "ks": [{"a": "a", "b": "b", "statistic": 0.75, "pvalue": 0.03}],
        "ks_normalized": [{"a": "a", "b": "b", "statistic": 0.5, "pvalue": 0.2}],
    }
    lines = summarize(report)
    assert lines[2] == (
        "better space: b (median error 50.0% vs 60.0%); KS D=0.75, p=0.03 "
        "(complexity-normalized p=0.2)"
    )
    assert lines[3].startswith("best model: b/0001: top-1 error 30.0%")
