"""Fault tolerance: failing and diverging runs, SIGKILLed and Ctrl-C'd drivers, damaged run dirs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pycls_like.errors import EXIT_RUNS_FAILED
from pycls_like.rundir import attempts as count_attempts
from pycls_like.sweep.claims import CLAIM_FILE, HOST, Claim
from tests.test_sweep_e2e import read_table, tiny_sweep


def edit_run(run_dir: Path, **sections: dict) -> None:
    """Change one run's config.yaml after setup (a per-run fault)."""
    path = run_dir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for section, values in sections.items():
        config[section].update(values)
    path.write_text(yaml.safe_dump(config))


def attempts(run_dir: Path) -> int:
    """Distinct attempts (a killed worker's attempt may be recorded by it and by its finder)."""
    return count_attempts(run_dir)


@pytest.mark.slow
def test_failing_and_diverging_runs_are_recorded(tmp_path, cli):
    config = tiny_sweep(tmp_path, retries=1)
    sweep = tmp_path / "sweeps" / "tiny"
    assert cli("sweep", "setup", str(config))[0] == 0
    edit_run(
        sweep / "runs" / "0001", data={"dataset": "cifar10", "path": str(tmp_path / "nowhere")}
    )
    edit_run(sweep / "runs" / "0002", optim={"lr": 1.0e6})
    code, out, err = cli("sweep", str(config))
    assert code == EXIT_RUNS_FAILED, err  # a sweep with a failed run is not a success
    assert "2 complete, 1 diverged, 1 failed" in err
    table = read_table(sweep).set_index("id")
    assert list(table["status"]) == ["complete", "failed", "diverged", "complete"]
    assert table.loc["0002", "top1_err"] == 100.0
    assert "Traceback" in (sweep / "runs" / "0001" / "error.txt").read_text()
    assert attempts(sweep / "runs" / "0001") == 2  # retried once, per `retries: 1`
    assert attempts(sweep / "runs" / "0002") == 1  # divergence is a result, not retried
    assert "done 2  running 0  failed 1  diverged 1  pending 0" in out
    assert "failed 0001: ConfigError: data.path:" in out
    code, out, _ = cli("sweep", "status", str(sweep), "--json")
    status = json.loads(out)
    assert (status["complete"], status["failed"], status["diverged"]) == (2, 1, 1)
    assert list(status["failed_runs"]) == ["0001"]


def test_corrupt_result_is_a_failed_row_with_a_warning(tmp_path, cli):
    config = tiny_sweep(tmp_path, n=3)
    sweep = tmp_path / "sweeps" / "tiny"
    assert cli("sweep", "setup", str(config))[0] == 0
    (sweep / "runs" / "0001" / "result.json").write_text('{"status": "compl')
    (sweep / "runs" / "0002" / "sample.json").write_text("")
    with pytest.warns(UserWarning) as caught:
        code, _, err = cli("sweep", "collect", str(sweep))
    assert code == 0, err
    assert [str(w.message)[:13] for w in caught] == ["run 0001: cor", "run 0002: cor"]
    table = read_table(sweep)
    # A damaged result.json makes the run corrupt (retrained, or resumed from its checkpoint, by
    # the next launch); a damaged sample.json only loses its parameters until setup rebuilds it.
    assert list(table["status"]) == ["pending", "corrupt", "pending"]
    assert table["flops"].notna().tolist() == [True, True, False]


@pytest.mark.slow
def test_stale_claim_of_a_dead_process_is_recovered_by_launch(tmp_path, cli):
    config = tiny_sweep(tmp_path, n=2)
    sweep = tmp_path / "sweeps" / "tiny"
    assert cli("sweep", "setup", str(config))[0] == 0
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    claim = Claim(HOST, int(dead.stdout), time.time(), "gone")
    (sweep / "runs" / "0000" / CLAIM_FILE).write_text(claim.to_json())
    code, out, err = cli("sweep", str(config))
    assert code == 0, err
    assert "done 2" in out and not list(sweep.glob("runs/*/claim.json"))


