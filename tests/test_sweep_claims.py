"""Claim files: one holder per run, stale claims of dead processes recovered, only ours released."""

import json
import os
import subprocess
import sys
import time

from pycls_like.sweep import claims
from pycls_like.sweep.claims import CLAIM_FILE, heartbeat, is_claimed, release, try_claim


def test_claim_is_exclusive_and_release_frees_it(tmp_path):
    first = try_claim(tmp_path, "L1")
    assert first is not None and is_claimed(tmp_path)
    assert try_claim(tmp_path, "L2") is None
    held = json.loads((tmp_path / CLAIM_FILE).read_text())
    assert {"host", "pid", "start", "token"} <= set(held) and held["pid"] == os.getpid()
    release(tmp_path, first)
    assert not is_claimed(tmp_path)
    assert try_claim(tmp_path, "L2") is not None


def test_claim_of_a_dead_process_is_recovered(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    stale = claims.Claim(claims.HOST, pid, time.time(), "old", "L0")
    (tmp_path / CLAIM_FILE).write_text(stale.to_json())
    assert not is_claimed(tmp_path)
    new = try_claim(tmp_path, "L1")
    assert new is not None and new.token != "old"
    release(tmp_path, stale)  # not ours any more: must not remove the new claim
    assert is_claimed(tmp_path)


def test_other_host_claim_is_stale_only_after_heartbeat_timeout(tmp_path):
    other = claims.Claim("some-other-host", 1, time.time(), "x")
    path = tmp_path / CLAIM_FILE
    path.write_text(other.to_json())
    assert is_claimed(tmp_path, stale_after_s=60)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert not is_claimed(tmp_path, stale_after_s=60)
    assert try_claim(tmp_path, stale_after_s=60) is not None


def test_heartbeat_touches_the_claim(tmp_path):
    claim = try_claim(tmp_path)
    path = tmp_path / CLAIM_FILE
    old = time.time() - 100
    os.utime(path, (old, old))
    with heartbeat(tmp_path, claim, interval_s=0.05):
        time.sleep(0.3)
    assert time.time() - path.stat().st_mtime < 5


def test_concurrent_claimers_get_one_winner(tmp_path):
    code = (
        "import sys, time; from pathlib import Path; from pycls_like.sweep.claims import try_claim;"
        "time.sleep(0.3); c = try_claim(Path(sys.argv[1]));"
        "print('won' if c else 'lost'); time.sleep(0.5)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outs) == ["lost", "lost", "lost", "won"]
