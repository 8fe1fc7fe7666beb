"""`pycls-like profile`: measured time and memory, profile.json per run dir (resumable, claims,
one setting per directory), the table columns, and the CUDA path (skipped without a GPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from pycls_like.engine.profile import (
    LiveTensorBytes,
    ProfileSettings,
    expected_setting,
    profile_model,
    setting_of,
    timing_stats,
)
from pycls_like.errors import ConfigError
from pycls_like.rundir import CLAIM_FILE, PROFILE_FILE
from pycls_like.specs import AnyNetSpec
from pycls_like.sweep.claims import HOST, Claim, release, try_claim
from pycls_like.sweep.collect import collect
from pycls_like.sweep.profile_runs import profile_runs, spec_runs

ROOT = Path(__file__).resolve().parents[1]
FAST = ProfileSettings(batch_size=2, warmup=0, repeats=3, threads=1)
FAST_ARGS = ("--batch-size", "2", "--warmup", "0", "--repeats", "3", "--threads", "1")


def tiny(w: int = 8, d: int = 1, resolution: int = 16) -> AnyNetSpec:
    return AnyNetSpec(
        ds=(d, d),
        ws=(w, 2 * w),
        ss=(1, 2),
        bs=(1.0, 1.0),
        gs=(8, 8),
        stem_type="res_stem_cifar",
        stem_w=8,
        resolution=resolution,
        num_classes=10,
    )


@pytest.fixture
def spec_files(tmp_path):
    """Five tiny specs of growing width and depth, as YAML files (CLI SPECs)."""
    paths = []
    for i, (w, d) in enumerate(((8, 1), (16, 1), (16, 2), (24, 2), (32, 3))):
        path = tmp_path / f"m{i}.yaml"
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(tiny(w, d)).items()}
        path.write_text(yaml.safe_dump({"family": "anynet", **data}))
        paths.append(str(path))
    return paths


def test_timing_stats_are_median_quartiles_and_extremes():
    stats = timing_stats([0.004, 0.001, 0.002, 0.003, 0.005])
    assert stats["median"] == pytest.approx(3.0)
    assert (stats["q1"], stats["q3"]) == (pytest.approx(2.0), pytest.approx(4.0))
    assert (stats["min"], stats["max"]) == (pytest.approx(1.0), pytest.approx(5.0))
    assert len(stats["samples"]) == 5


def test_live_tensor_bytes_counts_the_peak_of_live_storages():
    mode = LiveTensorBytes()
    with mode:
        a = torch.empty(1000)  # 4000 bytes
        b = torch.empty(2000)  # 8000: 12000 live
        view = a[:10]  # a view allocates nothing
        del a, view
        c = torch.empty(500)  # a freed: 8000 + 2000 live
        b.add_(1)  # in place: nothing new
    assert mode.peak == 12000
    assert mode.live == 10000
    del b, c


def test_profile_record_on_cpu():
    record = profile_model(tiny(), FAST)
    assert setting_of(record) == expected_setting(FAST)
    assert record["device"] == "cpu" and record["threads"] == 1 and record["repeats"] == 3
    assert record["torch"] == torch.__version__
    for key in ("fwd_ms", "train_ms", "fwd_cpu_ms", "train_cpu_ms"):
        s = record[key]
        assert 0 < s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"]
        assert len(s["samples"]) == 3
    weights_mb = record["params"] * 4 / 2**20
    # Training holds weights, gradients and momentum at least; inference at least the weights.
    assert record["train_mem_mb"] > 3 * weights_mb
    assert record["train_mem_mb"] > record["fwd_mem_mb"] > weights_mb
    assert record["memory_method"] == "cpu live tensor bytes"


def test_bigger_models_take_more_memory():
    small, big = (profile_model(tiny(w, d), FAST) for w, d in ((8, 1), (32, 3)))
    assert big["train_mem_mb"] > small["train_mem_mb"]
    assert big["fwd_mem_mb"] > small["fwd_mem_mb"]


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"device": "tpu"}, "--device"),
        ({"dtype": "int8"}, "--dtype"),
        ({"batch_size": 0}, "--batch-size"),
        ({"repeats": 2}, "--repeats"),
    ],
)
def test_bad_settings_name_the_option(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        ProfileSettings(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(cli, spec_files):
    code, out, err = cli("profile", spec_files[0], "--device", "cuda", *FAST_ARGS)
    assert code == 2 and "cuda" in err and len(err.strip().splitlines()) == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_profile_on_cuda_bf16():
    settings = ProfileSettings(device="cuda", dtype="bf16", batch_size=4, warmup=1, repeats=3)
    record = profile_model(tiny(), settings)
    assert record["device"] == "cuda" and record["dtype"] == "bf16"
    assert record["memory_method"] == "cuda max_memory_allocated"
    assert "train_cpu_ms" not in record
    assert record["train_mem_mb"] > record["params"] * 4 / 2**20


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_population_is_fitted_as_one_setting(cli, spec_files, tmp_path):
    """tools/gpu_check.sh's path at a small scale: `profile SPEC... --out --device cuda --dtype
    bf16 --resolution`, the table, the fits and R^2(acts) - R^2(flops)."""
    from pycls_like.analysis.runtime import r2_differences, wall_over_cpu

    out = tmp_path / "prof"
    args = ("--device", "cuda", "--dtype", "bf16", "--resolution", "32", "--batch-size", "8")
    code, stdout, err = cli("profile", *spec_files, "--out", str(out), *args, "--repeats", "3")
    assert code == 0, err
    assert "what predicts runtime: cuda" in stdout and "bf16 batch 8" in stdout
    assert "wall/CPU" not in stdout  # the host's CPU time says nothing of the GPU's work
    table = pd.read_csv(out / "results.csv")
    assert (table["profile_device"] == "cuda").all() and table["train_cpu_ms"].isna().all()
    assert table["train_ms"].gt(0).all() and table["train_mem_mb"].gt(0).all()
    diffs = r2_differences(table, n_boot=50)
    assert set(diffs["figure"]) == {"fwd_ms", "train_ms", "fwd_mem_mb", "train_mem_mb"}
    assert wall_over_cpu(table).empty
    code, _, err = cli("profile", str(out), "--device", "cpu", *FAST_ARGS)
    assert code == 2 and "--redo" in err  # a CPU pass never joins the GPU table


def test_gpu_records_collect_and_fit_without_cpu_time(tmp_path):
    """The table side of the CUDA path, runnable anywhere: profile.json records shaped as
    `profile_model` writes them on CUDA (no host CPU time) give empty CPU-time cells, fits of the
    wall time and memory, and no wall/CPU line."""
    from pycls_like.engine.profile_commands import _fit_summary

    out = tmp_path / "prof"
    spec_runs(out, [(f"m{i}", tiny(8 * (1 + i % 3), 1 + i // 3)) for i in range(5)])
    profile_runs(out, FAST, say=lambda line: None)
    for path in out.glob(f"runs/*/{PROFILE_FILE}"):
        record = json.loads(path.read_text())
        del record["fwd_cpu_ms"], record["train_cpu_ms"]
        gpu = {"device": "cuda", "device_name": "NVIDIA H200", "dtype": "bf16", "batch_size": 256}
        path.write_text(json.dumps(record | gpu | {"memory_method": "cuda max_memory_allocated"}))
    table = collect(out)
    assert table["fwd_ms"].gt(0).all() and table["train_cpu_ms"].isna().all()
    summary = _fit_summary(table)
    assert "what predicts runtime: cuda (NVIDIA H200) bf16 batch 256" in summary
    assert "train_ms" in summary and "train_mem_mb" in summary and "train_cpu_ms" not in summary
    assert "timing noise, train_ms" in summary and "wall/CPU" not in summary


def test_cli_prints_a_table_of_specs(cli, spec_files):
    code, out, err = cli("profile", *spec_files[:2], *FAST_ARGS)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("profile: cpu") and "median [IQR]" in lines[0]
    assert [line.split()[0][-7:] for line in lines[2:]] == ["m0.yaml", "m1.yaml"]


def test_cli_reads_jsonl_populations_and_applies_resolution(cli, tmp_path):
    path = tmp_path / "pop.jsonl"
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(tiny()).items()}
    path.write_text(json.dumps({"spec": {"family": "anynet", **data}}) + "\n")
    code, out, err = cli("profile", str(path), "--resolution", "24", "--json", *FAST_ARGS)
    assert code == 0, err
    record = json.loads(out)
    assert record["name"] == "pop.jsonl:1" and record["resolution"] == 24


def test_bad_jsonl_line_is_a_one_line_error(cli, tmp_path):
    path = tmp_path / "pop.jsonl"
    path.write_text("{not json\n")
    code, out, err = cli("profile", str(path), *FAST_ARGS)
    assert code == 2 and f"{path}:1" in err


def test_out_dir_is_resumable_and_collected(cli, spec_files, tmp_path):
    out = tmp_path / "prof"
    code, stdout, err = cli("profile", *spec_files, "--out", str(out), *FAST_ARGS)
    assert code == 0, err
    assert "5 measured, 0 already profiled" in err
    assert "what predicts runtime: cpu" in stdout and "timing noise, train_ms" in stdout
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 5 and table["fwd_ms"].gt(0).all() and table["train_mem_mb"].gt(0).all()
    assert (table["profile_device"] == "cpu").all() and (table["profile_threads"] == 1).all()
    assert list(table["name"]) == spec_files
    mtimes = [p.stat().st_mtime_ns for p in sorted(out.glob(f"runs/*/{PROFILE_FILE}"))]
    code, _, err = cli("profile", *spec_files, "--out", str(out), *FAST_ARGS)
    assert code == 0 and "0 measured, 5 already profiled" in err
    assert mtimes == [p.stat().st_mtime_ns for p in sorted(out.glob(f"runs/*/{PROFILE_FILE}"))]


def test_out_dir_refuses_another_population(cli, spec_files, tmp_path):
    out = tmp_path / "prof"
    assert cli("profile", spec_files[0], "--out", str(out), *FAST_ARGS)[0] == 0
    code, _, err = cli("profile", spec_files[1], "--out", str(out), *FAST_ARGS)
    assert code == 2 and "another model" in err


@pytest.fixture
def profiled(tmp_path):
    """A profiling directory of three tiny models, measured once."""
    out = tmp_path / "prof"
    spec_runs(out, [(f"m{i}", tiny(8 * (i + 1))) for i in range(3)])
    report = profile_runs(out, FAST, say=lambda line: None)
    assert len(report.measured) == 3
    return out


@pytest.mark.parametrize(
    "damage",
    [
        b"\xff\xfe\x00\x9cgarbage\x00",
        b'{"device": "cpu", "fwd_ms": {"medi',
        b"",
        b"[1, 2]",
        b'{"fwd_ms": {"median": "fast"}, "train_ms": {"median": 1.0}}',
    ],
    ids=["garbage-bytes", "cut-short", "empty", "not-an-object", "median-not-a-number"],
)
def test_corrupt_profile_is_measured_again(profiled, damage):
    bad = profiled / "runs" / "0001" / PROFILE_FILE
    bad.write_bytes(damage)
    said = []
    report = profile_runs(profiled, FAST, say=said.append)
    assert report.measured == ["0001"] and report.kept == ["0000", "0002"]
    assert any("0001" in line and "corrupt" in line for line in said)
    assert json.loads(bad.read_text())["fwd_ms"]["median"] > 0


def test_a_directory_in_place_of_profile_json_is_reported_not_removed(profiled):
    (profiled / "runs" / "0001" / PROFILE_FILE).unlink()
    (profiled / "runs" / "0001" / PROFILE_FILE).mkdir()
    said = []
    report = profile_runs(profiled, FAST, say=said.append)
    assert report.unusable == ["0001"] and not report.measured
    assert any("0001" in line and "not a file" in line for line in said)
    assert (profiled / "runs" / "0001" / PROFILE_FILE).is_dir()


def test_interrupted_profile_resumes(profiled):
    """A profiler killed mid-run leaves a claim with a dead pid and no profile.json (writes are
    atomic): the next call breaks the claim and measures the run."""
    run = profiled / "runs" / "0002"
    (run / PROFILE_FILE).unlink()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Claim(host=HOST, pid=dead.pid, start=0.0, token="x", launch="profile")
    (run / CLAIM_FILE).write_text(stale.to_json())
    (run / f".{PROFILE_FILE}.tmp123").write_text("{half")
    report = profile_runs(profiled, FAST, say=lambda line: None)
    assert report.measured == ["0002"]
    assert not (run / CLAIM_FILE).exists()
    assert collect(profiled, write=False)["fwd_ms"].notna().all()


def test_a_claimed_run_is_left_alone(profiled, cli):
    run = profiled / "runs" / "0000"
    (run / PROFILE_FILE).unlink()
    claim = try_claim(run, launch="train")  # a live trainer (this process) holds it
    try:
        report = profile_runs(profiled, FAST, say=lambda line: None)
        assert report.claimed == ["0000"] and not (run / PROFILE_FILE).exists()
        code, _, err = cli("profile", str(profiled), *FAST_ARGS)
        assert code == 1 and "held by another process (0000)" in err
    finally:
        release(run, claim)


@pytest.mark.parametrize(
    "changed",
    [
        {"device": "cuda", "device_name": "NVIDIA H200"},
        {"device_name": "another CPU"},
        {"dtype": "bf16"},
        {"batch_size": 256},
        {"threads": 2},
    ],
    ids=["device", "device-name", "dtype", "batch", "threads"],
)
def test_another_setting_is_refused_unless_redo(profiled, cli, changed):
    """A profile.json measured under another setting (another machine's, or a hand-copied one):
    the directory is not extended under this one unless --redo replaces it."""
    path = profiled / "runs" / "0001" / PROFILE_FILE
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, **changed}))
    code, _, err = cli("profile", str(profiled), *FAST_ARGS)
    assert code == 2 and "run 0001" in err and "--redo" in err
    assert len(err.strip().splitlines()) == 1
    assert json.loads(path.read_text()) == {**record, **changed}  # nothing replaced
    code, _, err = cli("profile", str(profiled), "--redo", *FAST_ARGS)
    assert code == 0 and "1 measured, 2 already profiled" in err
    assert setting_of(json.loads(path.read_text())) == expected_setting(FAST)


@pytest.mark.parametrize("option", [("--dtype", "bf16"), ("--batch-size", "4"), ("--threads", "2")])
def test_profiling_a_directory_under_other_options_is_refused(profiled, cli, option):
    """The options that make a setting: one directory (one table) never holds two of them."""
    args = dict(zip(FAST_ARGS[::2], FAST_ARGS[1::2], strict=True)) | dict([option])
    before = {p: p.read_bytes() for p in profiled.glob(f"runs/*/{PROFILE_FILE}")}
    code, _, err = cli("profile", str(profiled), *(x for kv in args.items() for x in kv))
    assert code == 2 and "--redo" in err
    assert before == {p: p.read_bytes() for p in profiled.glob(f"runs/*/{PROFILE_FILE}")}


@pytest.mark.slow
def test_killed_profiler_resumes(spec_files, tmp_path):
    """SIGKILL `pycls-like profile --out` while it measures its second model: the rerun keeps the
    first model's profile, breaks the dead process's claim, measures the rest, and the table
    holds every model under one setting."""
    import signal
    import time

    out = tmp_path / "prof"
    slow = ("--batch-size", "2", "--warmup", "0", "--repeats", "200", "--threads", "1")
    cmd = [sys.executable, "-m", "pycls_like", "profile", *spec_files, "--out", str(out), *slow]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = out / "runs" / "0001"
    deadline = time.monotonic() + 120
    while not (second / CLAIM_FILE).exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the profiler never reached the second model"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the profiler finished before it was killed"
    assert (out / "runs" / "0000" / PROFILE_FILE).is_file()
    assert (second / CLAIM_FILE).is_file() and not (second / PROFILE_FILE).exists()
    first_mtime = (out / "runs" / "0000" / PROFILE_FILE).stat().st_mtime_ns
    report = profile_runs(out, FAST, say=lambda line: None)  # same setting, fewer repeats
    assert report.kept == ["0000"] and report.measured == ["0001", "0002", "0003", "0004"]
    assert (out / "runs" / "0000" / PROFILE_FILE).stat().st_mtime_ns == first_mtime
    assert not list(out.glob(f"runs/*/{CLAIM_FILE}"))
    table = collect(out, write=False)
    assert table["fwd_ms"].notna().all()
    assert len(table.drop_duplicates(["profile_device", "profile_dtype", "profile_threads"])) == 1


def test_sweep_dir_refuses_spec_options(profiled, cli):
    code, _, err = cli("profile", str(profiled), "--resolution", "32", *FAST_ARGS)
    assert code == 2 and "--resolution" in err


def test_unprofiled_sweeps_keep_their_columns(tmp_path):
    out = tmp_path / "prof"
    spec_runs(out, [("m0", tiny())])
    assert "fwd_ms" not in collect(out, write=False).columns


def test_gpu_check_script_is_valid_bash():
    script = ROOT / "tools" / "gpu_check.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert "profile" in script.read_text()


def test_scale_growth_reports_measured_runtime_growth(cli, spec_files):
    code, out, err = cli(
        "scale", spec_files[1], "--growth", "--strategy", "d,w", "--factors", "1,2,4",
        "--profile", "--batch-size", "2", "--repeats", "3", "--threads", "1", "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["strategy"] for r in rows] == ["d", "w"]
    for r in rows:  # fitted exponents of measured time next to the analytic ones
        assert {"acts_e", "fwd_ms_e", "fwd_ms_r2", "train_ms_e", "train_ms_r2"} <= set(r)
        assert 0 <= r["train_ms_r2"] <= 1
    # 4x the depth: several times the layers, so the training step clearly takes longer.
    assert rows[0]["train_ms_e"] > 0.2
    code, _, err = cli("scale", spec_files[1], "--strategy", "w", "--factor", "2", "--profile")
    assert code == 2 and "--growth" in err


@pytest.mark.slow
def test_runtime_notebook_runs(tmp_path, monkeypatch):
    """notebooks/runtime_predictors.ipynb end to end on six tiny profiled models."""
    import nbclient
    import nbformat

    out = tmp_path / "prof"
    spec_runs(out, [(f"m{i}", tiny(8 * (1 + i % 3), 1 + i // 3)) for i in range(6)])
    profile_runs(out, FAST, say=lambda line: None)
    monkeypatch.setenv("PYCLS_LIKE_PROFILE", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebooks = ROOT / "notebooks"
    nb = nbformat.read(notebooks / "runtime_predictors.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(notebooks)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "what predicts runtime: cpu" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2


def test_command_sweep_and_fit_modules_do_not_import_torch():
    """`pycls-like profile --help` starts fast; sweeps and analysis read profiles without torch."""
    code = (
        "import sys, pycls_like.engine.profile_commands, pycls_like.sweep.profile_runs, "
        "pycls_like.analysis.runtime, pycls_like.sweep.collect; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
