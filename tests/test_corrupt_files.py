"""Corrupt-file matrix: every file a run dir or a sweep dir holds x every way it can be damaged.

For each case a finished tiny sweep (run 0000 finished, run 0001 trained to its last checkpoint
but without a result) is copied, one file is damaged, and then: `sweep status` and `sweep collect`
answer (exit 0, or one `error:` line naming the file for the sweep's own sweep.yaml), analysis
loads the sweep, nothing raises a traceback, no damaged value is reported as a result, and the
steps a user takes next (`sweep setup`, then training what is unfinished, as a launch's worker
does) end with every run finished with exactly the reference result: no run is stuck for good and
no finished result is lost. 13 files x 6 damages = 78 cases; 3 run in the default suite (`FAST`),
the rest with `-m exhaustive`. The whole module is `slow` (its reference sweep trains two runs):
the fast tier (`-m "not slow"`) leaves it to the default run.
"""

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest
import torch

from pycls_like.analysis.table import load_population
from pycls_like.rundir import CHECKPOINT_FILE, PROFILE_FILE, RESULT_FILE
from pycls_like.sweep.claims import HOST
from pycls_like.sweep.collect import TABLE_META_FILE
from pycls_like.sweep.worker import execute_run
from tests.test_sweep_e2e import read_table, tiny_sweep

pytestmark = pytest.mark.slow

FINISHED_RUN, OPEN_RUN = "0000", "0001"
# file -> the run it is damaged in (None: the sweep dir itself)
TARGETS: dict[str, str | None] = {
    "config.yaml": OPEN_RUN,
    "sample.json": FINISHED_RUN,
    "result.json": FINISHED_RUN,
    "metrics.jsonl": FINISHED_RUN,
    "checkpoint.pt": OPEN_RUN,
    "attempts.jsonl": OPEN_RUN,
    "claim.json": OPEN_RUN,
    "error.txt": OPEN_RUN,
    PROFILE_FILE: FINISHED_RUN,
    "sweep.yaml": None,
    "results.csv": None,
    TABLE_META_FILE: None,
    "logs": None,
}
DAMAGES = ("truncated", "empty", "random", "wrong_type", "missing", "directory")
PROFILE = {
    "device": "cpu",
    "device_name": "cpu",
    "dtype": "fp32",
    "batch_size": 8,
    "threads": 1,
    "fwd_ms": {"median": 1.5, "q1": 1.4, "q3": 1.6},
    "train_ms": {"median": 4.0, "q1": 3.9, "q3": 4.2},
    "fwd_mem_mb": 1.0,
    "train_mem_mb": 2.0,
}


def _wrong_type(path: Path) -> None:
    """Well-formed bytes of the wrong shape for the file."""
    if path.suffix == ".pt":
        torch.save([1, 2, 3], path)
    elif path.suffix in (".json", ".jsonl"):
        path.write_text('[1, 2]\n"text"\n' if path.suffix == ".jsonl" else "[1, 2, 3]\n")
    elif path.suffix == ".yaml":
        path.write_text("- a\n- b\n")
    elif path.suffix == ".csv":
        path.write_text("a,b\n1,2\n")
    else:
        path.write_text('{"not": "this file"}\n')


