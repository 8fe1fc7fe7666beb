"""The launcher registry: where the runs of a sweep execute. A new launcher is one entry.

Each entry names its optional package (and the setup.cfg extra that installs it) and a `start`
function with one signature; its module is imported only when the launcher is used.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycls_like.errors import ConfigError


@dataclass(frozen=True)
class Launcher:
    """start(config, sweep_dir, launch_id, monitor, todo) trains `todo` (run dirs)."""

    start: Callable[[Any, Path, str, Any, list[Path]], None]
    package: str | None = None  # optional dependency
    extra: str | None = None  # `pip install pycls_like[extra]` installs it


def _local(config: Any, sweep_dir: Path, launch_id: str, monitor: Any, todo: list[Path]) -> None:
    from pycls_like.sweep.launch_local import launch_local

    launch_local(sweep_dir, config.launcher, launch_id, monitor)


def _ray(config: Any, sweep_dir: Path, launch_id: str, monitor: Any, todo: list[Path]) -> None:
    from pycls_like.sweep.launch_ray import launch_ray

    launch_ray(sweep_dir, config.launcher, launch_id, monitor, todo)


def _slurm(config: Any, sweep_dir: Path, launch_id: str, monitor: Any, todo: list[Path]) -> None:
    from pycls_like.sweep.launch_slurm import launch_slurm

    launch_slurm(sweep_dir, config.launcher, launch_id, monitor, todo, config.name)


LAUNCHERS: dict[str, Launcher] = {
    "local": Launcher(_local),
    "ray": Launcher(_ray, package="ray", extra="ray"),
    "slurm": Launcher(_slurm, package="submitit", extra="slurm"),
}


def get_launcher(name: str, source: str | None = None) -> Launcher:
    if name not in LAUNCHERS:
        msg = f"unknown launcher {name!r} (one of {', '.join(LAUNCHERS)})"
        raise ConfigError(msg, key="launcher.type", source=source)
    return LAUNCHERS[name]


def check_available(name: str) -> None:
    """Asking for a launcher whose optional package is missing is a config error."""
    launcher = get_launcher(name)
    if launcher.package is None:
        return
    try:
        __import__(launcher.package)
    except ImportError:
        msg = f"launcher {name} needs `pip install pycls_like[{launcher.extra}]`"
        raise ConfigError(msg, key="launcher.type") from None
