"""Kill-safety and concurrency harness for `pycls-like sweep launch` (issue 13).

Kill trials: a tiny sweep (synthetic data, 1 epoch, one thread per run) is launched, and at random
times the harness SIGKILLs the driver, the driver's process group, or a worker holding a run;
each killed launch is started again, until a launch ends with every run finished. Concurrency
trials: 2-3 launches start at once on one sweep dir and run to the end.

Counted per trial: kills, runs, lost (not finished at the end, or a top-1 error different from the
uninterrupted reference sweep: a lost or wrong result), duplicates (a run trained twice: an attempt
started while an earlier one was still training, or after the run had finished). An attempt trains
from its start line in attempts.jsonl until its end line (written before the claim is released),
or, if it has none (SIGKILLed), until its process is gone. A live process is not proof of
training: a worker whose driver was killed releases its claim and then takes a second or more to
exit, and a new launch may rightly start the run meanwhile.

    python tools/kill_harness.py --trials 6 --runs 8 --concurrent-trials 3 --seed 0

Prints one line per trial and a JSON summary (trials, kills by target, launches, runs, duplicates,
lost, wall time, and whether an uninterrupted launch still gives the reference results at the end:
in a shared working tree, code edited mid-run shows up as "lost" runs) last.
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
from typing import Any

from pycls_like.rundir import ATTEMPTS_FILE, CLAIM_FILE, RESULT_FILE, attempts, jsonl_records
from pycls_like.sweep.claims import pid_alive, read_claim

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' tiny sweep fixture
from tests.tiny_sweep import tiny_sweep  # noqa: E402

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
    duplicate_runs: list[str] = field(default_factory=list)  # one line per run: why


def write_sweep(root: Path, runs: int, workers: int) -> Path:
    """The tests' tiny sweep (sweep dir `sweep_dir(root)`), retried up to 3 times per launch."""
    return tiny_sweep(root, n=runs, name="harness", workers=workers, retries=3)


def sweep_dir(root: Path) -> Path:
    return root / "sweeps" / "harness"


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