def damage(path: Path, kind: str) -> None:
    """Damage `path` in one of DAMAGES (a missing file is created first where there is none)."""
    data = path.read_bytes() if path.is_file() else b"x" * 64
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if kind == "truncated":
        path.write_bytes(data[: max(1, len(data) // 2 - 1)])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(random.Random(path.name).randbytes(512))
    elif kind == "wrong_type":
        _wrong_type(path)
    elif kind == "directory":
        path.mkdir()
        (path / "inside").write_text("x")
    # "missing": already removed


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """A sweep with a finished run and an open one (checkpoint, no result), and its results."""
    from pycls_like.cli import main

    base = tmp_path_factory.mktemp("corrupt")
    config = tiny_sweep(base, n=2)
    sweep = base / "sweeps" / "tiny"
    assert main(["sweep", "setup", str(config), "-q"]) == 0
    for run in (FINISHED_RUN, OPEN_RUN):
        assert execute_run(sweep / "runs" / run, "reference", retries=0) == "complete"
    (sweep / "runs" / FINISHED_RUN / PROFILE_FILE).write_text(json.dumps(PROFILE))
    assert main(["sweep", "collect", str(sweep), "-q"]) == 0
    table = read_table(sweep).set_index("id")  # what the table says once both runs finished
    results = {
        run: json.loads((sweep / "runs" / run / RESULT_FILE).read_text())
        for run in (FINISHED_RUN, OPEN_RUN)
    }
    (sweep / "runs" / OPEN_RUN / RESULT_FILE).unlink()  # open: resumes from its checkpoint
    (sweep / "runs" / OPEN_RUN / "error.txt").write_text("Traceback ...\nRuntimeError: earlier\n")
    (sweep / "runs" / OPEN_RUN / "claim.json").write_text(
        # left by a killed worker of this host (no process has a pid above 2**22 on Linux)
        json.dumps({"host": HOST, "pid": 2**30, "start": 0.0, "token": "t", "launch": "old"})
    )
    (sweep / "logs").mkdir()
    assert main(["sweep", "collect", str(sweep), "-q"]) == 0
    return {"sweep": sweep, "results": results, "table": table}


def _one_error_line(err: str, name: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and name in errors[0], err


# In the default suite: one case of each kind of recovery (a result rebuilt from the checkpoint, a
# truncated table rebuilt from the run dirs, a damaged claim broken); the other 75 run with `-m exhaustive`.
FAST = {("result.json", "random"), ("results.csv", "truncated"), ("claim.json", "directory")}


def _fast(file: str, kind: str) -> bool:
    return (file, kind) in FAST


CASES = [
    pytest.param(file, kind, marks=() if _fast(file, kind) else pytest.mark.exhaustive)
    for file in TARGETS
    for kind in DAMAGES
]


@pytest.mark.parametrize("file, kind", CASES)
def test_damaged_file(file: str, kind: str, reference: dict, tmp_path: Path, cli) -> None:
    sweep = tmp_path / "tiny"
    shutil.copytree(reference["sweep"], sweep)
    run = TARGETS[file]
    path = sweep / "runs" / run / file if run else sweep / file
    damage(path, kind)
    if (file, kind) == ("claim.json", "empty"):
        # An empty claim is one being written (where hard links are missing) for 10 s, then
        # stale; one found later was left by a crash: backdate it.
        os.utime(path, (time.time() - 60, time.time() - 60))

    # 1. Reading never raises: status and collect answer; sweep.yaml (the sweep's own input) is
    # one line naming it.
    code, out, err = cli("sweep", "status", str(sweep))
    assert "Traceback" not in err + out
    if file == "sweep.yaml":  # the sweep's own input: loads (a cut that is still valid) or
        if code != 0:  # is one line naming it
            assert code == 2 and out == ""
            _one_error_line(err, "sweep.yaml")
            assert cli("sweep", "collect", str(sweep))[0] == 2
        for r, result in reference["results"].items():  # results are untouched
            if (sweep / "runs" / r / RESULT_FILE).exists():
                assert json.loads((sweep / "runs" / r / RESULT_FILE).read_text()) == result
        return
    assert code == 0, err
    code, out, _ = cli("sweep", "status", str(sweep), "--json")
    status = json.loads(out)
    # A damaged file never makes a run look finished with a wrong result, nor running for good.
    assert status["running"] == 0
    if file == "result.json" and kind != "missing":
        assert status["corrupt"] == 1 and FINISHED_RUN in status["corrupt_runs"]
    if file == "config.yaml" and kind in ("missing", "directory"):
        assert OPEN_RUN in status["corrupt_runs"]
    with pytest.warns() if _warns(file, kind) else _nothing():
        code, _, err = cli("sweep", "collect", str(sweep))
    assert code == 0 and "Traceback" not in err, err
    table = read_table(sweep).set_index("id")
    if file != "result.json":  # every finished result is in the table as it was
        assert (
            table.loc[FINISHED_RUN, "top1_err"] == reference["table"].loc[FINISHED_RUN, "top1_err"]
        )
    if file == "sample.json":  # the result's measured complexity stands in for the sample's
        assert table.loc[FINISHED_RUN, "flops"] == reference["table"].loc[FINISHED_RUN, "flops"]

    # 2. Analysis loads the sweep (damaged curves are skipped with a warning).
    pop = load_population(sweep)
    assert len(pop.table) == 2
    pop.curves(FINISHED_RUN)

    # 3. What a user does next leaves every run finished with its reference result.
    assert cli("sweep", "setup", str(sweep), "-q")[0] == 0
    for r in (FINISHED_RUN, OPEN_RUN):
        execute_run(sweep / "runs" / r, "relaunch", retries=1)
    for r, result in reference["results"].items():
        now = json.loads((sweep / "runs" / r / RESULT_FILE).read_text())
        assert now["status"] == "complete", (r, now)
        assert (now["top1_err"], now["epochs"]) == (result["top1_err"], result["epochs"]), r
    assert cli("sweep", "collect", str(sweep), "-q")[0] == 0
    table = read_table(sweep).set_index("id")
    ref = reference["table"]
    for column in ("status", "top1_err", "flops", "ws_1" if "ws_1" in ref else "flops"):
        assert table[column].tolist() == ref[column].tolist(), column
    if file == CHECKPOINT_FILE and kind not in ("missing",):
        assert list((sweep / "runs" / OPEN_RUN).glob(f"{CHECKPOINT_FILE}.corrupt-*"))


@pytest.mark.parametrize("action", ["status", "collect", "launch"])
def test_runs_folder_replaced_by_a_file_is_one_line_naming_it(
    action: str, reference: dict, tmp_path: Path, cli
) -> None:
    """Not "0 runs": a sweep whose `runs` is a file holds nothing the tool can read or train."""
    sweep = tmp_path / "tiny"
    shutil.copytree(reference["sweep"], sweep)
    damage(sweep / "runs", "random")
    code, out, err = cli("sweep", action, str(sweep))
    assert code == 2 and out == "" and "Traceback" not in err, err
    _one_error_line(err, str(sweep / "runs"))


def _warns(file: str, kind: str) -> bool:
    """Collect warns for every damaged file whose content it reads (a missing one is no damage)."""
    read = {"sample.json", "result.json", PROFILE_FILE}
    # No profile is no damage; no result is a pending run (resumed from its checkpoint).
    return file in read and not (kind == "missing" and file in (PROFILE_FILE, "result.json"))


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_matrix_covers_every_file_a_sweep_holds(reference: dict) -> None:
    """The matrix lists every file a set-up, launched and collected sweep dir holds."""
    sweep: Path = reference["sweep"]
    run_files = {p.name for r in ("0000", "0001") for p in (sweep / "runs" / r).iterdir()}
    sweep_files = {p.name for p in sweep.iterdir() if p.name != "runs"}
    assert run_files | sweep_files <= set(TARGETS), (run_files | sweep_files) - set(TARGETS)
    assert len(CASES) == len(TARGETS) * len(DAMAGES)
