"""Optimizer, learning-rate schedule and weight EMA, configured by `OptimConfig`."""

import copy
import math

import torch
from torch import nn

from pycls_like.engine.config import OptimConfig


def peak_lr(cfg: OptimConfig, batch_size: int) -> float:
    """Linear scaling rule (Goyal et al. 2017): lr grows with the batch from `ref_batch_size`."""
    return cfg.lr * batch_size / cfg.ref_batch_size


def lr_at(cfg: OptimConfig, epoch: float, batch_size: int) -> float:
    """Half-period cosine from the peak to `min_lr * peak`, times a linear warmup (pycls `lr_fun_cos`).

    `epoch` is fractional (step / steps per epoch), so the schedule is smooth across steps.
    """
    cosine = 0.5 * (1.0 + math.cos(math.pi * epoch / cfg.epochs))
    factor = (1.0 - cfg.min_lr) * cosine + cfg.min_lr
    if epoch < cfg.warmup_epochs:
        alpha = epoch / cfg.warmup_epochs
        factor *= cfg.warmup_factor * (1.0 - alpha) + alpha
    return peak_lr(cfg, batch_size) * factor


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD or AdamW; with `wd_exempt_bn_bias`, 1-d parameters (norm scales/shifts, biases) get no decay."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if cfg.wd_exempt_bn_bias and p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.wd}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    # The lr is set every step by the training loop; this initial value is overwritten.
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0
        )
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


class EMA:
    """Exponential moving average of a model's weights and float buffers (BN statistics).

    Averaging buffers too keeps the EMA model's BN statistics consistent with its weights.
    The update is one fused multi-tensor lerp (a few kernel launches on GPU, no Python loop).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False)
        ema = [*self.model.parameters(), *self.model.buffers()]
        live = [*model.parameters(), *model.buffers()]
        pairs = list(zip(ema, live, strict=True))
        self.ema_floats = [e for e, _ in pairs if e.is_floating_point()]
        self.live_floats = [m for e, m in pairs if e.is_floating_point()]
        self.counters = [(e, m) for e, m in pairs if not e.is_floating_point()]  # copied as is

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.ema_floats, self.live_floats, 1.0 - self.decay)
        for e, m in self.counters:
            e.copy_(m)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