def _identity(pid: int) -> str | None:
    """The process's start time (/proc/PID/stat field 22): tells a pid reused by a new process
    from the one first seen (None where there is no /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Watcher:
    """Polls the run dirs: when each attempt's process was last seen alive (a zombie is dead),
    and when each run first had a finished result."""

    def __init__(self, sweep: Path):
        self.sweep = sweep
        self.alive_until: dict[int, float] = {}
        self.identity: dict[int, str | None] = {}
        self.finished_at: dict[str, float] = {}

    def _seen(self, pid: int, now: float) -> None:
        if pid not in self.identity:
            if not pid_alive(pid):
                return
            self.identity[pid] = _identity(pid)
        if pid_alive(pid) and _identity(pid) == self.identity[pid]:
            self.alive_until[pid] = now

    def poll(self) -> None:
        now = time.time()
        for run in sorted((self.sweep / "runs").iterdir()):
            for record in jsonl_records(run / ATTEMPTS_FILE)[0]:
                if isinstance(record.get("pid"), int):
                    self._seen(record["pid"], now)
            claim = read_claim(run / CLAIM_FILE)
            if claim is not None:
                self._seen(claim.pid, now)
            if run.name not in self.finished_at and _finished(run):
                self.finished_at[run.name] = now
        for pid in list(self.alive_until):
            self._seen(pid, now)

    def _trained_until(self, attempt: dict[str, Any], ends: dict[str, float]) -> float:
        """When an attempt stopped training: its end line, else (killed) when its process was
        last seen alive, less the polling resolution."""
        if attempt.get("token") in ends:
            return ends[attempt["token"]]
        return self.alive_until.get(attempt["pid"], 0.0) - 4 * POLL_S

    def duplicates(self) -> list[str]:
        """One line per run trained twice: an attempt that started while an earlier attempt was
        still training, or after the run had finished (beyond the polling resolution)."""
        found = []
        for run in sorted((self.sweep / "runs").iterdir()):
            records = jsonl_records(run / ATTEMPTS_FILE)[0]
            ends = {
                r["token"]: r["ended"] for r in records if _number(r.get("ended")) and "token" in r
            }
            starts = sorted(
                (r for r in records if _number(r.get("time")) and "pid" in r and not r.get("lost")),
                key=lambda r: r["time"],
            )
            name = {id(r): f"{str(r.get('token'))[:8]} (pid {r['pid']})" for r in starts}
            why = [
                f"{name[id(b)]} started while {name[id(a)]} was training"
                for i, a in enumerate(starts)
                for b in starts[i + 1 :]
                if b["time"] < self._trained_until(a, ends)
                and (a["pid"] != b["pid"] or a.get("token") in ends)
            ]
            done = self.finished_at.get(run.name, float("inf"))
            why += [
                f"{name[id(a)]} started after the run had finished"
                for a in starts
                if a["time"] > done + 4 * POLL_S
            ]
            if why:
                found.append(f"{run.name}: {'; '.join(why)}")
        return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
    sweep = sweep_dir(base)
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
    trial.duplicate_runs = watcher.duplicates()
    trial.duplicates = len(trial.duplicate_runs)
    trial.lost = lost(sweep, reference)
    return trial


def target_done(sweep: Path) -> bool:
    return all(_finished(run) for run in (sweep / "runs").iterdir())


def concurrent_trial(base: Path, config: Path, reference: dict, rng: random.Random) -> Trial:
    sweep = sweep_dir(base)
    trial = Trial("concurrent", len(reference))
    watcher = Watcher(sweep)
    procs = [start_launch(config) for _ in range(rng.choice([2, 3]))]
    trial.launches = len(procs)
    _wait(procs, watcher, timeout=900)
    # Every run is trained exactly once across the launches (no kills: one attempt each).
    found = watcher.duplicates()
    listed = {line.split(":")[0] for line in found}
    runs = sorted((sweep / "runs").iterdir())
    twice = [f"{r.name}: {n} attempts" for r in runs if (n := attempts(r)) > 1]
    trial.duplicate_runs = found + [line for line in twice if line.split(":")[0] not in listed]
    trial.duplicates = len(trial.duplicate_runs)
    trial.lost = lost(sweep, reference)
    return trial


def prepare(root: Path, runs: int, workers: int) -> tuple[Path, Path, dict]:
    """A set-up sweep (kept as a template) and the results of training it uninterrupted."""
    config = write_sweep(root, runs, workers)
    subprocess.run(cli("sweep", "setup", str(config), "-q"), check=True)
    template = root / "template"
    shutil.copytree(sweep_dir(root), template)
    return config, template, uninterrupted(root, config, template)


def uninterrupted(root: Path, config: Path, template: Path) -> dict[str, float | None]:
    """The template trained by one launch, nothing killed: the reference results. Run again at
    the end: if the code changed meanwhile (a shared working tree), "lost" counts mean nothing."""
    shutil.rmtree(sweep_dir(root), ignore_errors=True)
    shutil.copytree(template, sweep_dir(root))
    subprocess.run(cli("sweep", "launch", str(config), "-q"), check=True)
    return results(sweep_dir(root))


def run(trials: int, concurrent: int, runs: int, workers: int, seed: int, max_kills: int) -> dict:
    rng = random.Random(seed)
    start = time.monotonic()
    out: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="kill_harness_") as tmp:
        root = Path(tmp)
        config, template, reference = prepare(root, runs, workers)
        assert all(v is not None for v in reference.values()), reference
        for i in range(trials + concurrent):
            shutil.rmtree(sweep_dir(root))
            shutil.copytree(template, sweep_dir(root))
            if i < trials:
                trial = kill_trial(root, config, reference, rng, max_kills)
            else:
                trial = concurrent_trial(root, config, reference, rng)
            out.append(trial)
            print(json.dumps(asdict(trial)), flush=True)
        stable = uninterrupted(root, config, template) == reference
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
        "wall_s": round(time.monotonic() - start),
        "reference_stable": stable,  # False: the code changed during the run (see `lost`)
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
    if not summary["reference_stable"]:
        print("the uninterrupted sweep gave other results at the end: code changed during the run")
    ok = summary["duplicates"] == 0 and summary["lost"] == 0 and summary["reference_stable"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
