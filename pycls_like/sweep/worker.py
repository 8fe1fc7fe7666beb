"""Executing runs: claim, train (with retries), record failures, release. Shared by all launchers.

`execute_run` is what a Ray task or a Slurm array job calls for one run; `worker_loop` is a local
worker process (`python -m pycls_like.sweep.worker SWEEP_DIR ...`) that claims runs one after
another until none is left. Either way, a run that raises is recorded as failed (traceback in
`error.txt`) and retried up to `retries` times within one launch, and never stops the others.
`gpus` is how many GPUs the launcher gave the run: the engine trains it data-parallel over as
many processes (one task per run, which starts its own k processes).
"""

import argparse
import json
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from pycls_like.fileio import move_aside, write_atomic
from pycls_like.sweep.claims import Claim, heartbeat, release, try_claim
from pycls_like.sweep.rundir import (
    CONFIG_FILE,
    CORRUPT,
    ERROR_FILE,
    FINISHED,
    RESULT_FILE,
    attempt_recorded,
    attempts_in_launch,
    config_damage,
    config_problem,
    is_finished,
    read_result,
    record_attempt,
    repair,
    run_dirs,
)


def _record_attempt(run_dir: Path, launch: str, token: str) -> None:
    entry = {
        "launch": launch,
        "token": token,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "time": time.time(),
    }
    record_attempt(run_dir, entry)


def _record_attempt_end(run_dir: Path, launch: str, token: str, status: str) -> None:
    """The attempt's end (same token: still one attempt), written before the claim is released:
    a process that stopped (SIGTERM) may take seconds to exit, and from here on it trains nothing.
    A SIGKILLed attempt has no end line."""
    entry = {"launch": launch, "token": token, "pid": os.getpid(), "ended": time.time()}
    record_attempt(run_dir, {**entry, "status": status})


def note_lost_attempt(run_dir: Path, claim: Claim) -> None:
    """A claim whose holder died before recording its attempt (killed between the claim and the
    attempt line) still counts as an attempt of its launch. Attempts are counted by token, so
    the worker's own line and this one, if both exist, count once."""
    if claim.launch and not attempt_recorded(run_dir, claim.token):
        entry = {"launch": claim.launch, "token": claim.token, "host": claim.host}
        record_attempt(run_dir, {**entry, "pid": claim.pid, "time": time.time(), "lost": True})


def claim_run(run_dir: Path, launch: str) -> Claim | None:
    """`try_claim`, counting the attempt of a dead holder whose claim it breaks."""
    return try_claim(run_dir, launch, on_stale=lambda dead: note_lost_attempt(run_dir, dead))


def _record_failure(run_dir: Path, tb: str) -> None:
    """Traceback to error.txt; a failed result.json unless the engine already wrote one (it does
    for errors inside training, not for an unreadable config)."""
    write_atomic(run_dir / ERROR_FILE, tb)
    result, _ = read_result(run_dir)
    if result is None or result["status"] != "failed":
        error = tb.strip().splitlines()[-1] if tb.strip() else "unknown error"
        write_atomic(run_dir / RESULT_FILE, json.dumps({"status": "failed", "error": error}))


def record_crash(run_dir: Path, message: str, claim: Claim | None = None) -> None:
    """A run whose process died (killed, out of memory, timed out) before recording anything."""
    if claim is not None:
        note_lost_attempt(run_dir, claim)
    if not is_finished(run_dir):
        _record_failure(run_dir, message.rstrip() + "\n")


def damaged_config(run_dir: Path) -> bool:
    """A config.yaml that cannot train anything (damaged bytes, a cut file, an invalid edit) is
    moved aside (kept) and recorded; `sweep launch` rebuilds it from the sweep config."""
    problem = config_damage(run_dir)
    if problem is None:
        return False
    path = run_dir / CONFIG_FILE
    if path.exists() or path.is_symlink():
        move_aside(path)
    _record_failure(run_dir, f"corrupt run config ({problem}); moved aside to be rebuilt\n")
    return True


