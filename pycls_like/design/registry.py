"""Where design spaces live: `pycls_like/design_spaces/`, package data beside this code.

Shipping the YAML files inside the package makes them install with it (wheel, sdist, editable
or the source tree alike). A space is named by a path or by its file name there (`regnetx`,
case-insensitive); optimizer files likewise live in `design_spaces/optim/`. Light: no numpy, so
`pycls-like spaces` starts fast.
"""

import difflib
from pathlib import Path

import pycls_like
from pycls_like.errors import ConfigError
from pycls_like.io import read_yaml

SPACES_DIR = Path(pycls_like.__file__).resolve().parent / "design_spaces"
OPTIM_DIR = SPACES_DIR / "optim"


def _shipped(folder: Path) -> list[Path]:
    """The YAML files of a shipped folder; a missing folder is a broken install, said in one line."""
    if not folder.is_dir():
        msg = f"the shipped design spaces are missing ({folder}): reinstall pycls_like"
        raise ConfigError(msg)
    return sorted(folder.glob("*.yaml"))


def _named(name: str, folder: Path, what: str) -> Path:
    files = {p.stem.lower(): p for p in _shipped(folder)}
    if name.lower() in files:
        return files[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(files), n=1)
    hint = f"; did you mean {close[0]}" if close else f" (shipped: {', '.join(files)})"
    raise ConfigError(f"unknown {what} {name!r}{hint}")


def _is_path(arg: str) -> bool:
    return Path(arg).suffix.lower() in (".yaml", ".yml") or "/" in arg or Path(arg).exists()


def find_space(arg: str) -> Path:
    """A YAML path as given, or a shipped space by file name."""
    return Path(arg) if _is_path(arg) else _named(arg, SPACES_DIR, "design space")


def find_optim_file(arg: str, base_dir: Path) -> Path:
    """An optimizer YAML: a path (relative to the space file's folder) or a shipped name."""
    if _is_path(arg):
        path = Path(arg)
        return path if path.is_absolute() or path.exists() else base_dir / path
    return _named(arg, OPTIM_DIR, "optimizer space")


def list_spaces() -> list[tuple[str, str, str]]:
    """(name, family, description) of every shipped space, by name."""
    out = []
    for path in _shipped(SPACES_DIR):
        data = read_yaml(path)
        lines = str(data.get("description", "")).strip().splitlines() or [""]
        out.append((path.stem, str(data.get("family", "?")), lines[0]))
    return out
