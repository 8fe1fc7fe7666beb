"""Bad input, table-driven, over every command: each case ends with exactly one `error:` line on
stderr (warnings about the same input may precede it), exit code 2, no traceback, within 30 s and
bounded memory; nothing is written where an output path was refused.

The bulk runs in-process through the CLI's `main` (peak RSS growth checked); a sample runs as
subprocesses under an address-space limit (`resource.setrlimit`), the way a user meets them.
"""

import contextlib
import io
import random
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pycls_like.cli import COMMANDS, main
from pycls_like.limits import BOUNDS

TIME_LIMIT_S = 30.0
RSS_GROWTH_LIMIT_MB = 1024  # in-process: peak resident memory may not grow more than this
SUBPROCESS_AS_LIMIT = 6 * 2**30  # address space of a subprocess case (torch maps ~2-3 GiB)

SPEC = {"family": "regnet", "d": 13, "w0": 24, "wa": 36.44, "wm": 2.49, "g": 8, "resolution": 224}
SWEEP = {
    "name": "bad",
    "space": "regnetx",
    "n": 2,
    "base": {"data": {"dataset": "synthetic"}, "optim": {"epochs": 1}, "device": "cpu"},
}
# Numbers a user may type by mistake (YAML as `--set KEY=VALUE` reads it).
BAD_NUMBERS = (".inf", "-.inf", ".nan", "1e300", "100000000", "-1", "abc", "[1, 2]", "{a: 1}", "")
SPEC_KEYS = ("d", "w0", "wa", "wm", "g", "resolution", "num_classes", "stem_w", "b", "se_ratio")
SWEEP_KEYS = (
    "n", "launcher.runs_per_gpu", "launcher.workers", "launcher.threads_per_worker", "launcher.retries",
    "launcher.max_concurrent", "launcher.slurm.time", "launcher.slurm.mem_gb",
)  # fmt: skip
TRAIN_KEYS = (
    "optim.lr", "optim.epochs", "optim.wd", "train.batch_size", "data.n_train", "threads",
    "optim.warmup_epochs", "model.d",
)  # fmt: skip


def _files(root: Path) -> dict[str, Path]:
    """Damaged and odd input files, shared by every case."""
    rng = random.Random(0)
    files = {
        "bad_utf8": b"family: regnet\nd: \xff\xfe\xfa\n",
        "random": rng.randbytes(4096),
        "empty": b"",
        "list": b"- a\n- b\n",
        "scalar": b"42\n",
        "nested": b"[" * 50_000,
        "syntax": b"family: [regnet\n",
        "tabs": b"family:\tregnet\n\td: 1\n",
        "huge_d": yaml.safe_dump({**SPEC, "d": 100_000_000}).encode(),
        "nan_res": yaml.safe_dump({**SPEC, "resolution": float("nan")}).encode(),
        "inf_wa": yaml.safe_dump({**SPEC, "wa": float("inf")}).encode(),
        "text_d": yaml.safe_dump({**SPEC, "d": "thirteen"}).encode(),
        "unknown_key": yaml.safe_dump({**SPEC, "depth_typo": 3}).encode(),
        "unknown_family": yaml.safe_dump({**SPEC, "family": "transformerx"}).encode(),
        "csv_random": rng.randbytes(2048),
        "csv_empty": b"",
        "csv_no_error": b"id,status,flops\n0000,complete,1\n",
        "existing_file": b"I am a file\n",
    }
    paths = {}
    for name, data in files.items():
        suffix = (
            ".csv" if name.startswith("csv") else (".txt" if name == "existing_file" else ".yaml")
        )
        path = root / f"{name}{suffix}"
        path.write_bytes(data)
        paths[name] = path
    (root / "a_dir.yaml").mkdir()
    paths["a_dir"] = root / "a_dir.yaml"
    paths["missing"] = root / "missing.yaml"
    sweep_bad = {
        "sweep_huge_n": {**SWEEP, "n": 1_000_000_000},
        "sweep_inf_n": {**SWEEP, "n": float("inf")},
        "sweep_zero_n": {**SWEEP, "n": 0},
        "sweep_no_space": {k: v for k, v in SWEEP.items() if k != "space"},
        "sweep_bad_name": {**SWEEP, "name": "../escape"},
        "sweep_bad_launcher": {**SWEEP, "launcher": {"type": "kubernetes"}},
        "sweep_slurm": {**SWEEP, "launcher": {"type": "slurm"}},
        "sweep_ray_unreachable": {
            **SWEEP,
            "launcher": {"type": "ray", "ray": {"address": "127.0.0.1:9"}},
        },
        "sweep_cuda": {**SWEEP, "base": {**SWEEP["base"], "device": "cuda"}},
        "sweep_space_missing": {**SWEEP, "space": str(root / "nowhere.yaml")},
        "sweep_out_file": {**SWEEP, "out": str(paths["existing_file"])},
    }
    for name, data in sweep_bad.items():
        data = {**data, "out": data.get("out", str(root / "sweeps"))}
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        paths[name] = path
    return paths