def train_once(run_dir: Path, threads: int | None = None, gpus: int | None = None) -> str:
    """One attempt through the engine, which resumes from the run's checkpoint if there is one."""
    try:
        from pycls_like.engine.config import load_run_config
        from pycls_like.engine.trainer import train

        # Threads and GPUs are placement, not part of the run: the engine accepts them on resume.
        overrides = [f"threads={threads}"] if threads else []
        overrides += [f"gpus={gpus}"] if gpus else []
        return train(load_run_config(run_dir / CONFIG_FILE, overrides), run_dir)["status"]
    except Exception:
        _record_failure(run_dir, traceback.format_exc())
        return "failed"


def run_claimed(
    run_dir: Path,
    claim: Claim,
    launch: str,
    retries: int,
    threads: int | None = None,
    driver_pid: int | None = None,
    gpus: int | None = None,
) -> str:
    """Train a run we hold until it finishes or its attempts run out; always releases the claim."""
    try:
        if is_finished(run_dir):  # finished by another process between our scan and our claim
            return read_result(run_dir)[0]["status"]
        for line in repair(run_dir):
            print(f"{run_dir.name}: {line}", flush=True)
        if damaged_config(run_dir):
            return CORRUPT  # not an attempt: the run never started
        status, tries = "failed", 0
        with heartbeat(run_dir, claim, driver_pid=driver_pid):
            while status not in FINISHED and attempts_in_launch(run_dir, launch) <= retries:
                if tries:
                    repair(run_dir)
                # The claim's token names the first attempt: whoever finds this claim dead
                # records that attempt if we could not (see `note_lost_attempt`).
                token = claim.token if not tries else f"{claim.token}-{tries}"
                tries += 1
                status = "stopped"  # what an exception or SystemExit (SIGTERM) leaves
                try:
                    _record_attempt(run_dir, launch, token)
                    status = train_once(run_dir, threads, gpus)
                finally:
                    _record_attempt_end(run_dir, launch, token, status)
        return status
    finally:
        release(run_dir, claim)


def execute_run(
    run_dir: str | Path,
    launch: str,
    retries: int,
    threads: int | None = None,
    gpus: int | None = None,
) -> str:
    """Run one run if nobody else is (Ray task / Slurm job body); returns its status or 'skipped'."""
    run_dir = Path(run_dir)
    if is_finished(run_dir):
        return "skipped"
    claim = claim_run(run_dir, launch)
    if claim is None:
        return "skipped"
    return run_claimed(run_dir, claim, launch, retries, threads, gpus=gpus)


def claim_next(sweep_dir: Path, launch: str, retries: int) -> tuple[Path, Claim] | None:
    """The first run (in id order) that is unfinished, unclaimed and has attempts left."""
    for run_dir in run_dirs(sweep_dir):
        if is_finished(run_dir) or attempts_in_launch(run_dir, launch) > retries:
            continue
        if config_problem(run_dir) is not None:
            continue  # missing config: the launch rebuilds it, then a worker trains the run
        claim = claim_run(run_dir, launch)
        if claim is not None:
            return run_dir, claim
    return None


def worker_loop(
    sweep_dir: Path,
    launch: str,
    retries: int,
    threads: int | None,
    driver_pid: int,
    gpus: int | None = None,
) -> None:
    """Claim and train runs until none is left, SIGINT asks to stop after the current one, or
    the driver is gone (SIGKILLed drivers cannot tell us; we are then no longer its child)."""
    stopping = False

    def stop_after_current(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    def stop_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through `finally`: the claim is released

    signal.signal(signal.SIGINT, stop_after_current)
    signal.signal(signal.SIGTERM, stop_now)
    while not stopping and os.getppid() == driver_pid:
        claimed = claim_next(sweep_dir, launch, retries)
        if claimed is None:
            return
        run_dir, claim = claimed
        status = run_claimed(run_dir, claim, launch, retries, threads, driver_pid, gpus)
        print(f"{run_dir.name} {status}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pycls_like.sweep.worker")
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument(
        "--launch", required=True, help="launch id (attempts are counted per launch)"
    )
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--gpus", type=int, default=None, help="GPUs (processes) per run")
    parser.add_argument("--driver-pid", type=int, required=True, help="exit when it is gone")
    args = parser.parse_args(argv)
    worker_loop(args.sweep_dir, args.launch, args.retries, args.threads, args.driver_pid, args.gpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
