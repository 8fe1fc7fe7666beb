"""Learning-rate schedule, optimizer parameter groups and weight EMA."""

import pytest
import torch
from torch import nn

from pycls_like.engine.config import OptimConfig
from pycls_like.engine.optim import EMA, build_optimizer, lr_at, peak_lr


def test_cosine_with_warmup_and_batch_scaling():
    cfg = OptimConfig(lr=0.1, ref_batch_size=128, epochs=10, warmup_epochs=2, warmup_factor=0.1)
    assert peak_lr(cfg, 256) == pytest.approx(0.2)
    assert lr_at(cfg, 0.0, 128) == pytest.approx(0.01)  # warmup starts at factor * lr
    assert lr_at(cfg, 1.0, 128) == pytest.approx(0.1 * 0.55 * (0.5 + 0.5 * 0.951056516), rel=1e-6)
    assert lr_at(cfg, 5.0, 128) == pytest.approx(0.05)  # half-way through the cosine
    assert lr_at(cfg, 10.0, 128) == pytest.approx(0.0, abs=1e-12)
    floor = OptimConfig(lr=0.1, epochs=10, min_lr=0.1)
    assert lr_at(floor, 10.0, 128) == pytest.approx(0.01)
    lrs = [lr_at(cfg, e / 10, 128) for e in range(20, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))  # monotone after warmup


def test_weight_decay_exemption_and_optimizers():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Linear(4, 2))
    opt = build_optimizer(model, OptimConfig(wd=1e-4, wd_exempt_bn_bias=True))
    decay, no_decay = opt.param_groups
    assert [p.ndim for p in decay["params"]] == [4, 2] and decay["weight_decay"] == 1e-4
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0
    assert opt.defaults["nesterov"] and isinstance(opt, torch.optim.SGD)
    assert len(build_optimizer(model, OptimConfig()).param_groups) == 1
    adamw = build_optimizer(model, OptimConfig(optimizer="adamw", betas=(0.8, 0.9)))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["betas"] == (0.8, 0.9)


def test_ema_averages_weights_and_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.9)
    before = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(10.0)
        model[1].num_batches_tracked.fill_(7)
    ema.update()
    assert torch.allclose(ema.model[0].weight, before + 0.1)
    assert torch.allclose(ema.model[1].running_mean, torch.ones(2))
    assert ema.model[1].num_batches_tracked.item() == 7  # integer buffers are copied
    assert not any(p.requires_grad for p in ema.model.parameters())
    restored = EMA(model, decay=0.9)
    restored.load_state_dict(ema.state_dict())
    assert torch.equal(restored.model[0].weight, ema.model[0].weight)
