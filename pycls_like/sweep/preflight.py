"""Checks before a sweep writes or trains anything: every later failure they can foresee is a
one-line error now, instead of a half-written sweep dir or a run failing on every attempt.

- the sweep dir (and its `runs/` and `logs/`) can be written;
- the launcher can run here: its package is installed; `slurm` has Slurm (sbatch on PATH) unless
  `launcher.slurm.cluster` is local/debug; a Ray address answers within `CONNECT_TIMEOUT_S`;
- the devices asked for exist: `base.device: cuda`, `launcher.gpus_per_run` on the local launcher.
`status` and `collect` write nothing: they check only that the sweep dir and its `runs/` are
directories (a file there would read as a sweep of 0 runs).
"""

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

from pycls_like.errors import ConfigError
from pycls_like.fileio import check_output_dir
from pycls_like.sweep.config import SweepConfig, check_launcher_available

CONNECT_TIMEOUT_S = 5.0
RAY_DEFAULT_PORT = 6379


def _folders_are_dirs(sweep_dir: Path, names: tuple[str, ...]) -> None:
    """Each named folder of the sweep dir is a directory where it exists (a file or a link in its
    place would make the sweep look empty, or fail half-way)."""
    for name in names:
        path = sweep_dir / name
        if (path.exists() or path.is_symlink()) and not path.is_dir():
            raise ConfigError("is in the way: expected a directory", source=str(path))


def check_sweep_dir(config: SweepConfig, train: bool) -> None:
    """The sweep dir and the folders setup (and, with `train`, launches) write into are (or can
    be made) directories."""
    check_output_dir(config.sweep_dir, "sweep dir")
    _folders_are_dirs(config.sweep_dir, ("runs", "logs") if train else ("runs",))


def check_sweep_readable(config: SweepConfig) -> None:
    """`status` and `collect` read a set-up sweep: its dir exists and its `runs` is a directory
    (nothing is written: a read-only sweep dir is fine)."""
    if not config.sweep_dir.is_dir():
        raise ConfigError(
            "no such sweep directory (run `pycls-like sweep setup` first)",
            source=str(config.sweep_dir),
        )
    _folders_are_dirs(config.sweep_dir, ("runs",))


def check_launcher(config: SweepConfig) -> None:
    """The launcher's package, scheduler and cluster are there (Ray: within a timeout)."""
    launcher = config.launcher
    check_launcher_available(launcher)
    if (
        launcher.type == "slurm"
        and launcher.slurm.cluster == "slurm"
        and not shutil.which("sbatch")
    ):
        raise ConfigError(
            "no Slurm here (sbatch not on PATH); launcher.slurm.cluster: local tries the sweep "
            "without Slurm",
            key="launcher.type",
            source=config.source,
        )
    if launcher.type == "ray":
        address = launcher.ray.address or os.environ.get("RAY_ADDRESS")
        if address and address != "auto":
            check_reachable(address, "launcher.ray.address", config.source)


def check_reachable(address: str, key: str, source: str | None = None) -> None:
    """A `host:port` (or `ray://host:port`) accepts a TCP connection within the timeout."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port or RAY_DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"not a host:port address: {address!r}", key=key, source=source) from None
    if not host:
        raise ConfigError(f"not a host:port address: {address!r}", key=key, source=source)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        why = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        msg = f"cannot reach {host}:{port} ({why} within {CONNECT_TIMEOUT_S:g} s)"
        raise ConfigError(msg, key=key, source=source) from None


def check_devices(config: SweepConfig) -> None:
    """CUDA asked for by the run config or the local launcher is present (torch loads only then)."""
    device = str(config.base.get("device", "auto"))
    gpus = config.launcher.gpus_per_run or 0
    wants_cuda = device.startswith("cuda")
    if not wants_cuda and not (config.launcher.type == "local" and gpus > 0):
        return
    from pycls_like.sweep.launch_local import visible_gpus

    visible = len(visible_gpus())
    if wants_cuda and not visible:
        raise ConfigError(
            "cuda requested but no GPU is visible", key="base.device", source=config.source
        )
    if config.launcher.type == "local" and gpus > visible:
        msg = f"needs {gpus} GPUs per run but {visible} are visible"
        raise ConfigError(msg, key="launcher.gpus_per_run", source=config.source)


def preflight(config: SweepConfig, train: bool) -> None:
    """Everything `sweep` can check before it writes (`train`: also launcher and devices)."""
    check_sweep_dir(config, train)
    if train:
        check_launcher(config)
        check_devices(config)
