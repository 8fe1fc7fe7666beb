"""The notebooks in notebooks/ run end to end on a small real sweep pair, as a user would run them.

A session-scoped fixture trains two tiny populations with the library (a 3-stage AnyNet space and
a RegNet space: 16 px synthetic images, 1 epoch, 8 runs each, local launcher); every notebook is
then executed with nbclient (kernel `python3`, which ipykernel provides from this interpreter:
no kernelspec install step) with `PYCLS_LIKE_SWEEPS` pointing at the pair. Committed notebooks
carry no outputs, so their diffs stay readable.
"""

from pathlib import Path

import nbclient
import nbformat
import pytest

from pycls_like.sweep.collect import collect
from pycls_like.sweep.config import sweep_from_dict
from pycls_like.sweep.launch import launch
from pycls_like.sweep.setup import setup

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("compare_design_spaces", "fit_regnet_rules", "scaling_strategies")
OWN_FIXTURE = (
    "vit_stem_study",  # runs its own tiny study: tests/test_vit_stem_study.py
    "runtime_predictors",  # runs on a tiny profiled population: tests/test_profile.py
)
N_RUNS = 8

# Both spaces share stem, resolution and flop band, so the complexity-normalized EDFs overlap.
_COMMON = {"stem_type": "res_stem_cifar", "stem_w": 8, "resolution": 16, "num_classes": 10}
ANYNET = {
    "family": "anynet",
    "stages": 3,
    "params": {
        "ds": {"type": "int", "range": [1, 2], "order": "non_decreasing"},
        "ws": {"type": "log_uniform", "range": [8, 64], "q": 8, "order": "non_decreasing"},
        "bs": 1.0,
        "gs": {"type": "power2", "range": [1, 8], "shared": True},
        "ss": [1, 2, 2],
        "block_type": "res_bottleneck_block",
        **_COMMON,
    },
    "constraints": {"flops": "0.2M:2M"},
}
REGNET = {
    "family": "regnet",
    "params": {
        "d": {"type": "int", "range": [2, 6]},
        "w0": {"type": "log_uniform", "range": [8, 32], "q": 8},
        "wa": {"type": "log_uniform", "range": [4, 24], "q": 0.1},
        "wm": {"type": "log_uniform", "range": [1.5, 3.0], "q": 0.001},
        "g": {"type": "power2", "range": [1, 8]},
        "b": 1.0,
        **_COMMON,
    },
    "constraints": {"flops": "0.2M:2M", "stages": [2, 3]},
}


@pytest.fixture(scope="session")
def sweep_pair(tmp_path_factory) -> str:
    """Two collected sweep directories, comma-separated (the PYCLS_LIKE_SWEEPS format)."""
    out = tmp_path_factory.mktemp("notebook_sweeps")
    dirs = []
    for name, space in (("tiny_anynet", ANYNET), ("tiny_regnet", REGNET)):
        config = sweep_from_dict(
            {
                "name": name,
                "dir": str(out / name),
                "space": space,
                "n": N_RUNS,
                "seed": 0,
                "base": {
                    "data": {"dataset": "synthetic", "n_train": 256, "n_test": 128},
                    "optim": {"epochs": 1, "lr": 0.2},
                    "train": {"batch_size": 64, "test_batch_size": 128},
                    "device": "cpu",
                },
                "launcher": {
                    "type": "local",
                    "workers": 2,
                    "threads_per_worker": 1,
                    "gpus_per_run": 0,
                },
            },
            f"test_notebooks:{name}",
        )
        setup(config)
        summary = launch(config, quiet=True)
        assert summary.complete + summary.diverged == N_RUNS, summary
        collect(config.sweep_dir)
        dirs.append(str(config.sweep_dir))
    return ",".join(dirs)


def test_every_notebook_is_tested_and_committed_without_outputs():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES + OWN_FIXTURE)
    for name in NAMES + OWN_FIXTURE:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (name, cell.id)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, sweep_pair, monkeypatch):
    """Every cell executes without error (nbclient raises CellExecutionError) and figures render."""
    monkeypatch.setenv("PYCLS_LIKE_SWEEPS", sweep_pair)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("image/png" in out.get("data", {}) for out in outputs), "no figure was displayed"
