"""Atomic file writes: a reader (or a crash at any instant) sees the old file or the new one,
never half of one. Run directories, checkpoints and sweep tables all rely on this."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """Atomically replace `path` with `text`."""
    atomic_write(path, lambda f: f.write(text))
