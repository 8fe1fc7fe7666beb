"""`pycls-like demo` plumbing end to end, on a tiny budget (the real budgets and the finding are
measured by tools/finding_check.py and by hand: 10 minutes default, 2 minutes --quick on 2 cores)."""

import json

import pytest

from pycls_like.demo import DemoSettings, demo, slot_names, slot_seed, summarize, sweep_mapping

TINY = DemoSettings(n=3, flops=(5e6, 12e6), n_train=128, n_test=64, epochs=1, batch_size=32)


@pytest.mark.slow
def test_tiny_demo_writes_report_verdict_and_resumes(tmp_path):
    lines = demo(tmp_path, TINY, workers=2, device="cpu", quiet=True, seed=3)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [p["name"] for p in report["populations"]] == ["cifar_resnet", "cifar_vanilla"]
    assert all(p["n"] == 3 for p in report["populations"])
    v = report["verdict"]
    assert set(v) >= {"better", "worse", "p_value", "significant", "test", "n"}
    assert v["n"] == {"cifar_resnet": 3, "cifar_vanilla": 3}
    assert report["provenance"]["seed"] == 3 and report["provenance"]["models per space"] == 3
    html = (tmp_path / "report.html").read_text()
    assert html.index(v["sentence"]) < html.index("dataset: synthetic")
    assert lines[-1] == f"report: {tmp_path / 'report.html'}"
    assert any(line == f"verdict: {v['sentence']}" for line in lines)
    # Rerunning resumes: every run is already complete, nothing is trained again.
    assert demo(tmp_path, TINY, workers=1, device="cpu", quiet=True, seed=3) == lines


# Exhaustive tier (7 s of training): the default run checks the same names and seed streams
# without training (test_slots_get_distinct_names_and_seed_streams) and the demo's wiring of
# names into the report (test_tiny_demo_writes_report_verdict_and_resumes).
@pytest.mark.exhaustive
def test_a_space_against_itself_uses_two_folders_and_streams(tmp_path):
    demo(tmp_path, TINY, 2, "cpu", True, spaces=("cifar_resnet", "cifar_resnet"), seed=0)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [p["name"] for p in report["populations"]] == ["cifar_resnet-1", "cifar_resnet-2"]
    import yaml

    seeds = [
        yaml.safe_load((tmp_path / n / "sweep.yaml").read_text())["seed"]
        for n in ("cifar_resnet-1", "cifar_resnet-2")
    ]
    assert seeds[0] != seeds[1]


def test_slots_get_distinct_names_and_seed_streams(tmp_path):
    assert slot_names(("cifar_resnet", "cifar_vanilla")) == ["cifar_resnet", "cifar_vanilla"]
    assert slot_names(("cifar_resnet", "cifar_resnet")) == ["cifar_resnet-1", "cifar_resnet-2"]
    assert slot_names(("a/b/my_space.yaml", "regnetx")) == ["my_space", "regnetx"]
    seeds = {
        slot_seed(s, slot, stream) for s in range(3) for slot in range(2) for stream in range(2)
    }
    assert len(seeds) == 12
    a = sweep_mapping("cifar_resnet", "x-1", 0, tmp_path, TINY, 0, 2, "cpu")
    b = sweep_mapping("cifar_resnet", "x-2", 1, tmp_path, TINY, 0, 2, "cpu")
    assert a["seed"] != b["seed"] and a["base"]["seed"] != b["base"]["seed"]
    assert a["dir"] != b["dir"]
    # One thread per run whatever the worker count: results do not depend on --workers.
    assert a["launcher"]["threads_per_worker"] == 1


def test_summary_states_the_verdict_and_flags_near_chance():
    pop = {"n": 4, "best": {"id": "0001", "top1_err": 40.0, "flops": 8e6, "params": 1e5}}
    report = {
        "populations": [
            {**pop, "name": "a", "median_error": 60.0},
            {**pop, "name": "b", "median_error": 50.0, "best": {**pop["best"], "top1_err": 30.0}},
        ],
        "verdict": {"sentence": "b is better than a (p = 0.01, ...)", "test": "rank test"},
        "near_chance": {"a": 2, "b": 0},
    }
    lines = summarize(report)
    assert lines[0].endswith(", 2 near chance") and "near chance" not in lines[1]
    assert lines[2] == "verdict: b is better than a (p = 0.01, ...)"
    assert lines[-1].startswith("best model: b/0001: top-1 error 30.0%")


@pytest.mark.parametrize("args", [["--workers", "0"], ["--seed", "-1"], ["--out", "FILE"]])
def test_bad_demo_input_is_one_line_exit_2(tmp_path, capsys, args):
    from pycls_like.cli import main

    (tmp_path / "FILE").write_text("not a folder")
    args = [str(tmp_path / a) if a == "FILE" else a for a in args]
    assert main(["demo", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pycls-like demo: error:")


def test_every_run_failing_is_exit_3_in_one_line(tmp_path, capsys, monkeypatch):
    """Like `sweep launch`: failed runs are exit code 3 (not 0, nor 2: the input was fine); with no
    finished run there is no report, and the one error line says where to look."""
    import pycls_like.sweep.launch as sweep_launch
    from pycls_like.cli import main
    from pycls_like.rundir import ERROR_FILE, RESULT_FILE, run_dirs
    from pycls_like.sweep.status import sweep_status

    def failing_launch(config, quiet=False):  # every run fails at once (a broken install)
        runs = run_dirs(config.sweep_dir)
        for run in runs:
            (run / ERROR_FILE).write_text("Traceback ...\nRuntimeError: injected\n")
            failed = {"status": "failed", "error": "RuntimeError: injected"}
            (run / RESULT_FILE).write_text(json.dumps(failed))
        counts = sweep_status(config.sweep_dir).counts
        return sweep_launch.LaunchSummary("L", len(runs), 0, 0, 0, len(runs), 0, sweep=counts)

    monkeypatch.setattr(sweep_launch, "launch", failing_launch)
    code = main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--workers", "1", "-q"])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 3, err
    assert len(errors) == 1 and "sweep status" in errors[0] and "Traceback" not in out + err, err
    assert "sweep: 6 runs: 6 failed (exit code 3)" in out
    assert not (tmp_path / "demo" / "report.html").exists()