def cases() -> list[tuple[str, ...]]:
    """Every bad input: a command line with {NAME} for the files above (>= 300 in all)."""
    out: list[tuple[str, ...]] = []
    damaged = ("bad_utf8", "random", "empty", "list", "scalar", "nested", "syntax", "tabs",
               "huge_d", "nan_res", "inf_wa", "text_d", "unknown_key", "unknown_family",
               "a_dir", "missing")  # fmt: skip
    # complexity: damaged spec files, bad overrides of every numeric key, usage errors.
    out += [("complexity", f"{{{name}}}") for name in damaged]
    out += [
        ("complexity", "RegNetX-200MF", "--set", f"{k}={v}") for k in SPEC_KEYS for v in BAD_NUMBERS
    ]
    out += [
        ("complexity",), ("complexity", "NoSuchModel"), ("complexity", "--bogus", "RegNetX-200MF"),
        ("complexity", "RegNetX-200MF", "--set", "noequals"), ("complexity", "RegNetX-200MF", "--set", "=3"),
        ("complexity", "RegNetX-200MF", "--set", "a..b=3"), ("complexity", "RegNetX-200MF", "REGNET.DEPTH"),
        ("complexity", "/dev/zero"),
    ]  # fmt: skip
    # presets / spaces: usage errors.
    out += [
        ("presets", "extra"),
        ("presets", "--bogus"),
        ("spaces", "extra"),
        ("spaces", "--bogus"),
    ]
    # sample: counts, bands, spaces.
    out += [
        ("sample", "regnetx", "-n", n) for n in ("0", "-1", "1e9", "abc", "100000000", "", "nan")
    ]
    out += [("sample", "regnetx")]
    out += [("sample", "regnetx", "-n", "2", opt, v)
            for opt in ("--seed", "--start", "--stratify", "--max-candidates")
            for v in ("-1", "abc", "1e400", "99999999999999999999999")]  # fmt: skip
    out += [
        ("sample", "regnetx", "-n", "2", "--flops", v)
        for v in ("abc", "5:1", "1:2:3", "-1:5", "nan:inf")
    ]
    out += [("sample", f"{{{name}}}", "-n", "2") for name in damaged]
    out += [("sample", "regnetx", "-n", "2", "-o", "{a_dir}"), ("sample", "nospace", "-n", "2")]
    out += [("sample", "regnetx", "-n", "2", "--set", f"params.{k}={v}")
            for k in ("resolution", "num_classes") for v in (".inf", ".nan", "1e300", "abc")]  # fmt: skip
    # train: configs, overrides, output dir, devices (CUDA only where there is none).
    out += [("train", f"{{{name}}}", "--out", "{tmp}/train_out") for name in damaged]
    out += [("train", "{spec_run}", "--out", "{tmp}/train_out", "--set", f"{k}={v}")
            for k in TRAIN_KEYS for v in (".inf", ".nan", "1e300", "-1", "abc")]  # fmt: skip
    out += [
        ("train", "{spec_run}", "--out", "{existing_file}"), ("train", "{spec_run}"),
        ("train", "{spec_run}", "--out", "{tmp}/o", "--threads", "100000"),
        ("train", "{spec_run}", "--out", "{tmp}/o", "--threads", "x"),
        ("train", "{spec_run}", "--out", "{tmp}/o", "--device", "tpu"),
    ]  # fmt: skip
    # sweep: damaged sweep files, bad keys, bad launchers and paths, usage.
    out += [("sweep", "setup", f"{{{name}}}") for name in damaged]
    out += [
        ("sweep", "setup", "{sweep_ok}", "--set", f"{k}={v}")
        for k in SWEEP_KEYS
        for v in BAD_NUMBERS[:7]
    ]
    out += [("sweep", action, "{sweep_never}") for action in ("status", "collect", "launch")]
    # a sweep whose `runs` is a file: one line naming it, never "0 runs"
    out += [
        ("sweep", *a, "{sweep_runs_file}") for a in (("status",), ("collect",), ("launch",), ())
    ]
    out += [("sweep", action, "{sweep_runs_file_dir}") for action in ("status", "collect")]
    out += [("sweep", f"{{{name}}}") for name in (
        "sweep_huge_n", "sweep_inf_n", "sweep_zero_n", "sweep_no_space", "sweep_bad_name",
        "sweep_bad_launcher", "sweep_slurm", "sweep_ray_unreachable", "sweep_space_missing",
        "sweep_out_file")]  # fmt: skip
    out += [
        ("sweep",),
        ("sweep", "launch"),
        ("sweep", "frobnicate", "{sweep_ok}"),
        ("sweep", "--bogus", "x"),
    ]
    # analyze: sources, bootstrap draws and bins, output paths.
    out += [
        ("analyze", f"{{{name}}}")
        for name in ("csv_random", "csv_empty", "csv_no_error", "missing", "a_dir")
    ]
    out += [("analyze", "{csv_ok}", opt, v) for opt in ("--boot", "--bins", "--permutations")
            for v in ("-1", "abc", "1e9", "1000000000", "99999999999999999999999")]  # fmt: skip
    out += [
        ("analyze", "{csv_ok}", "--seed", v)
        for v in ("-1", "abc", "1e9", "99999999999999999999999")
    ]
    out += [("analyze", "{csv_ok}", "-o", "{a_dir}"), ("analyze", "{csv_ok}", "--json", "{a_dir}"),
            ("analyze", "{csv_ok}", "-o", "{existing_file}/report.html"), ("analyze",)]  # fmt: skip
    # fit-regnet: widths and specs.
    out += [("fit-regnet", "--widths", w) for w in (
        "", "a,b", "0", "-8", "8,nan", "8,inf", "1e308", "8.5", ",,,", "8;16", "1e400")]  # fmt: skip
    out += [("fit-regnet", f"{{{name}}}") for name in damaged]
    out += [("fit-regnet",), ("fit-regnet", "RegNetX-200MF", "--widths", "8")]
    # scale: factors, strategies, outputs.
    out += [("scale", "RegNetX-200MF", "--strategy", "dwr", "--factor", f) for f in (
        "inf", "nan", "-1", "0", "1e300", "abc", "-inf")]  # fmt: skip
    out += [("scale", "RegNetX-200MF", "--strategy", "nope", "--factor", "2"),
            ("scale", "RegNetX-200MF"), ("scale", f"{{{'bad_utf8'}}}", "--strategy", "dwr", "--factor", "2"),
            ("scale", "RegNetX-200MF", "--strategy", "dwr", "--factor", "2", "-o", "{a_dir}")]  # fmt: skip
    # demo: settings that must fail before any training.
    out += [("demo", "--workers", w, "--out", "{tmp}/demo") for w in ("0", "-1", "100000", "x")]
    out += [("demo", "--seed", "-1", "--out", "{tmp}/demo"), ("demo", "--out", "{existing_file}"),
            ("demo", "--spaces", "regnetx", "--out", "{tmp}/demo"), ("demo", "--device", "tpu")]  # fmt: skip
    # profile: damaged specs, out-of-bound settings, devices and output dirs.
    out += [("profile", f"{{{name}}}") for name in damaged]
    out += [("profile", "RegNetX-200MF", opt, v)
            for opt in ("--batch-size", "--resolution", "--warmup", "--repeats", "--threads")
            for v in ("-1", "abc", "1e9", "10000000000", "99999999999999999999999")]  # fmt: skip
    out += [("profile", "RegNetX-200MF", "--device", "tpu"), ("profile", "RegNetX-200MF", "--dtype", "fp8"),
            ("profile",), ("profile", "RegNetX-200MF", "--out", "{existing_file}")]  # fmt: skip
    # the dispatcher itself.
    out += [(), ("frobnicate",), ("--bogus",)]
    return out


