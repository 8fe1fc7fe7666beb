"""Claim files: at most one process trains a given run, across workers, launchers and hosts.

A claim is `RUN_DIR/claim.json`, holding host, pid, start time, launch and a random token. It is
written to a temporary file and hard-linked into place (atomic and exclusive on local and NFSv3+
disks), so a claim is complete from the instant it exists: one that cannot be parsed is damaged,
not being written, and is broken at once (O_CREAT|O_EXCL where links are not supported). The owner touches its mtime every
`heartbeat_s` seconds. A claim is stale when its process is gone: on this host, the pid is not
alive; on another host (we cannot see its processes), the heartbeat is older than `stale_after_s`.
Breaking a stale claim takes a short-lived lock file so that two recoverers cannot both delete it
and then both create a fresh claim.
"""

import contextlib
import json
import math
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pycls_like.fileio import move_aside
from pycls_like.rundir import CLAIM_FILE

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # 10 missed heartbeats: a busy NFS server may delay a few
BREAK_LOCK_STALE_S = 60.0  # a breaker holds its lock for milliseconds; 60 s means it died
UNREADABLE_STALE_S = 10.0  # a claim written without links is empty for a moment
HOST = socket.gethostname()


@dataclass(frozen=True)
class Claim:
    """Who holds a run: enough to tell whether it is still alive."""

    host: str
    pid: int
    start: float
    token: str
    launch: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # A zombie (exited, not yet reaped) still answers kill(pid, 0) but runs nothing.
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return False
    return True


_FIELDS = {"host": str, "pid": int, "start": float, "token": str, "launch": str}


def read_claim(path: Path) -> Claim | None:
    """The claim in `path`, or None if there is none or it is damaged (any bytes, any JSON)."""
    try:
        data = json.loads(path.read_bytes())
        claim = Claim(**data)
    except (OSError, ValueError, TypeError, RecursionError):
        return None
    for key, kind in _FIELDS.items():
        value = getattr(claim, key)
        numeric = kind is float and isinstance(value, int) and not isinstance(value, bool)
        if not (isinstance(value, kind) and not isinstance(value, bool) or numeric):
            return None
    if claim.pid <= 0 or not math.isfinite(claim.start):
        return None
    return claim


def is_stale(path: Path, stale_after_s: float = STALE_AFTER_S) -> bool:
    """A claim whose owner died (same host: pid gone; any host: heartbeat too old)."""
    try:
        age = time.time() - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if not path.is_file():
        return True  # a directory or a dangling link where a claim should be: nobody holds it
    claim = read_claim(path)
    if claim is None:
        # Damaged; or empty because (claims written without links) it is being written now.
        return path.stat().st_size > 0 or age > min(stale_after_s, UNREADABLE_STALE_S)
    if claim.host == HOST and not pid_alive(claim.pid):
        return True
    return age > stale_after_s


def is_claimed(run_dir: Path, stale_after_s: float = STALE_AFTER_S) -> bool:
    """True while a live process holds this run."""
    path = run_dir / CLAIM_FILE
    return (path.exists() or path.is_symlink()) and not is_stale(path, stale_after_s)


def _contents(path: Path) -> bytes | None:
    """What the claim holds now, to tell whether it changed (None: absent or not a file)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _break_stale(
    path: Path, stale_after_s: float, on_stale: Callable[[Claim], None] | None = None
) -> None:
    """Delete a stale claim unless someone else replaces it first (guarded by a lock file).
    `on_stale` hears about the dead claim first (its attempt may never have been recorded)."""
    before = _contents(path)
    lock = path.with_name(path.name + ".break")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        with contextlib.suppress(FileNotFoundError):
            if time.time() - lock.stat().st_mtime > BREAK_LOCK_STALE_S:
                lock.unlink()
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            # Re-check under the lock: the claim may have been broken and re-taken meanwhile.
            if _contents(path) == before and is_stale(path, stale_after_s):
                dead = read_claim(path)
                if dead is not None and on_stale is not None:
                    on_stale(dead)
                if path.is_file() or path.is_symlink():
                    path.unlink()
                else:
                    move_aside(path)  # a directory in its place: kept for inspection
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def _create(path: Path, claim: Claim) -> bool:
    """Create the claim file whole, only if there is none; False if one exists."""
    tmp = path.with_name(f".{path.name}.{claim.token}")
    with open(tmp, "w") as f:
        f.write(claim.to_json())
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links on this file system: exclusive create, then write
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(claim.to_json())
            f.flush()
            os.fsync(f.fileno())
        return True
    finally:
        tmp.unlink(missing_ok=True)


def try_claim(
    run_dir: Path,
    launch: str = "",
    stale_after_s: float = STALE_AFTER_S,
    on_stale: Callable[[Claim], None] | None = None,
) -> Claim | None:
    """Atomically claim a run; returns the claim, or None if a live process holds it."""
    path = run_dir / CLAIM_FILE
    claim = Claim(HOST, os.getpid(), time.time(), uuid.uuid4().hex, launch)
    for _ in range(2):
        if _create(path, claim):
            return claim
        if not is_stale(path, stale_after_s):
            return None
        _break_stale(path, stale_after_s, on_stale)
    return None


def release(run_dir: Path, claim: Claim) -> None:
    """Remove our claim, and only ours (a stale-claim recovery may have replaced it)."""
    path = run_dir / CLAIM_FILE
    held = read_claim(path)
    if held is not None and held.token == claim.token:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def heartbeat(
    run_dir: Path, claim: Claim, interval_s: float = HEARTBEAT_S, driver_pid: int | None = None
) -> Iterator[None]:
    """Touch the claim every `interval_s` while the body runs.

    With `driver_pid`, also check every second that this process is still that driver's child:
    a local worker whose driver was SIGKILLed must not train on unsupervised, so it sends itself
    SIGTERM (the worker turns it into SystemExit, which releases the claim on the way out).
    """
    stop = threading.Event()
    path = run_dir / CLAIM_FILE

    def beat() -> None:
        last = time.monotonic()
        while not stop.wait(min(1.0, interval_s)):
            if driver_pid is not None and os.getppid() != driver_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            if time.monotonic() - last >= interval_s:
                last = time.monotonic()
                with contextlib.suppress(OSError):
                    os.utime(path)

    thread = threading.Thread(target=beat, name="claim-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
