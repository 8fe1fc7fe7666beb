"""Claim files: at most one process trains a given run, across workers, launchers and hosts.

A claim is `RUN_DIR/claim.json`, created with O_CREAT|O_EXCL (atomic on local and NFSv3+ disks),
holding host, pid, start time and a random token. The owner touches its mtime every
`heartbeat_s` seconds. A claim is stale when its process is gone: on this host, the pid is not
alive; on another host (we cannot see its processes), the heartbeat is older than `stale_after_s`.
Breaking a stale claim takes a short-lived lock file so that two recoverers cannot both delete it
and then both create a fresh claim.
"""

import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pycls_like.rundir import CLAIM_FILE

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # 10 missed heartbeats: a busy NFS server may delay a few
BREAK_LOCK_STALE_S = 60.0  # a breaker holds its lock for milliseconds; 60 s means it died
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


def read_claim(path: Path) -> Claim | None:
    """The claim in `path`, or None if there is none or it is still being written."""
    try:
        return Claim(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def is_stale(path: Path, stale_after_s: float = STALE_AFTER_S) -> bool:
    """A claim whose owner died (same host: pid gone; any host: heartbeat too old)."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    claim = read_claim(path)
    if claim is None:
        # Being written right now (create, then write), or truncated by a crash long ago.
        return age > stale_after_s
    if claim.host == HOST and not pid_alive(claim.pid):
        return True
    return age > stale_after_s


def is_claimed(run_dir: Path, stale_after_s: float = STALE_AFTER_S) -> bool:
    """True while a live process holds this run."""
    path = run_dir / CLAIM_FILE
    return path.exists() and not is_stale(path, stale_after_s)


def _break_stale(path: Path, stale_after_s: float) -> None:
    """Delete a stale claim unless someone else replaces it first (guarded by a lock file)."""
    before = path.read_bytes() if path.exists() else None
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
            if path.read_bytes() == before and is_stale(path, stale_after_s):
                path.unlink()
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def try_claim(
    run_dir: Path, launch: str = "", stale_after_s: float = STALE_AFTER_S
) -> Claim | None:
    """Atomically claim a run; returns the claim, or None if a live process holds it."""
    path = run_dir / CLAIM_FILE
    claim = Claim(HOST, os.getpid(), time.time(), uuid.uuid4().hex, launch)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not is_stale(path, stale_after_s):
                return None
            _break_stale(path, stale_after_s)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(claim.to_json())
            f.flush()
            os.fsync(f.fileno())
        return claim
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
