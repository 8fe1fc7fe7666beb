"""A run directory as the sweep sees it: its status, with live claims (`claims.py`) taken into
account. File names, statuses, readers and writers are owned by `pycls_like.rundir`."""

from pathlib import Path
from typing import Any

from pycls_like.rundir import (  # noqa: F401  (the sweep modules import them from here too)
    ATTEMPTS_FILE,
    CONFIG_FILE,
    CORRUPT,
    ERROR_FILE,
    FINISHED,
    PROFILE_FILE,
    RESULT_FILE,
    SAMPLE_FILE,
    attempt_recorded,
    attempts_in_launch,
    config_problem,
    finished_result,
    last_error_line,
    read_json,
    read_result,
    record_attempt,
    repair,
    run_dirs,
    run_id,
)
from pycls_like.sweep.claims import is_claimed


def status_of(run_dir: Path, result: dict[str, Any] | None, problem: str | None) -> str:
    """complete | diverged (finished results) > running (live claim) > corrupt (damaged or
    missing config.yaml or result.json: `problem_of` says why) > failed > pending."""
    if result is not None and result["status"] in FINISHED:
        return result["status"]
    if is_claimed(run_dir):
        return "running"
    if problem is not None or config_problem(run_dir) is not None:
        return CORRUPT
    if result is not None or (run_dir / ERROR_FILE).exists():
        return "failed"
    return "pending"


def problem_of(run_dir: Path, result: dict[str, Any] | None, problem: str | None) -> str:
    """One line on why a run is corrupt or failed."""
    return (
        problem
        or config_problem(run_dir)
        or (result or {}).get("error")
        or last_error_line(run_dir)
        or "unknown"
    )


def config_damage(run_dir: Path) -> str | None:
    """Why the run's config.yaml cannot train anything (unreadable, not a mapping, invalid), or
    None. Data paths are checked when training starts: a run may wait for its data."""
    from pycls_like.engine.config import run_config_from_dict
    from pycls_like.errors import ConfigError
    from pycls_like.io import read_yaml

    path = run_dir / CONFIG_FILE
    try:
        run_config_from_dict(read_yaml(path), str(path))
    except ConfigError as err:
        return str(err)
    return None


def is_finished(run_dir: Path) -> bool:
    """True if the run has a complete or diverged result: it must never be trained again."""
    return finished_result(run_dir) is not None
