"""Launch: train every run of a sweep that is not finished, with the configured launcher.

Launchers only decide where runs execute; what is done is read from the run directories, so
relaunching after a crash, a Ctrl-C or a SIGKILL picks up exactly what is left, and two launches
on the same directory share the work through claims instead of duplicating it.
"""

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pycls_like.errors import EXIT_OK, EXIT_RUNS_FAILED, EXIT_RUNS_OPEN, ConfigError
from pycls_like.sweep.config import SweepConfig, check_launcher_available
from pycls_like.sweep.launchers import get_launcher
from pycls_like.sweep.progress import Monitor
from pycls_like.sweep.rundir import config_problem, is_finished, run_dirs

REPAIR_ROUNDS = 2  # a worker moves a damaged config aside; the next round rebuilds and trains it


@dataclass(frozen=True)
class LaunchSummary:
    """What this launch did (runs it trained, by status), runs other invocations finished
    meanwhile, runs still open (held elsewhere), and the whole sweep's counts afterwards."""

    launch: str
    total: int
    already_done: int
    complete: int
    diverged: int
    failed: int
    still_open: int
    elsewhere: int = 0
    sweep: dict[str, int] = field(default_factory=dict)  # `sweep status` counts after the launch
    rebuilt: tuple[str, ...] = ()
    waited: bool = True  # False: submitted without following the jobs (slurm `wait: false`)

    @property
    def exit_code(self) -> int:
        return sweep_exit_code(self.sweep, self.waited)


def sweep_exit_code(counts: Mapping[str, int], waited: bool = True) -> int:
    """From `sweep status` counts: 0 when every run finished (or, not waiting, was submitted);
    3 when some failed or are corrupt; 4 when some are still open."""
    if counts.get("failed", 0) or counts.get("corrupt", 0):
        return EXIT_RUNS_FAILED
    if waited and (counts.get("pending", 0) or counts.get("running", 0)):
        return EXIT_RUNS_OPEN
    return EXIT_OK


def new_launch_id() -> str:
    """Sortable and unique: attempts (hence retries) are counted per launch."""
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def launch(config: SweepConfig, quiet: bool = False) -> LaunchSummary:
    """Train every unfinished run of an already set-up sweep; returns when none is left to start.

    Run dirs whose config or sample is missing are rebuilt from the sweep config first, and once
    more after the workers moved damaged configs aside, so no run is dropped or stuck failed."""
    from pycls_like.sweep.setup import setup
    from pycls_like.sweep.status import sweep_status

    check_launcher_available(config.launcher)
    sweep_dir = config.sweep_dir
    runs = run_dirs(sweep_dir)
    if not runs:
        raise ConfigError(
            "no runs set up (run `pycls-like sweep setup` first)", source=str(sweep_dir)
        )
    launch_id = new_launch_id()
    retries = config.launcher.retries
    todo = [run_dir for run_dir in runs if not is_finished(run_dir)]
    monitor = Monitor(todo, len(runs), launch_id, retries, quiet=quiet, desc=config.name)
    rebuilt: list[str] = []
    try:
        for _ in range(REPAIR_ROUNDS):
            if any(config_problem(run_dir) for run_dir in monitor.todo):
                report = setup(config, repair_only=True)
                rebuilt += report.rebuilt
                if report.rebuilt:
                    monitor.say(report.describe())
            left = [run_dir for run_dir in monitor.todo if not is_finished(run_dir)]
            if not left:
                break
            monitor.over.clear()
            _dispatch(config, sweep_dir, launch_id, monitor, left)
            if not any(config_problem(run_dir) for run_dir in monitor.todo):
                break
    finally:
        monitor.close()
    counts = monitor.counts
    return LaunchSummary(
        launch_id,
        len(runs),
        len(runs) - len(todo),
        counts["complete"],
        counts["diverged"],
        counts["failed"],
        len(monitor.todo),
        monitor.elsewhere,
        sweep_status(sweep_dir).counts,
        tuple(rebuilt),
        waited=not (config.launcher.type == "slurm" and not config.launcher.slurm.wait),
    )


def _dispatch(
    config: SweepConfig, sweep_dir: Path, launch_id: str, monitor: Monitor, todo: list[Path]
) -> None:
    get_launcher(config.launcher.type).start(config, sweep_dir, launch_id, monitor, todo)


def format_summary(summary: LaunchSummary) -> str:
    """Two lines for the end of `sweep launch`: what this invocation did, then the whole sweep."""
    parts = [
        f"{summary.complete} complete",
        f"{summary.diverged} diverged",
        f"{summary.failed} failed",
    ]
    line = f"launch {summary.launch}: trained " + ", ".join(parts)
    if summary.already_done:
        line += f" ({summary.already_done} finished before)"
    if summary.elsewhere:
        line += f"; {summary.elsewhere} finished by another launch meanwhile"
    if summary.still_open:
        line += f"; {summary.still_open} still running or queued elsewhere"
    counts = ", ".join(f"{v} {k}" for k, v in summary.sweep.items() if v)
    total = sum(summary.sweep.values())
    return f"{line}\nsweep: {total} runs: {counts or 'none'} (exit code {summary.exit_code})"
