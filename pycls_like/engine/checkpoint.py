"""The engine's checkpoint, written so that a crash at any instant leaves a resumable directory.

The run directory's names, result and metrics writers live in `pycls_like.rundir`. Whole files
(checkpoint, result) are written to a temporary name and renamed over the target:
a reader sees the old or the new file, never half of one. metrics.jsonl is appended, and
rewritten from the checkpoint's history on resume, so it never lists an epoch the checkpoint
does not hold.

A checkpoint that cannot be loaded (truncated, garbled, another file's bytes, a directory in its
place) is moved aside (`checkpoint.pt.corrupt-<n>`, kept for inspection) and the run restarts
from scratch: a damaged checkpoint never fails a run for good.
"""

import logging
from pathlib import Path
from typing import Any

import torch

from pycls_like.fileio import atomic_write, move_aside
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


# What `trainer._state` writes; a checkpoint without them cannot resume the run.
STATE_KEYS = ("config", "model", "optimizer", "rng", "history")
log = logging.getLogger("pycls_like.train")


def load_checkpoint(out: Path, device: torch.device) -> dict[str, Any] | None:
    """The last checkpoint, tensors mapped to `device`; None if there is none yet, or if it was
    damaged (then moved aside with a warning: the run trains from scratch)."""
    path = out / CHECKPOINT_FILE
    if not (path.exists() or path.is_symlink()):
        return None
    problem = None
    try:
        # weights_only: a checkpoint holds tensors and plain containers, nothing to execute.
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many types for damaged bytes: all mean "damaged"
        first = (str(err).splitlines() or [""])[0][:160]
        state, problem = None, f"{type(err).__name__}: {first}"
    if problem is None and not (isinstance(state, dict) and all(k in state for k in STATE_KEYS)):
        problem = "not a pycls_like checkpoint (keys missing)"
    elif problem is None and not isinstance(state["history"], list):
        problem = "history is not a list"
    if problem is None:
        return state
    moved = move_aside(path)
    log.warning(
        "%s: damaged checkpoint (%s) moved aside to %s; training from scratch",
        out,
        problem,
        moved.name,
    )
    return None