def _start_driver(config: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pycls_like.cli", "sweep", "launch", str(config)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_of_the_driver_loses_nothing_and_duplicates_nothing(tmp_path, cli):
    n = 6
    config = tiny_sweep(tmp_path, n=n)
    sweep = tmp_path / "sweeps" / "tiny"
    runs = sweep / "runs"
    assert cli("sweep", "setup", str(config))[0] == 0
    driver = _start_driver(config)
    _wait_for(lambda: any(runs.glob("*/result.json")))
    driver.kill()  # SIGKILL: no cleanup of any kind in the driver
    driver.wait()
    # Orphaned workers notice within a second, abandon their run and release its claim.
    _wait_for(lambda: not list(runs.glob("*/claim.json")), timeout=30)
    finished = {p.parent.name: p.read_bytes() for p in runs.glob("*/result.json")}
    assert 0 < len(finished) < n
    code, _, err = cli("sweep", str(config))
    assert code == 0, err
    table = read_table(sweep)
    assert len(table) == n and table["id"].is_unique and set(table["status"]) == {"complete"}
    for rid, before in finished.items():
        assert (runs / rid / "result.json").read_bytes() == before  # never re-run
        assert attempts(runs / rid) == 1  # trained exactly once
    for run_dir in runs.iterdir():
        assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1


@pytest.mark.slow
def test_ctrl_c_finishes_current_runs_and_releases_claims(tmp_path, cli):
    n = 6
    config = tiny_sweep(tmp_path, n=n)
    sweep = tmp_path / "sweeps" / "tiny"
    assert cli("sweep", "setup", str(config))[0] == 0
    driver = _start_driver(config)
    _wait_for(lambda: len(list(sweep.glob("runs/*/claim.json"))) >= 1)
    driver.send_signal(signal.SIGINT)
    out, _ = driver.communicate(timeout=60)
    assert driver.returncode == 130, out
    assert "stopping: runs in progress finish first" in out
    assert not list(sweep.glob("runs/*/claim.json"))
    started = [d for d in sweep.glob("runs/*") if attempts(d)]
    assert all((d / "result.json").exists() for d in started)  # finished, not abandoned
    assert len(started) < n
    code, out, _ = cli("sweep", "status", str(sweep))
    assert f"pending {n - len(started)}" in out


@pytest.mark.slow
def test_two_concurrent_launches_share_the_runs(tmp_path, cli):
    n = 6
    config = tiny_sweep(tmp_path, n=n, workers=1)
    sweep = tmp_path / "sweeps" / "tiny"
    assert cli("sweep", "setup", str(config))[0] == 0
    drivers = [_start_driver(config) for _ in range(2)]
    outs = [d.communicate(timeout=120)[0] for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], outs
    runs = sorted(sweep.glob("runs/*"))
    assert [attempts(d) for d in runs] == [1] * n  # each run trained by exactly one launch
    assert all(json.loads((d / "result.json").read_text())["status"] == "complete" for d in runs)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_run_retried(tmp_path, cli):
    config = tiny_sweep(tmp_path, n=3, retries=1)
    sweep = tmp_path / "sweeps" / "tiny"
    assert cli("sweep", "setup", str(config))[0] == 0
    driver = _start_driver(config)
    claim_file = sweep / "runs" / "0000" / CLAIM_FILE
    _wait_for(lambda: claim_file.exists() and claim_file.read_text())
    os.kill(json.loads(claim_file.read_text())["pid"], signal.SIGKILL)  # e.g. the OOM killer
    out, _ = driver.communicate(timeout=120)
    assert driver.returncode == 0, out
    assert "exited with code -9" in out and "restarting" in out
    assert attempts(sweep / "runs" / "0000") == 2
    assert json.loads((sweep / "runs" / "0000" / "result.json").read_text())["status"] == "complete"
