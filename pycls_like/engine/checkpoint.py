"""The engine's checkpoint, written so that a crash at any instant leaves a resumable directory.

The run directory's names, result and metrics writers live in `pycls_like.rundir`. Whole files
(checkpoint, result) are written to a temporary name and renamed over the target:
a reader sees the old or the new file, never half of one. metrics.jsonl is appended, and
rewritten from the checkpoint's history on resume, so it never lists an epoch the checkpoint
does not hold.
"""

from pathlib import Path
from typing import Any

import torch

from pycls_like.fileio import atomic_write
from pycls_like.rundir import (  # noqa: F401  (the trainer reads them as ckpt.*)
    CHECKPOINT_FILE,
    ERROR_FILE,
    RESULT_FILE,
    append_metrics,
    finished_result,
    rewrite_metrics,
    write_json,
)


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    atomic_write(out / CHECKPOINT_FILE, lambda f: torch.save(state, f), "wb")


def load_checkpoint(out: Path, device: torch.device) -> dict[str, Any] | None:
    """The last checkpoint, tensors mapped to `device`; None if there is none yet."""
    path = out / CHECKPOINT_FILE
    if not path.exists():
        return None
    # weights_only: a checkpoint holds tensors and plain containers, nothing to execute.
    return torch.load(path, map_location=device, weights_only=True)
