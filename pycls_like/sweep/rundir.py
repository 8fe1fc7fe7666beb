"""A run directory as the sweep sees it: its status, with live claims (`claims.py`) taken into
account. File names, statuses, readers and writers are owned by `pycls_like.rundir`."""

from pathlib import Path
from typing import Any

from pycls_like.rundir import (  # noqa: F401  (the sweep modules import them from here too)
    ATTEMPTS_FILE,
    CONFIG_FILE,
    ERROR_FILE,
    FINISHED,
    RESULT_FILE,
    SAMPLE_FILE,
    attempts_in_launch,
    finished_result,
    last_error_line,
    read_json,
    read_result,
    run_dirs,
    run_id,
)
from pycls_like.sweep.claims import is_claimed


def status_of(run_dir: Path, result: dict[str, Any] | None, problem: str | None) -> str:
    """complete | diverged (finished results) > running (live claim) > failed > pending."""
    if result is not None and result["status"] in FINISHED:
        return result["status"]
    if is_claimed(run_dir):
        return "running"
    if problem is not None or result is not None or (run_dir / ERROR_FILE).exists():
        return "failed"
    return "pending"


def is_finished(run_dir: Path) -> bool:
    """True if the run has a complete or diverged result: it must never be trained again."""
    return finished_result(run_dir) is not None
