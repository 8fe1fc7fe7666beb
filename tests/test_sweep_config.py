"""Sweep configs: validation errors (one line, exit 2), setup idempotence, pycls sweep files."""

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pycls_like.errors import ConfigError
from pycls_like.sweep.config import LauncherConfig, check_launcher_available, load_sweep_config
from pycls_like.sweep.pycls_sweep import sweep_from_pycls
from pycls_like.sweep.worker import worker_loop
from tests.test_sweep_e2e import tiny_sweep

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sweeps"


def _edit(path, **changes):
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 3}, "epochs: unknown key (known: name, space, n,"),
        ({"space": "no_such_space.yaml"}, "cannot read file"),
        ({"space": "no_such_space"}, "unknown design space 'no_such_space'"),
        ({"n": 0}, "n: must be >= 1, got 0"),
        ({"n": "many"}, "n: must be int, got 'many'"),
        ({"launcher": {"type": "kubernetes"}}, "launcher.type: unknown launcher 'kubernetes'"),
        ({"launcher": {"workerz": 2}}, "launcher.workerz: unknown key"),
        ({"base": {"optim": {"momentum": 2}}}, "base.optim.momentum: must be in [0, 1)"),
    ],
)
def test_bad_sweep_configs_are_one_line_errors(tmp_path, cli, changes, message):
    path = _edit(tiny_sweep(tmp_path), **changes)
    code, out, err = cli("sweep", str(path))
    assert code == 2 and out == ""
    assert err.startswith("pycls-like sweep: error: ") and err.count("\n") == 1, err
    assert message in err
    if "space" not in changes:
        assert str(path) in err  # names the file
    assert not (tmp_path / "sweeps").exists()  # nothing written


def test_missing_file_and_bad_action(tmp_path, cli):
    code, _, err = cli("sweep", str(tmp_path / "nope.yaml"))
    assert code == 2 and "cannot read file" in err
    code, _, err = cli("sweep", "launch", str(tmp_path))
    assert code == 2 and "not a sweep directory" in err
    code, _, err = cli("sweep", "frobnicate", "x.yaml")
    assert code == 2 and "expected [setup|launch|collect|status] SWEEP" in err


def test_missing_launcher_package_names_the_extra(monkeypatch, tmp_path, cli):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"launcher ray needs `pip install pycls_like\[ray\]`"):
        check_launcher_available(LauncherConfig(type="ray"))
    code, _, err = cli("sweep", str(tiny_sweep(tmp_path, type="ray")))
    assert code == 2 and err.endswith("launcher ray needs `pip install pycls_like[ray]`\n")
    assert not (tmp_path / "sweeps").exists()


def test_setup_refuses_a_changed_population(tmp_path, cli):
    path = tiny_sweep(tmp_path, n=2)
    assert cli("sweep", "setup", str(path))[0] == 0
    sweep = tmp_path / "sweeps" / "tiny"
    configs = {p: p.read_bytes() for p in sweep.glob("runs/*/config.yaml")}
    code, _, err = cli("sweep", "setup", str(path), "--set", "seed=1")
    assert code == 2 and "seed: differs from the sweep already in" in err
    code, _, err = cli("sweep", "setup", str(path), "--set", "space.params.stem_w=16")
    assert code == 2 and "space: differs" in err
    code, _, err = cli("sweep", "setup", str(path), "--set", "n=3")
    assert code == 0 and "set up 1 new runs (3 in all)" in err
    assert all(p.read_bytes() == text for p, text in configs.items())
    code, _, err = cli("sweep", "setup", str(sweep), "--set", "n=1")  # smaller n keeps the runs
    assert code == 0 and "3 runs already set up" in err
    assert load_sweep_config(sweep).sweep_dir == sweep


@pytest.mark.timeout(30)
def test_worker_without_work_exits(tmp_path):
    """driver_pid 0 is not our parent: the worker returns at once, touching nothing."""
    assert worker_loop(tmp_path, "L", retries=0, threads=1, driver_pid=0) is None
    assert not any(tmp_path.iterdir())


