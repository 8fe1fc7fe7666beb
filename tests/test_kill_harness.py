"""The kill/concurrency harness (`tools/kill_harness.py`): SIGKILLs of drivers, process groups and
workers at random times and concurrent launches lose no run and train none twice; and its
duplicate count is right both ways: a worker that released its claim and is still exiting is no
duplicate, two processes training one run are (a real double claim, injected, is caught)."""

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

from pycls_like.rundir import ATTEMPTS_FILE, RESULT_FILE

HARNESS = Path(__file__).parents[1] / "tools" / "kill_harness.py"
DEAD_PID = 2**30  # above any Linux pid_max: never alive


def _harness():
    spec = importlib.util.spec_from_file_location("kill_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(sweep: Path, name: str, *lines: dict) -> None:
    run = sweep / "runs" / name
    run.mkdir(parents=True)
    (run / ATTEMPTS_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))


def _start(token: str, pid: int, at: float) -> dict:
    return {"launch": "L", "token": token, "host": "h", "pid": pid, "time": at}


def _end(token: str, pid: int, at: float) -> dict:
    return {"launch": "L", "token": token, "pid": pid, "ended": at, "status": "stopped"}


def test_duplicates_count_overlapping_training_not_live_processes(tmp_path: Path) -> None:
    """Attempt lines as workers write them; this test process stands in for a live worker."""
    t = time.time() - 10
    alive = os.getpid()
    sweep = tmp_path / "sweep"
    # Stopped (end line), then exiting for seconds after releasing its claim: a new launch may
    # start the run meanwhile. This is what the harness miscounted before (seed 1: 4-5 "runs").
    _run(
        sweep, "0000", _start("a", alive, t), _end("a", alive, t + 1), _start("b", DEAD_PID, t + 2)
    )
    # SIGKILLed (no end line, process gone), then started again: fine.
    _run(sweep, "0001", _start("a", DEAD_PID, t), _start("b", alive, t + 2))
    # A live process with no end line while another starts the run: a double claim.
    _run(sweep, "0002", _start("a", alive, t), _start("b", DEAD_PID, t + 2))
    # Ended after the second attempt started: trained twice at once, even if both are gone now.
    _run(sweep, "0003", _start("a", DEAD_PID, t), _start("b", DEAD_PID, t + 2), _end("a", 1, t + 3))
    # Retries in one process: the end line comes before the next start.
    _run(sweep, "0004", _start("a", alive, t), _end("a", alive, t + 1), _start("a-1", alive, t + 2))
    # Started after the run had finished.
    _run(sweep, "0005", _start("a", DEAD_PID, t))
    (sweep / "runs" / "0005" / RESULT_FILE).write_text('{"status": "complete"}')
    watcher = _harness().Watcher(sweep)
    watcher.poll()
    with (sweep / "runs" / "0005" / ATTEMPTS_FILE).open("a") as f:
        f.write(json.dumps(_start("b", DEAD_PID, time.time() + 1)) + "\n")
    found = {line.split(":")[0]: line for line in watcher.duplicates()}
    assert sorted(found) == ["0002", "0003", "0005"], found
    assert "started after the run had finished" in found["0005"]


SITE = """
import pycls_like.sweep.claims as claims
claims.is_stale = lambda *args, **kwargs: True  # every claim looks abandoned: taken while held
"""


@pytest.mark.slow
@pytest.mark.exhaustive
@pytest.mark.timeout(900)  # one launch of 4 runs: 20 s idle, 2 minutes at load 12
def test_an_injected_double_claim_is_counted(tmp_path: Path, monkeypatch) -> None:
    """Workers that break live claims (an injected liveness bug) train runs twice at once: the
    harness must say so, or its zero means nothing."""
    harness = _harness()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    )
    config = harness.write_sweep(tmp_path, runs=4, workers=2)
    harness.subprocess.run(harness.cli("sweep", "setup", str(config), "-q"), check=True)
    watcher = harness.Watcher(harness.sweep_dir(tmp_path))
    harness._wait([harness.start_launch(config)], watcher, timeout=300)
    assert watcher.duplicates(), "a double claim went unseen"


@pytest.mark.slow
@pytest.mark.exhaustive
@pytest.mark.timeout(
    1200
)  # 12 runs in ~8 launches: 1-2 minutes idle, over 5 on a loaded 2-core box
def test_kills_and_concurrent_launches_lose_nothing_and_duplicate_nothing():
    summary = _harness().run(trials=2, concurrent=1, runs=4, workers=2, seed=1, max_kills=2)
    assert summary["trials"] == 3 and summary["runs"] == 12
    assert summary["kills"] >= 2  # the harness really killed something
    assert summary["reference_stable"], "code changed during the test: rerun it"
    assert summary["duplicates"] == 0 and summary["lost"] == 0, summary
