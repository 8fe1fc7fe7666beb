"""Launch: train every run of a sweep that is not finished, with the configured launcher.

Launchers only decide where runs execute; what is done is read from the run directories, so
relaunching after a crash, a Ctrl-C or a SIGKILL picks up exactly what is left, and two launches
on the same directory share the work through claims instead of duplicating it.
"""

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pycls_like.errors import ConfigError
from pycls_like.sweep.config import SweepConfig, check_launcher_available
from pycls_like.sweep.launchers import get_launcher
from pycls_like.sweep.progress import Monitor
from pycls_like.sweep.rundir import is_finished, run_dirs


@dataclass(frozen=True)
class LaunchSummary:
    """What one launch did: runs it ended by status, and runs still open (held elsewhere)."""

    launch: str
    total: int
    already_done: int
    complete: int
    diverged: int
    failed: int
    still_open: int


def new_launch_id() -> str:
    """Sortable and unique: attempts (hence retries) are counted per launch."""
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def launch(config: SweepConfig, quiet: bool = False) -> LaunchSummary:
    """Train every unfinished run of an already set-up sweep; returns when none is left to start."""
    check_launcher_available(config.launcher)
    sweep_dir = config.sweep_dir
    runs = run_dirs(sweep_dir)
    if not runs:
        raise ConfigError(
            "no runs set up (run `pycls-like sweep setup` first)", source=str(sweep_dir)
        )
    todo = [run_dir for run_dir in runs if not is_finished(run_dir)]
    launch_id = new_launch_id()
    retries = config.launcher.retries
    monitor = Monitor(todo, len(runs), launch_id, retries, quiet=quiet, desc=config.name)
    try:
        if todo:
            _dispatch(config, sweep_dir, launch_id, monitor, todo)
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
    )


def _dispatch(
    config: SweepConfig, sweep_dir: Path, launch_id: str, monitor: Monitor, todo: list[Path]
) -> None:
    get_launcher(config.launcher.type).start(config, sweep_dir, launch_id, monitor, todo)


def format_summary(summary: LaunchSummary) -> str:
    """One line for the end of `sweep launch`."""
    parts = [
        f"{summary.complete} complete",
        f"{summary.diverged} diverged",
        f"{summary.failed} failed",
    ]
    line = f"launch {summary.launch}: " + ", ".join(parts)
    if summary.already_done:
        line += f" ({summary.already_done} finished before)"
    if summary.still_open:
        line += f"; {summary.still_open} still running or queued elsewhere"
    return line
