"""train(): learning, bit-identical resume, divergence as a result, failures, the CLI entry."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from pycls_like.cli import main
from pycls_like.complexity import complexity
from pycls_like.engine import load_run_config, run_config_from_dict, train
from pycls_like.engine.trainer import evaluate, precise_bn_stats, train_epoch
from pycls_like.errors import ConfigError

TINY = {
    "family": "anynet",
    "ds": [1, 1, 1],
    "ws": [8, 16, 32],
    "ss": [1, 2, 2],
    "stem_type": "res_stem_cifar",
    "stem_w": 8,
    "block_type": "res_basic_block",
    "resolution": 16,
}


def tiny_config(**sections) -> dict:
    cfg = {
        "model": TINY,
        "data": {"n_train": 256, "n_test": 64},
        "optim": {"epochs": 2},
        "train": {"batch_size": 32},
        "device": "cpu",
        "threads": 1,
    }
    for key, value in sections.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) else value
    return cfg


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoint.pt", weights_only=True)["model"]


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_tiny_model_learns_the_synthetic_task(tmp_path: Path):
    cfg = run_config_from_dict(
        tiny_config(
            model={**TINY, "ws": [16, 32, 64], "stem_w": 16},
            data={"n_train": 2000, "n_test": 256},
            optim={"epochs": 3, "lr": 0.4, "warmup_epochs": 1},
        )
    )
    result = train(cfg, tmp_path)
    rows = _metrics(tmp_path)
    assert result["status"] == "complete" and result["epochs"] == 3 == len(rows)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 0.1
    assert result["top1_err"] < 85 and result["top5_err"] < 40  # chance: 90 and 50
    assert result["best_top1_err"] == min(r["top1_err"] for r in rows)
    expected = {"epoch", "train_loss", "train_top1_err", "train_top5_err", "test_loss", "top1_err",
                "top5_err", "lr", "epoch_time_s", "images_per_s", "peak_mem_mb"}  # fmt: skip
    assert expected <= set(rows[0])
    for key in ("flops", "params", "acts", "train_time_s", "images_per_s", "device"):
        assert key in result
    assert result["params"] == complexity(cfg.model).params > 0
    assert result["near_chance"] is False
    # The CPU defaults are recorded: bf16 autocast where the CPU has bf16 instructions.
    assert result["precision"] in ("bf16", "fp32") and result["threads"] == 1


def test_a_run_that_learns_nothing_is_flagged_near_chance(tmp_path: Path):
    """lr ~0: the weights barely move, so the error stays at guessing; the run is still complete."""
    result = train(run_config_from_dict(tiny_config(optim={"lr": 1e-9, "epochs": 1})), tmp_path)
    assert result["status"] == "complete" and result["top1_err"] > 70
    assert result["near_chance"] is (result["top1_err"] >= 88.0)
    from pycls_like.sweep.status import format_status, sweep_status

    runs = tmp_path / "sweep" / "runs" / "0000"
    runs.mkdir(parents=True)
    (runs / "config.yaml").write_text(yaml.safe_dump(tiny_config()))
    (runs / "result.json").write_text(json.dumps({**result, "near_chance": True}))
    status = sweep_status(tmp_path / "sweep")
    assert status.near_chance == ["0000"]
    assert "near chance (1 complete runs" in format_status(status)


def test_complexity_is_carried_not_recomputed(tmp_path: Path, monkeypatch):
    """The figures a sweep recorded for this model (or the caller's) go into the result as they
    are: the trainer does not count the model again."""
    from pycls_like.specs import spec_to_dict

    cfg = run_config_from_dict(tiny_config(data={"n_train": 64, "n_test": 32}, optim={"epochs": 1}))
    figures = complexity(cfg.model)
    monkeypatch.setattr("pycls_like.engine.trainer.complexity", None)  # a call would fail
    run = tmp_path / "swept"
    run.mkdir()
    sample = {"model": spec_to_dict(cfg.model), "complexity": figures.as_dict()}
    (run / "sample.json").write_text(json.dumps(sample))
    result = train(cfg, run)
    assert result["status"] == "complete" and result["flops"] == figures.flops
    given = train(cfg, tmp_path / "given", model_complexity=figures)
    assert given["status"] == "complete" and given["acts"] == figures.acts


def test_a_run_saved_before_the_vit_rename_is_the_same_run(tmp_path: Path):
    """A run dir whose config still says `d` for a ViT's hidden width resumes (issue 12)."""
    from pycls_like.engine.trainer import _check_same_run

    vit = {"family": "vit", "depth": 2, "heads": 2, "mlp_d": 64, "resolution": 32}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"model": {**vit, "d": 64}, "data": {"n_train": 64}}))
    cfg = load_run_config(path)
    assert cfg.model.hidden_d == 64
    saved = cfg.to_dict()
    saved["model"] = {**vit, "d": 64, "num_classes": 10}  # as result.json of then holds it
    _check_same_run(saved, cfg, tmp_path)  # the same run: no error
    saved["model"]["d"] = 128
    with pytest.raises(ConfigError, match="differs in model"):
        _check_same_run(saved, cfg, tmp_path)


