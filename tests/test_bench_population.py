"""tools/bench_population.py: its parsing and sweep configs (fast), and a smoke run on CPU."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pycls_like.sweep.config import sweep_from_dict

TOOL = Path(__file__).resolve().parent.parent / "tools" / "bench_population.py"
spec = importlib.util.spec_from_file_location("bench_population", TOOL)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_nvidia_smi_samples_give_mean_utilization_and_peak_memory():
    text = "0, 80, 1000\n0, 100, 3000\n1, 60, 2000\nnot a row\n"
    assert bench.gpu_figures(text) == {"gpu_util_pct": 80.0, "gpu_mem_mib": 3000.0}
    assert bench.gpu_figures("") == {"gpu_util_pct": None, "gpu_mem_mib": None}


@pytest.mark.parametrize("size", sorted(bench.SIZES))
def test_every_population_is_a_valid_sweep(size, tmp_path):
    for pop in bench.SIZES[size]:
        config = sweep_from_dict(bench.sweep_mapping(pop, tmp_path / pop.name, "cpu"))
        assert config.n == pop.n and config.launcher.runs_per_gpu is None


@pytest.mark.slow
@pytest.mark.exhaustive
@pytest.mark.timeout(900)  # three ways, seven processes: minutes on a loaded 2-core machine
def test_smoke_run_on_cpu(tmp_path: Path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(TOOL), "--size", "smoke", "--device", "cpu", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "results.json").read_text())
    assert [r["way"] for r in rows] == ["pycls", "default", "bare"]
    assert all(r["models"] == r["of"] == 3 and r["models_per_hour"] > 0 for r in rows), rows
    assert "x1.00" in proc.stdout
