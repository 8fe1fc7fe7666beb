"""Run-directory files written so that a crash at any instant leaves a resumable directory.

Whole files (checkpoint, result) are written to a temporary name and renamed over the target:
a reader sees the old or the new file, never half of one. metrics.jsonl is appended, and
rewritten from the checkpoint's history on resume, so it never lists an epoch the checkpoint
does not hold.
"""

import json
import math
from pathlib import Path
from typing import Any

import torch

from pycls_like.fileio import atomic_write, write_atomic

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
RESULT = "result.json"
ERROR = "error.txt"


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
    text = json.dumps(json_safe(data), indent=1) + "\n"
    write_atomic(path, text)


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's mapping, or None if it is absent or unreadable (a run killed mid-write)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def append_metrics(out: Path, row: dict[str, Any]) -> None:
    with open(out / METRICS, "a") as f:
        f.write(json.dumps(json_safe(row)) + "\n")


def rewrite_metrics(out: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(json_safe(r)) + "\n" for r in rows)
    write_atomic(out / METRICS, text)


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    atomic_write(out / CHECKPOINT, lambda f: torch.save(state, f), "wb")


def load_checkpoint(out: Path, device: torch.device) -> dict[str, Any] | None:
    """The last checkpoint, tensors mapped to `device`; None if there is none yet."""
    path = out / CHECKPOINT
    if not path.exists():
        return None
    # weights_only: a checkpoint holds tensors and plain containers, nothing to execute.
    return torch.load(path, map_location=device, weights_only=True)