def test_resume_is_bit_identical_and_finished_runs_are_not_retrained(tmp_path: Path):
    cfg = run_config_from_dict(tiny_config(optim={"epochs": 3, "ema": 0.9}))
    full = train(cfg, tmp_path / "full")
    part = train(cfg, tmp_path / "split", max_epochs=1)
    assert part == {"status": "incomplete", "epochs": 1}
    assert not (tmp_path / "split" / "result.json").exists()
    resumed = train(cfg, tmp_path / "split")
    for key in ("top1_err", "top5_err", "best_top1_err", "epochs"):
        assert resumed[key] == full[key]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = ("epoch_time_s", "train_time_s", "images_per_s", "peak_mem_mb")
    rows = [{k: v for k, v in r.items() if k not in strip} for r in _metrics(tmp_path / "full")]
    assert rows == [
        {k: v for k, v in r.items() if k not in strip} for r in _metrics(tmp_path / "split")
    ]
    # A finished run returns its result without training again.
    stamp = (tmp_path / "full" / "checkpoint.pt").stat().st_mtime_ns
    assert train(cfg, tmp_path / "full") == full
    assert (tmp_path / "full" / "checkpoint.pt").stat().st_mtime_ns == stamp
    # A different config in the same directory is refused.
    other = run_config_from_dict(tiny_config(optim={"epochs": 4}))
    with pytest.raises(ConfigError, match="different config .*optim"):
        train(other, tmp_path / "full")


def test_precise_bn_is_the_plain_average_of_batch_statistics():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5)
    )
    batches = [(torch.randn(8, 3, 6, 6) * (i + 1), torch.zeros(8)) for i in range(5)]
    conv = [model[0](x).detach() for x, _ in batches[:3]]
    mean = torch.stack([h.mean((0, 2, 3)) for h in conv]).mean(0)
    var = torch.stack([h.var((0, 2, 3), unbiased=True) for h in conv]).mean(0)
    rng = torch.get_rng_state()
    precise_bn_stats(model, iter(batches), 3)  # the first 3 batches only
    bn = model[1]
    torch.testing.assert_close(bn.running_mean, mean)
    torch.testing.assert_close(bn.running_var, var)
    assert bn.momentum == 0.1  # restored
    assert torch.equal(torch.get_rng_state(), rng)  # dropout drew from a fork


def test_precise_bn_changes_the_statistics_not_the_training(tmp_path: Path):
    plain = run_config_from_dict(tiny_config(optim={"epochs": 2}))
    precise = run_config_from_dict(
        tiny_config(optim={"epochs": 2}, train={"precise_bn_images": 96})
    )
    train(plain, tmp_path / "plain")
    full = train(precise, tmp_path / "precise")
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "precise")
    stats = [k for k in a if k.endswith(("running_mean", "running_var"))]
    assert stats and all(not torch.equal(a[k], b[k]) for k in stats)
    assert all(torch.equal(a[k], b[k]) for k in a if k not in stats and "num_batches" not in k)
    # and resumes bit-identically
    train(precise, tmp_path / "split", max_epochs=1)
    assert train(precise, tmp_path / "split")["top1_err"] == full["top1_err"]
    c = _weights(tmp_path / "split")
    assert all(torch.equal(b[k], c[k]) for k in b)


def test_adamw_label_smoothing_and_exemptions_run(tmp_path: Path):
    cfg = run_config_from_dict(
        tiny_config(
            optim={
                "optimizer": "adamw",
                "lr": 1e-3,
                "wd": 0.05,
                "wd_exempt_bn_bias": True,
                "epochs": 1,
            },
            train={"label_smoothing": 0.1, "zero_init_final_gamma": True},
        )
    )
    result = train(cfg, tmp_path)
    assert result["status"] == "complete" and 0 <= result["top1_err"] <= 100


def _write_config(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_cli_divergence_is_a_result_with_exit_0(tmp_path: Path, capsys):
    config = _write_config(tmp_path / "run.yaml", tiny_config(optim={"lr": 1e12, "epochs": 3}))
    out = tmp_path / "run"
    assert main(["train", config, "--out", str(out), "--threads", "1"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "diverged"
    assert result["top1_err"] == result["top5_err"] == result["best_top1_err"] == 100.0
    assert "diverged" in capsys.readouterr().out


def test_cli_failure_is_exit_1_with_traceback(tmp_path: Path, monkeypatch, capsys):
    import pycls_like.models

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pycls_like.models, "build_model", broken)
    config = _write_config(tmp_path / "run.yaml", tiny_config())
    out = tmp_path / "run"
    assert main(["train", config, "--out", str(out)]) == 1
    assert json.loads((out / "result.json").read_text())["status"] == "failed"
    assert "RuntimeError: boom" in (out / "error.txt").read_text()
    assert "run failed: RuntimeError: boom" in capsys.readouterr().err
    # Library callers get the exception.
    with pytest.raises(RuntimeError, match="boom"):
        train(load_run_config(config), out)


def test_cli_bad_data_path_is_exit_2_one_line(tmp_path: Path, capsys):
    config = _write_config(
        tmp_path / "run.yaml", tiny_config(data={"dataset": "cifar10", "path": "/no/cifar"})
    )
    assert main(["train", config, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert (
        "data.path: /no/cifar: expected CIFAR-10 python files data_batch_1..5 and test_batch" in err
    )


def test_inner_loop_runs_without_the_engine():
    """train_epoch/evaluate are usable on their own (the benchmark calls them)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]))] * 3
    totals, seen, diverged = train_epoch(model, opt, batches, [0.1] * 3)
    assert seen == 12 and not diverged and totals.shape == (3,)
    metrics = evaluate(model, batches)
    assert metrics["top5_err"] == 0.0 and 0 <= metrics["top1_err"] <= 100


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_channels_last(tmp_path: Path):
    cfg = run_config_from_dict(tiny_config(device="cuda", optim={"epochs": 1, "ema": 0.9}))
    result = train(cfg, tmp_path)
    assert result["status"] == "complete" and result["device"] == "cuda"
    assert result["precision"] == "bf16" and result["images_per_s"] > 0