PYCLS_SWEEP = {
    "NAME": "cifar/regnet",
    "ROOT_DIR": "out",
    "DESC": "pycls example",
    "SETUP": {
        "NUM_CONFIGS": 3,
        "SEED": 2,
        "NUM_SAMPLES": 100000,
        "SAMPLERS": {
            "OPTIM.BASE_LR": {
                "TYPE": "float_sampler",
                "RAND_TYPE": "log_uniform",
                "RANGE": [0.25, 5.0],
                "QUANTIZE": 1.0e-10,
            },
            "OPTIM.WEIGHT_DECAY": {"TYPE": "value_sampler", "VALUES": [1.0e-4, 5.0e-4]},
            "REGNET": {"TYPE": "regnet_sampler", "DEPTH": [6, 16], "GROUP_W": [1, 32]},
        },
        "CONSTRAINTS": {
            "CX": {"FLOPS": [0, 0.2e9], "PARAMS": [0, 2.0e6]},
            "REGNET": {"NUM_STAGES": [2, 3]},
        },
        "BASE_CFG": {
            "MODEL": {"TYPE": "regnet", "NUM_CLASSES": 10},
            "REGNET": {"STEM_TYPE": "res_stem_cifar", "SE_ON": True, "STEM_W": 16},
            "OPTIM": {"BASE_LR": 1.0, "MAX_EPOCH": 1},
            "TRAIN": {"DATASET": "", "IM_SIZE": 16, "BATCH_SIZE": 64},
        },
    },
    "LAUNCH": {
        "PARTITION": "dev",
        "NUM_GPUS": 1,
        "PARALLEL_JOBS": 8,
        "TIME_LIMIT": 120,
        "GPU_TYPE": "volta",
    },
}


def test_pycls_sweep_maps_onto_a_native_sweep(tmp_path, cli):
    native = sweep_from_pycls(PYCLS_SWEEP, "p.yaml")
    assert (native["name"], native["out"], native["n"], native["seed"]) == (
        "cifar/regnet",
        "out",
        3,
        2,
    )
    params = native["space"]["params"]
    assert params["d"] == {"type": "int", "range": [6, 16], "q": 1}
    assert params["w0"] == {"type": "log_uniform", "range": [8, 256], "q": 8}
    assert params["g"] == {"type": "power2_or_log_uniform", "range": [1, 32], "q": 8}
    assert (params["b"], params["se_ratio"], params["stem_type"], params["resolution"]) == (
        1.0,
        0.25,
        "res_stem_cifar",
        16,
    )
    assert native["space"]["optim"]["wd"] == {"type": "choice", "values": [1.0e-4, 5.0e-4]}
    assert native["space"]["max_candidates"] == 100000
    assert native["constraints"] == {"flops": [0, 0.2e9], "params": [0, 2.0e6], "stages": [2, 3]}
    assert native["base"]["optim"]["epochs"] == 1 and "model" not in native["base"]
    assert native["launcher"] == {
        "max_concurrent": 8,
        "gpus_per_run": 1,
        "slurm": {"partition": "dev", "time": 120, "sbatch": {"constraint": "volta"}},
    }
    path = tmp_path / "pycls.yaml"
    path.write_text(yaml.safe_dump({**PYCLS_SWEEP, "ROOT_DIR": str(tmp_path / "out")}))
    code, _, err = cli("sweep", "setup", str(path))
    assert code == 0, err
    sample = yaml.safe_load((tmp_path / "out/cifar/regnet/runs/0002/sample.json").read_text())
    assert set(sample["params"]) == {"d", "w0", "wa", "wm", "g", "optim.lr", "optim.wd"}
    assert sample["complexity"]["flops"] <= 0.2e9


@pytest.mark.parametrize(
    ("sampler", "message"),
    [
        (
            {"OPTIM.BASE_LR": {"TYPE": "float_sampler", "RAND_TYPE": "normal", "RANGE": [0, 1]}},
            "RAND_TYPE 'normal' is not supported",
        ),
        ({"ANYNET.DEPTHS": {"TYPE": "list_sampler"}}, "not a sampled key"),
        (
            {"REGNET.DEPTH": {"TYPE": "int_sampler", "RANGE": [4, 8], "QUANTIZE": 0.5}},
            "QUANTIZE must be an integer",
        ),
        ({"MODEL.DEPTH": {"TYPE": "int_sampler", "RANGE": [4, 8]}}, "not a sampled key"),
        (
            {"REGNET.DEPTH": {"TYPE": "int_sampler", "RANGE": [4, 8], "FOO": 1}},
            "REGNET.DEPTH.FOO: unknown pycls sweep key",
        ),
    ],
)
def test_unsupported_pycls_samplers_are_config_errors(sampler, message):
    data = {**PYCLS_SWEEP, "SETUP": {**PYCLS_SWEEP["SETUP"], "SAMPLERS": sampler}}
    with pytest.raises(ConfigError, match=message) as caught:
        sweep_from_pycls(data, "p.yaml")
    assert caught.value.source == "p.yaml"


