"""The package installs anywhere: design spaces as package data, a torch range, optional fvcore."""

import configparser
import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pycls_like.design.registry import OPTIM_DIR, SPACES_DIR, list_spaces

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pycls_like"


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_design_spaces_live_in_the_package_and_are_package_data():
    assert SPACES_DIR == PACKAGE / "design_spaces" and OPTIM_DIR == SPACES_DIR / "optim"
    assert len(list_spaces()) >= 10 and (SPACES_DIR / "README.md").is_file()
    globs = _lines(_setup_cfg()["options.package_data"]["pycls_like"])
    shipped = [p.relative_to(PACKAGE).as_posix() for p in SPACES_DIR.rglob("*") if p.is_file()]
    shipped = [p for p in shipped if "__pycache__" not in p]
    missing = [p for p in shipped if not any(fnmatch.fnmatch(p, g) for g in globs)]
    assert not missing, f"not package data: {missing}"
    assert "py.typed" in globs and (PACKAGE / "py.typed").is_file()


def test_requirements_keep_an_installed_torch_and_fvcore_is_an_extra():
    options = _setup_cfg()["options"]
    requires = _lines(options["install_requires"])
    torch_req = [r for r in requires if r.startswith("torch")]
    assert torch_req == ["torch>=2.11"]
    assert not any(r.startswith("fvcore") for r in requires)
    extras = _setup_cfg()["options.extras_require"]
    for extra in ("measure", "test"):
        assert any(r.startswith("fvcore") for r in _lines(extras[extra])), extra


def test_ci_installs_the_cpu_torch_before_the_package():
    lines = [x.strip() for x in (ROOT / ".ci" / "run").read_text().splitlines()]
    torch_at = lines.index("pip install -q torch==2.13.0")
    package_at = next(i for i, x in enumerate(lines) if x.startswith("pip install -q -e "))
    assert torch_at < package_at


def test_license_file():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert _setup_cfg()["metadata"]["license"] == "MIT"


@pytest.mark.slow
def test_the_wheel_ships_spaces_license_and_marker(tmp_path: Path):
    """Build from a copy of the tree (no build outputs in the working tree)."""
    pytest.importorskip("setuptools", minversion="70.1")  # builds wheels without `wheel`
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, src, ignore=ignore)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*cmd, str(src), "-w", str(tmp_path / "dist")], check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("pycls_like-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        p.relative_to(ROOT).as_posix()
        for p in SPACES_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected <= names
    assert "pycls_like/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