CASES = cases()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad_inputs")
    paths = {k: str(v) for k, v in _files(root).items()}
    (root / "spec_run.yaml").write_text(yaml.safe_dump({
        "model": "RegNetX-200MF", "data": {"dataset": "synthetic"}, "optim": {"epochs": 1},
        "device": "cpu"}))  # fmt: skip
    (root / "sweep_ok.yaml").write_text(yaml.safe_dump({**SWEEP, "out": str(root / "sweeps")}))
    never = {**SWEEP, "name": "never_set_up", "out": str(root / "sweeps")}
    (root / "sweep_never.yaml").write_text(yaml.safe_dump(never))
    runs_file = {**SWEEP, "name": "runs_file", "out": str(root / "sweeps")}
    (root / "sweep_runs_file.yaml").write_text(yaml.safe_dump(runs_file))
    runs_file_dir = root / "sweeps" / "runs_file"
    runs_file_dir.mkdir(parents=True)
    (runs_file_dir / "sweep.yaml").write_text(yaml.safe_dump(runs_file))
    (runs_file_dir / "runs").write_text("a file where the run dirs should be\n")
    (root / "ok.csv").write_text(
        "id,status,flops,top1_err\n0000,complete,1,50\n0001,complete,2,40\n"
    )
    return {
        **paths,
        "tmp": str(root),
        "spec_run": str(root / "spec_run.yaml"),
        "sweep_ok": str(root / "sweep_ok.yaml"),
        "sweep_never": str(root / "sweep_never.yaml"),
        "sweep_runs_file": str(root / "sweep_runs_file.yaml"),
        "sweep_runs_file_dir": str(runs_file_dir),
        "csv_ok": str(root / "ok.csv"),
    }


