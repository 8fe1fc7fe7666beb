"""One run directory: the files a sweep keeps in it and the status they imply.

    runs/<id>/config.yaml    run config for the engine (setup)      result.json  engine, atomic
    runs/<id>/sample.json    sampled parameters + complexity (setup)   metrics.jsonl, checkpoints
    runs/<id>/claim.json     who is training it now (claims.py)     error.txt    traceback
    runs/<id>/attempts.jsonl one line per training attempt (worker)

The run directory is the unit of resume: status is derived from these files only, so any process
(a driver, `sweep status`, a second launch) sees the same state.
"""

import json
from pathlib import Path
from typing import Any

from pycls_like.sweep.claims import is_claimed

CONFIG_FILE = "config.yaml"
SAMPLE_FILE = "sample.json"
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
ATTEMPTS_FILE = "attempts.jsonl"
FINISHED = ("complete", "diverged")  # diverged is a result (error 100%), never re-run


def run_id(index: int) -> str:
    """Zero-padded sample index: sorts as text up to 10,000 runs, stays stable as n grows."""
    return f"{index:04d}"


def run_dirs(sweep_dir: Path) -> list[Path]:
    """Run directories that setup finished writing, in id order."""
    runs = sweep_dir / "runs"
    if not runs.is_dir():
        return []
    found = [p for p in runs.iterdir() if p.name.isdigit() and (p / CONFIG_FILE).exists()]
    return sorted(found, key=lambda p: int(p.name))


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(data, None), or (None, None) if absent, or (None, problem) if unreadable or corrupt."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, None
    except OSError as err:
        return None, f"cannot read {path}: {err.strerror}"
    try:
        data = json.loads(text)
    except ValueError as err:
        return None, f"corrupt {path} ({err})"
    if not isinstance(data, dict):
        return None, f"corrupt {path} (not a JSON object)"
    return data, None


def read_result(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The engine's result.json; a corrupt one is reported, not raised."""
    result, problem = read_json(run_dir / RESULT_FILE)
    if result is not None and result.get("status") not in ("complete", "diverged", "failed"):
        return None, f"corrupt {run_dir / RESULT_FILE} (status {result.get('status')!r})"
    return result, problem


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
    result, _ = read_result(run_dir)
    return result is not None and result["status"] in FINISHED


def last_error_line(run_dir: Path) -> str:
    """Last non-empty line of error.txt (the exception), for one-line summaries."""
    try:
        lines = [line for line in (run_dir / ERROR_FILE).read_text().splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def attempts_in_launch(run_dir: Path, launch: str) -> int:
    """How many times this launch already started the run (a crashed process counts too)."""
    try:
        lines = (run_dir / ATTEMPTS_FILE).read_text().splitlines()
    except FileNotFoundError:
        return 0
    count = 0
    for line in lines:
        try:
            count += json.loads(line).get("launch") == launch
        except ValueError:
            continue  # a line cut by SIGKILL
    return count
