"""Whole-file I/O that survives crashes and damaged disks.

Writes are atomic: a reader (or a crash at any instant) sees the old file or the new one, never
half of one. Run directories, checkpoints and sweep tables all rely on this. Reads tolerate any
bytes: `read_text` turns every way a file can be unusable (missing, a directory, unreadable,
too large, not UTF-8) into one ConfigError naming the file, and `move_aside` keeps a damaged
file for inspection while making room for a fresh one.
"""

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pycls_like.errors import ConfigError
from pycls_like.limits import MAX_TEXT_BYTES


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


def check_output_dir(path: Path, key: str) -> None:
    """Before any work: `path` is a writable directory, or one that can be made (its nearest
    existing ancestor is a writable directory). ConfigError naming the option and the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError("exists and is not a directory", key=key, source=str(path))
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"cannot be made: {ancestor} is not a directory", key=key, source=str(path)
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"not writable ({ancestor})", key=key, source=str(path))


def check_output_file(path: Path, key: str) -> None:
    """Before any work: `path` can be written as a file (not a directory, its folder usable)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError("is a directory, expected a file name", key=key, source=str(path))
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError("not writable", key=key, source=str(path))
    check_output_dir(path.parent, key)


def write_owned(path: Path, text: str) -> None:
    """`write_atomic` for a file the tool owns (a sweep table, a run file): a directory or other
    non-file in its place is moved aside first instead of failing every write."""
    if not path.is_file() and (path.exists() or path.is_symlink()):
        move_aside(path)
    write_atomic(path, text)


def read_bytes(
    path: Path, *, missing_ok: bool = False, limit: int = MAX_TEXT_BYTES
) -> bytes | None:
    """The file's bytes (None if it is absent and `missing_ok`); ConfigError naming the file if it
    is missing, a directory, unreadable or larger than `limit` (a FIFO or /dev/zero is read up
    to the limit, never forever into memory)."""
    path = Path(path)
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise ConfigError("is a directory, expected a file", source=str(path))
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigError(
            "cannot read file (No such file or directory)", source=str(path)
        ) from None
    except OSError as err:
        raise ConfigError(f"cannot read file ({err.strerror or err})", source=str(path)) from None
    if len(data) > limit:
        raise ConfigError(f"larger than the {limit:,}-byte limit", source=str(path))
    return data


def read_text(path: Path, *, missing_ok: bool = False, limit: int = MAX_TEXT_BYTES) -> str | None:
    """The file as UTF-8 text; like `read_bytes`, plus a ConfigError for bytes that are not UTF-8."""
    data = read_bytes(path, missing_ok=missing_ok, limit=limit)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text (byte {err.start})", source=str(path)) from None


def move_aside(path: Path) -> Path:
    """Rename a damaged file (or a directory in its place) to `NAME.corrupt-<n>`, kept for
    inspection, so that a fresh one can be written; returns the new name."""
    n = 1
    while True:
        target = path.with_name(f"{path.name}.corrupt-{n}")
        if not os.path.lexists(target):
            try:
                os.rename(path, target)
            except FileNotFoundError:
                if not os.path.lexists(path):
                    return target  # someone else moved it first
                raise
            return target
        n += 1
