"""Status: how far a sweep is (done / running / failed / diverged / pending) and when it will end.

Read-only and cheap (no pandas, no torch): safe to run in a loop while a launch is going on, from
any machine that sees the sweep directory.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from pycls_like.sweep.rundir import FINISHED, problem_of, read_result, run_dirs, status_of

LABELS = {
    "complete": "done",
    "running": "running",
    "failed": "failed",
    "diverged": "diverged",
    "pending": "pending",
    "corrupt": "corrupt",  # damaged or missing config.yaml / result.json (the reason is listed)
}


@dataclass(frozen=True)
class SweepStatus:
    """Counts per status, timing of finished runs, and why runs failed."""

    sweep_dir: str
    counts: dict[str, int]
    mean_train_time_s: float | None
    workers: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run id, last error line)
    near_chance: list[str] = field(default_factory=list)  # complete runs that learned ~nothing
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (run id, what is damaged)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def eta_s(self) -> float | None:
        """Remaining runs x mean run time / parallel workers (None before any run finished)."""
        left = self.counts["pending"] + self.counts["running"]
        if self.mean_train_time_s is None:
            return None if left else 0.0
        return left * self.mean_train_time_s / self.workers


def _configured_workers(sweep_dir: Path) -> int:
    """Parallelism from sweep.yaml (workers, else max_concurrent), 1 if unknown."""
    from pycls_like.io import read_yaml

    try:
        launcher = read_yaml(sweep_dir / "sweep.yaml").get("launcher") or {}
        return max(1, int(launcher.get("workers") or launcher.get("max_concurrent") or 1))
    except (ValueError, TypeError, AttributeError):  # a damaged sweep.yaml: status still works
        return 1


def sweep_status(sweep_dir: str | Path) -> SweepStatus:
    """Count runs by status from the run directories."""
    sweep_dir = Path(sweep_dir)
    counts = dict.fromkeys(LABELS, 0)
    times, failed, near, corrupt = [], [], [], []
    for run_dir in run_dirs(sweep_dir):
        result, problem = read_result(run_dir)
        status = status_of(run_dir, result, problem)
        counts[status] += 1
        seconds = result.get("train_time_s") if status in FINISHED else None
        if isinstance(seconds, int | float) and math.isfinite(seconds):
            times.append(float(seconds))
        if status == "complete" and result.get("near_chance"):
            near.append(run_dir.name)
        if status == "failed":
            failed.append((run_dir.name, problem_of(run_dir, result, problem)))
        if status == "corrupt":
            corrupt.append((run_dir.name, problem_of(run_dir, result, problem)))
    mean = sum(times) / len(times) if times else None
    # The runs in flight right now are the best estimate of parallelism while a launch is on.
    workers = max(counts["running"], _configured_workers(sweep_dir), 1)
    return SweepStatus(str(sweep_dir), counts, mean, workers, failed, near, corrupt=corrupt)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


def format_status(status: SweepStatus) -> str:
    """A few human lines: counts, ETA, and one line per failed run."""
    counts = "  ".join(f"{LABELS[k]} {v}" for k, v in status.counts.items())
    lines = [f"{status.sweep_dir}: {status.total} runs  {counts}"]
    eta = status.eta_s
    if status.mean_train_time_s is not None:
        lines.append(
            f"mean train time {status.mean_train_time_s:.1f} s/run, {status.workers} worker(s): "
            f"ETA {_duration(eta)}"
        )
    elif eta:
        lines.append("ETA unknown until a run finishes")
    for run, error in status.failed:
        lines.append(f"failed {run}: {error}")
    for run, why in status.corrupt:
        lines.append(f"corrupt {run}: {why}")
    if status.near_chance:
        lines.append(
            f"near chance ({len(status.near_chance)} complete runs within 2 points of guessing: "
            f"check the recipe): {', '.join(status.near_chance)}"
        )
    return "\n".join(lines)


def status_json(status: SweepStatus) -> str:
    """One JSON object, for scripts that poll a sweep."""
    return json.dumps(
        {
            "sweep_dir": status.sweep_dir,
            "total": status.total,
            **status.counts,
            "mean_train_time_s": status.mean_train_time_s,
            "workers": status.workers,
            "eta_s": status.eta_s,
            "failed_runs": dict(status.failed),
            "corrupt_runs": dict(status.corrupt),
            "near_chance_runs": status.near_chance,
        }
    )
