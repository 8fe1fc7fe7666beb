"""The kill/concurrency harness (`tools/kill_harness.py`), small: SIGKILLs of drivers, process
groups and workers at random times and concurrent launches lose no run and train none twice."""

import importlib.util
from pathlib import Path

import pytest

HARNESS = Path(__file__).parents[1] / "tools" / "kill_harness.py"


def _harness():
    spec = importlib.util.spec_from_file_location("kill_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.exhaustive
def test_kills_and_concurrent_launches_lose_nothing_and_duplicate_nothing():
    summary = _harness().run(trials=2, concurrent=1, runs=4, workers=2, seed=1, max_kills=2)
    assert summary["trials"] == 3 and summary["runs"] == 12
    assert summary["kills"] >= 2  # the harness really killed something
    assert summary["duplicates"] == 0 and summary["lost"] == 0, summary
