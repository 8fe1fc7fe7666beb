"""Shared fixtures: run the CLI in-process or as a subprocess."""

import subprocess
import sys

import pytest

from pycls_like.cli import main


@pytest.fixture
def cli(capsys):
    """Run `pycls-like ARGS` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m pycls_like.cli ARGS` in a fresh interpreter."""
    cmd = [sys.executable, "-m", "pycls_like.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An exhaustive test is slow too: `-m "not slow"` (the fast tier) replaces the default
    `-m "not exhaustive"`, and must not bring the exhaustive tier back in."""
    for item in items:
        if item.get_closest_marker("exhaustive") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