def _expand(args: tuple[str, ...], inputs: dict[str, str]) -> list[str]:
    """`{name}` -> the input file's path (other braces, as in `{a: 1}`, stay)."""
    return [re.sub(r"\{(\w+)\}", lambda m: inputs.get(m[1], m[0]), a) for a in args]


@contextlib.contextmanager
def _deadline(seconds: float):
    """Fail (instead of hanging the suite) if a case starts real work."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check(code: int, out: str, err: str, elapsed: float, args: list[str]) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert code == 2, (args, code, err[-2000:])
    assert len(errors) == 1 and errors[-1] == lines[-1], (args, err[-2000:])
    assert all("warning:" in line for line in lines[:-1]), (args, err[-2000:])
    assert "Traceback" not in err + out, (args, err[-2000:])
    assert elapsed < TIME_LIMIT_S, (args, elapsed)


def test_there_are_at_least_300_cases_over_every_command() -> None:
    assert len(CASES) >= 300, len(CASES)
    assert {c[0] for c in CASES if c} >= set(COMMANDS)


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:80] or "(none)")
def test_bad_input_is_one_line_and_exit_2(
    args: tuple[str, ...], inputs: dict[str, str], monkeypatch
) -> None:
    if "cuda" in args and _cuda():
        pytest.skip("a GPU is present: cuda is not a bad input here")
    monkeypatch.chdir(inputs["tmp"])  # default outputs (report.html) never land in the tree
    argv = _expand(args, inputs)
    out, err = io.StringIO(), io.StringIO()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with _deadline(TIME_LIMIT_S), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    elapsed = time.perf_counter() - start
    _check(code, out.getvalue(), err.getvalue(), elapsed, argv)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mb < RSS_GROWTH_LIMIT_MB, (argv, growth_mb)
    assert not Path(inputs["tmp"], "train_out", "result.json").exists(), "trained on bad input"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_AS_LIMIT, SUBPROCESS_AS_LIMIT))


# One case per command (the first), plus the ones that grew memory or hung before the fix.
SUBPROCESS_CASES = [
    *{c[0]: c for c in reversed(CASES) if c}.values(),
    ("complexity", "{huge_d}"),
    ("complexity", "/dev/zero"),
    ("sample", "regnetx", "-n", "100000000"),
    ("analyze", "{csv_ok}", "--boot", "1000000000"),
    ("sweep", "setup", "{sweep_ok}", "--set", "n=1000000000"),
    ("sweep", "{sweep_ray_unreachable}"),
]


@pytest.mark.slow
@pytest.mark.exhaustive
@pytest.mark.parametrize("args", SUBPROCESS_CASES, ids=lambda a: " ".join(a)[:60])
def test_bad_input_as_a_subprocess_under_a_memory_limit(args, inputs) -> None:
    if "cuda" in args and _cuda():
        pytest.skip("a GPU is present")
    argv = _expand(args, inputs)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pycls_like.cli", *argv],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S * 2,
        preexec_fn=_limit_memory,
        cwd=inputs["tmp"],
    )
    _check(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start, argv)


def test_bounds_are_listed_in_the_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for key, bound in BOUNDS.items():
        assert f"`{key}`" in readme and f"{bound:,}" in readme, key
