"""Kill-safety and concurrency harness for `pycls-like sweep launch` (issue 13).

Kill trials: a tiny sweep (synthetic data, 1 epoch, one thread per run) is launched, and at random
times the harness SIGKILLs the driver, the driver's process group, or a worker holding a run;
each killed launch is started again, until a launch ends with every run finished. Concurrency
trials: 2-3 launches start at once on one sweep dir and run to the end.

Counted per trial: kills, runs, lost (not finished at the end, or a top-1 error different from the
uninterrupted reference sweep: a lost or wrong result), duplicates (a run trained twice: an attempt
started while an earlier attempt's process was still alive, or after the run had finished).

    python tools/kill_harness.py --trials 6 --runs 8 --concurrent-trials 3 --seed 0

Prints one line per trial and a JSON summary (trials, kills, runs, duplicates, lost) last.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from pycls_like.rundir import ATTEMPTS_FILE, CLAIM_FILE, RESULT_FILE, jsonl_records
from pycls_like.sweep.claims import pid_alive, read_claim

SPACE = {
    "family": "anynet",
    "stages": 2,
    "params": {
        "ds": {"type": "int", "range": [1, 2]},
        "ws": {"type": "int", "range": [8, 24], "q": 8},
        "ss": [1, 2],
        "bs": 1.0,
        "gs": 8,
        "stem_type": "res_stem_cifar",
        "stem_w": 8,
        "resolution": 16,
        "num_classes": 10,
    },
    "optim": {"lr": {"type": "log_uniform", "range": [0.05, 0.5]}},
}
POLL_S = 0.05


@dataclass
class Trial:
    """What one trial did and found."""

    kind: str
    runs: int
    kills: int = 0
    launches: int = 0
    duplicates: int = 0
    lost: int = 0
    kill_targets: list[str] = field(default_factory=list)


def write_sweep(root: Path, runs: int, workers: int) -> Path:
    """A tiny sweep YAML whose sweep dir is root/sweep."""
    config = {
        "name": "harness",
        "dir": str(root / "sweep"),
        "space": SPACE,
        "n": runs,
        "seed": 0,
        "base": {
            "data": {"dataset": "synthetic", "n_train": 256, "n_test": 128},
            "optim": {"epochs": 1},
            "train": {"batch_size": 64, "test_batch_size": 128},
            "device": "cpu",
        },
        "launcher": {"workers": workers, "threads_per_worker": 1, "gpus_per_run": 0, "retries": 3},
    }
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pycls_like.cli", *args]


def start_launch(config: Path) -> subprocess.Popen:
    """A driver in its own process group (so the group can be killed as a whole)."""
    return subprocess.Popen(
        cli("sweep", "launch", str(config), "-q"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class Watcher:
    """Polls the run dirs: when each attempt started, when its process was last seen alive, and
    when each run first had a finished result."""

    def __init__(self, sweep: Path):
        self.sweep = sweep
        self.alive_until: dict[int, float] = {}
        self.finished_at: dict[str, float] = {}

    def poll(self) -> None:
        now = time.time()
        for run in sorted((self.sweep / "runs").iterdir()):
            for record in jsonl_records(run / ATTEMPTS_FILE)[0]:
                pid = record.get("pid")
                if isinstance(pid, int) and pid not in self.alive_until and pid_alive(pid):
                    self.alive_until[pid] = now
            claim = read_claim(run / CLAIM_FILE)
            if claim is not None and pid_alive(claim.pid):
                self.alive_until[claim.pid] = now
            if run.name not in self.finished_at and _finished(run):
                self.finished_at[run.name] = now
        for pid in list(self.alive_until):
            if pid_alive(pid):
                self.alive_until[pid] = now

    def duplicates(self) -> int:
        """Runs with an attempt that started while the previous attempt's process was alive
        (beyond the polling resolution), or after the run had finished."""
        count = 0
        for run in sorted((self.sweep / "runs").iterdir()):
            attempts = sorted(
                (r for r in jsonl_records(run / ATTEMPTS_FILE)[0] if not r.get("lost")),
                key=lambda r: r.get("time", 0),
            )
            done = self.finished_at.get(run.name, float("inf"))
            overlap = any(
                self.alive_until.get(a["pid"], 0) > b["time"] + 4 * POLL_S and a["pid"] != b["pid"]
                for a, b in zip(attempts, attempts[1:], strict=False)
            )
            late = any(a.get("time", 0) > done + 4 * POLL_S for a in attempts)
            count += overlap or late
        return count


def _finished(run: Path) -> bool:
    try:
        return json.loads((run / RESULT_FILE).read_text()).get("status") in ("complete", "diverged")
    except (OSError, ValueError):
        return False


def results(sweep: Path) -> dict[str, float | None]:
    out = {}
    for run in sorted((sweep / "runs").iterdir()):
        try:
            result = json.loads((run / RESULT_FILE).read_text())
        except (OSError, ValueError):
            result = {}
        out[run.name] = result.get("top1_err") if result.get("status") == "complete" else None
    return out


def lost(sweep: Path, reference: dict[str, float | None]) -> int:
    now = results(sweep)
    return sum(now.get(run) is None or now[run] != err for run, err in reference.items())


def _wait(procs: list[subprocess.Popen], watcher: Watcher, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs):
        if time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
            raise TimeoutError("launch did not end")
        watcher.poll()
        time.sleep(POLL_S)


def _kill_one(driver: subprocess.Popen, sweep: Path, rng: random.Random) -> str | None:
    """SIGKILL the driver, its process group, or a worker holding a claim; returns which."""
    workers = [c.pid for r in (sweep / "runs").iterdir() if (c := read_claim(r / CLAIM_FILE))]
    workers = [pid for pid in workers if pid_alive(pid)]
    target = rng.choice(["driver", "group", *(["worker"] * 2 if workers else [])])
    try:
        if target == "driver":
            os.kill(driver.pid, signal.SIGKILL)
        elif target == "group":
            os.killpg(driver.pid, signal.SIGKILL)
        else:
            os.kill(rng.choice(workers), signal.SIGKILL)
    except ProcessLookupError:
        return None
    return target


def kill_trial(
    base: Path, config: Path, reference: dict, rng: random.Random, max_kills: int
) -> Trial:
    sweep = base / "sweep"
    trial = Trial("kill", len(reference))
    watcher = Watcher(sweep)
    while True:
        driver = start_launch(config)
        trial.launches += 1
        while trial.kills < max_kills and driver.poll() is None:  # a killed worker's driver
            deadline = time.monotonic() + rng.uniform(0.5, 6.0)  # goes on: it may be hit again
            while time.monotonic() < deadline and driver.poll() is None:
                watcher.poll()
                time.sleep(POLL_S)
            if driver.poll() is None:
                target = _kill_one(driver, sweep, rng)
                if target:
                    trial.kills += 1
                    trial.kill_targets.append(target)
                if target in ("driver", "group"):
                    break
        _wait([driver], watcher, timeout=600)
        if target_done(sweep) and driver.returncode == 0:
            break
        time.sleep(1.5)  # orphaned workers notice their driver is gone within a second
    trial.duplicates = watcher.duplicates()
    trial.lost = lost(sweep, reference)
    return trial


def target_done(sweep: Path) -> bool:
    return all(_finished(run) for run in (sweep / "runs").iterdir())


def concurrent_trial(base: Path, config: Path, reference: dict, rng: random.Random) -> Trial:
    sweep = base / "sweep"
    trial = Trial("concurrent", len(reference))
    watcher = Watcher(sweep)
    procs = [start_launch(config) for _ in range(rng.choice([2, 3]))]
    trial.launches = len(procs)
    _wait(procs, watcher, timeout=900)
    # Every run is trained exactly once across the launches (no kills: one attempt each).
    attempts = [len(jsonl_records(r / ATTEMPTS_FILE)[0]) for r in (sweep / "runs").iterdir()]
    trial.duplicates = max(watcher.duplicates(), sum(a > 1 for a in attempts))
    trial.lost = lost(sweep, reference)
    return trial


def prepare(root: Path, runs: int, workers: int) -> tuple[Path, Path, dict]:
    """A set-up sweep (kept as a template) and the results of training it uninterrupted."""
    config = write_sweep(root, runs, workers)
    subprocess.run(cli("sweep", "setup", str(config), "-q"), check=True)
    template = root / "template"
    shutil.copytree(root / "sweep", template)
    subprocess.run(cli("sweep", "launch", str(config), "-q"), check=True)
    return config, template, results(root / "sweep")


def run(trials: int, concurrent: int, runs: int, workers: int, seed: int, max_kills: int) -> dict:
    rng = random.Random(seed)
    out: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="kill_harness_") as tmp:
        root = Path(tmp)
        config, template, reference = prepare(root, runs, workers)
        assert all(v is not None for v in reference.values()), reference
        for i in range(trials + concurrent):
            shutil.rmtree(root / "sweep")
            shutil.copytree(template, root / "sweep")
            if i < trials:
                trial = kill_trial(root, config, reference, rng, max_kills)
            else:
                trial = concurrent_trial(root, config, reference, rng)
            out.append(trial)
            print(json.dumps(asdict(trial)), flush=True)
    return {
        "trials": len(out),
        "kill_trials": trials,
        "concurrent_trials": concurrent,
        "kills": sum(t.kills for t in out),
        "kills_by_target": {
            k: sum(t.kill_targets.count(k) for t in out) for k in ("driver", "group", "worker")
        },
        "launches": sum(t.launches for t in out),
        "runs": sum(t.runs for t in out),
        "duplicates": sum(t.duplicates for t in out),
        "lost": sum(t.lost for t in out),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6, help="kill trials")
    parser.add_argument("--concurrent-trials", type=int, default=3)
    parser.add_argument("--runs", type=int, default=8, help="runs per sweep")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-kills", type=int, default=3, help="kills per kill trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    summary = run(
        args.trials, args.concurrent_trials, args.runs, args.workers, args.seed, args.max_kills
    )
    print(json.dumps(summary))
    return 0 if summary["duplicates"] == 0 and summary["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