def test_unknown_pycls_keys_are_config_errors():
    with pytest.raises(ConfigError, match="SETUP.CONSTRAINTS.CX.MACS: unknown pycls sweep key"):
        setup = {**PYCLS_SWEEP["SETUP"], "CONSTRAINTS": {"CX": {"MACS": [0, 1]}}}
        sweep_from_pycls({**PYCLS_SWEEP, "SETUP": setup})
    with pytest.raises(ConfigError, match="LAUNCH.NODES: unknown pycls sweep key"):
        sweep_from_pycls({**PYCLS_SWEEP, "LAUNCH": {"NODES": 2}})


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_sweeps_set_up(example, tmp_path, cli):
    code, _, err = cli("sweep", "setup", str(example), "--set", f"out={tmp_path}", "--set", "n=2")
    assert code == 0, err
    assert len(list(tmp_path.glob("*/runs/*/config.yaml"))) == 2


def test_examples_are_shipped():
    """The parametrized test above must not pass by finding nothing."""
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} >= {
        "tiny_cpu",
        "cifar_regnetx",
        "regnetx_slurm",
    }


def test_class_count_is_the_datasets_before_constraints(tmp_path):
    """A sweep over regnetx.yaml (1000 classes in the space) on 10-class data: the band is checked
    on the 10-class model, and each run records the flops of the model it trains (issue 11.7).
    The SweepConfig is built directly in Python, as a YAML file would build it."""
    from pycls_like.complexity import complexity
    from pycls_like.engine.config import load_run_config
    from pycls_like.rundir import recorded_complexity
    from pycls_like.specs import spec_to_dict
    from pycls_like.sweep.config import SweepConfig
    from pycls_like.sweep.rundir import CONFIG_FILE, SAMPLE_FILE
    from pycls_like.sweep.setup import build_space, resolve_space, setup

    base = {"data": {"dataset": "synthetic", "n_train": 64, "n_test": 32}}
    config = SweepConfig(name="r", space="regnetx", n=4, out=str(tmp_path), base=base)
    checked = list(build_space(config, resolve_space(config)).sample(4, 0))
    assert [s.spec.num_classes for s in checked] == [10] * 4  # what the band was checked on
    setup(config)
    runs = sorted((tmp_path / "r" / "runs").iterdir())
    assert len(runs) == 4
    for run in runs:
        model = load_run_config(run / CONFIG_FILE).model
        recorded = json.loads((run / SAMPLE_FILE).read_text())["complexity"]
        assert model.num_classes == 10
        assert recorded == complexity(model).as_dict()
        assert 360e6 <= recorded["flops"] <= 400e6  # regnetx.yaml's band holds for this model
        # ... and the engine takes these figures for this model instead of recomputing them
        assert recorded_complexity(run, spec_to_dict(model)) == recorded
        assert recorded_complexity(run, spec_to_dict(replace(model, resolution=64))) is None


def test_flat_launcher_keys_still_load_into_their_sections(tmp_path, capsys):
    """Sweep files written before launchers had sections load the same, with a note."""
    from pycls_like.sweep.config import sweep_from_dict

    flat = {"type": "slurm", "partition": "dev", "time": 30, "address": "ray://h:1",
            "slurm": {"qos": "high"}}  # fmt: skip
    cfg = sweep_from_dict({"name": "s", "space": "regnetx", "n": 1, "launcher": flat}, "s.yaml")
    assert (cfg.launcher.slurm.partition, cfg.launcher.slurm.time) == ("dev", 30)
    assert cfg.launcher.slurm.sbatch == {"qos": "high"}
    assert cfg.launcher.ray.address == "ray://h:1"
    assert "s.yaml: launcher.partition is deprecated; use launcher.slurm.partition" in (
        capsys.readouterr().err
    )
    again = sweep_from_dict({"name": "s", "space": "regnetx", "n": 1, **cfg.to_dict()})
    assert again.launcher == cfg.launcher  # the nested form round-trips
