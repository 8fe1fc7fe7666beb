"""The run directory, owned here: its file names, the statuses a result can have, and every
reader and writer of its JSON files. The engine writes it, the sweep schedules by it, analysis
reads it; all three import these names.

    config.yaml    run config (sweep setup)          result.json    engine, atomic; its status
    sample.json    sampled parameters + complexity   metrics.jsonl  one line per epoch (engine)
    claim.json     who is training it (sweep)        checkpoint.pt  last epoch (engine)
    attempts.jsonl one line per training attempt     error.txt      traceback of a failure

A run directory is the unit of resume: its state is derived from these files only. Torch-free.
"""

import json
import math
from pathlib import Path
from typing import Any

from pycls_like.fileio import write_atomic

CONFIG_FILE = "config.yaml"
SAMPLE_FILE = "sample.json"
RESULT_FILE = "result.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
ERROR_FILE = "error.txt"
ATTEMPTS_FILE = "attempts.jsonl"
CLAIM_FILE = "claim.json"

COMPLETE, DIVERGED, FAILED = "complete", "diverged", "failed"
FINISHED = (COMPLETE, DIVERGED)  # a result (diverged: error 100%), never trained again
RESULT_STATUSES = (*FINISHED, FAILED)


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


def json_safe(value: Any) -> Any:
    """NaN and inf are not JSON: they become null (a diverged loss)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    write_atomic(path, json.dumps(json_safe(data), indent=1) + "\n")


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
    if result is not None and result.get("status") not in RESULT_STATUSES:
        return None, f"corrupt {run_dir / RESULT_FILE} (status {result.get('status')!r})"
    return result, problem


def finished_result(run_dir: Path) -> dict[str, Any] | None:
    """The result if the run finished (complete or diverged), else None."""
    result, _ = read_result(run_dir)
    return result if result is not None and result["status"] in FINISHED else None


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(json_safe(row)) + "\n")


def rewrite_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(run_dir / METRICS_FILE, "".join(json.dumps(json_safe(r)) + "\n" for r in rows))


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
