"""CNN layer helpers and the modules of stems, blocks and heads, built from `pycls_like.layers`.

`Builder` is the torch sink of the layer lists that `pycls_like.complexity` counts, so the built
modules are exactly what is counted (CONVENTIONS.md) and a new block kind needs no code here.
Final BNs of residual branches carry `final_bn = True` so `init_cnn_weights` can zero their gamma.
"""

import math
from typing import Any

import torch
from torch import nn

from pycls_like.layers import BLOCKS, STEMS, BlockArgs, head_layers


def conv2d(
    w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False
) -> nn.Conv2d:
    """k x k conv with padding k//2, so h' = (h - 1) // stride + 1 as the counter assumes."""
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


def norm2d(w: int, *, eps: float = 1e-5, momentum: float = 0.1) -> nn.BatchNorm2d:
    """Batch norm with the pycls defaults (eps 1e-5, momentum 0.1) passed explicitly."""
    return nn.BatchNorm2d(w, eps=eps, momentum=momentum)


def activation(name: str) -> nn.Module:
    """ReLU (AnyNet family, in place as in pycls) or SiLU (EfficientNet)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {name!r}; expected 'relu' or 'silu'")


def final_norm2d(w: int) -> nn.BatchNorm2d:
    """The last BN of a residual branch: tagged so its gamma can be zero-initialized."""
    bn = norm2d(w)
    bn.final_bn = True
    return bn


def drop_connect(x: torch.Tensor, drop_ratio: float) -> torch.Tensor:
    """Drop whole residual branches per sample, rescaling survivors (EfficientNet, pycls)."""
    keep = 1.0 - drop_ratio
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep


class SE(nn.Module):
    """Squeeze-excitation: pooled map -> 1x1 convs (counted at 1 x 1) -> sigmoid channel gates."""

    def __init__(self, w_in: int, w_se: int, act: str):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.f_ex = nn.Sequential(
            conv2d(w_in, w_se, 1, bias=True),
            activation(act),
            conv2d(w_se, w_in, 1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.f_ex(self.avg_pool(x))  # (n, c, h, w) * (n, c, 1, 1)


class Builder:
    """A layer sink (`layers.Sink`) that makes the modules, named as the layer list names them."""

    def __init__(self, act: str):
        self.act_name, self.modules = act, {}
        self.final: list[nn.BatchNorm2d] = []

    def conv(
        self, name: str, c_in: int, c_out: int, k: int, *, when: bool = True, **opts: Any
    ) -> None:
        if when:
            self.modules[name] = conv2d(c_in, c_out, k, **opts)

    def norm(self, name: str, c: int, *, final: bool = False, when: bool = True) -> None:
        if when:
            self.modules[name] = bn = norm2d(c)
            if final:
                self.final.append(bn)

    def act(self, name: str, *, when: bool = True) -> None:
        if when:
            self.modules[name] = activation(self.act_name)

    def se(self, name: str, c: int, c_se: int) -> None:
        if c_se:
            self.modules[name] = SE(c, c_se, self.act_name)

    def max_pool(self, name: str, c: int, *, k: int, stride: int) -> None:
        self.modules[name] = nn.MaxPool2d(k, stride=stride, padding=k // 2)

    def pool(self, name: str) -> None:
        self.modules[name] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))

    def dropout(self, name: str, p: float) -> None:
        if p > 0:
            self.modules[name] = nn.Dropout(p)

    def linear(self, name: str, c_in: int, c_out: int) -> None:
        self.modules[name] = nn.Linear(c_in, c_out, bias=True)


class Layers(nn.Module):
    """Modules applied in the order a layer list emitted them (a stem, a block branch, a head)."""

    def __init__(self, built: Builder):
        super().__init__()
        for name, module in built.modules.items():
            self.add_module(name, module)
        self.order = list(built.modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.order:
            x = getattr(self, name)(x)
        return x


class Stem(Layers):
    """conv (+BN+act) of the stem kind; res_stem_in adds a 3x3 stride-2 max pool."""

    def __init__(self, stem: str, w_out: int, act: str):
        built = Builder(act)
        STEMS[stem](built, 3, w_out)
        super().__init__(built)


class Block(nn.Module):
    """One block of any kind in `layers.BLOCKS`: its branch, its skip, its activation after the add.

    Branch modules keep the layer names (a, a_bn, ...) so checkpoints keep their keys. The final BN
    of the branch is tagged for zero-init only where a skip keeps the signal alive.
    """

    def __init__(self, kind: str, a: BlockArgs, act: str, drop_connect_ratio: float = 0.0):
        super().__init__()
        spec = BLOCKS[kind]
        has_proj, self.identity = bool(spec.has_proj(a)), bool(spec.has_identity(a))
        self.proj = conv2d(a.w_in, a.w_out, 1, stride=a.stride) if has_proj else None
        self.proj_bn = norm2d(a.w_out) if has_proj else None
        self.af = activation(act) if spec.post_act else None
        built = Builder(act)
        spec.layers(built, a)
        for name, module in built.modules.items():
            self.add_module(name, module)
        self.order = list(built.modules)
        for bn in built.final if has_proj or self.identity else ():
            bn.final_bn = True
        self.drop_connect_ratio = drop_connect_ratio if spec.drop_connect else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x
        for name in self.order:  # (n, w_in, h, w) -> (n, w_out, h', w')
            f = getattr(self, name)(f)
        if self.proj is not None:
            f = f + self.proj_bn(self.proj(x))
        elif self.identity:
            if self.training and self.drop_connect_ratio > 0:
                f = drop_connect(f, self.drop_connect_ratio)
            f = f + x
        return self.af(f) if self.af is not None else f


class Head(Layers):
    """Optional conv1x1 + BN + act to head_w, global average pool, dropout, linear with bias."""

    def __init__(self, w_in: int, head_w: int, num_classes: int, act: str, dropout: float = 0.0):
        built = Builder(act)
        head_layers(built, w_in, head_w, num_classes, dropout)
        super().__init__(built)


def init_cnn_weights(model: nn.Module, *, zero_init_final_gamma: bool = False) -> None:
    """pycls init: conv N(0, sqrt(2/fan_out)), BN gamma 1 (0 for tagged final BNs), linear N(0, 0.01)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            zero = zero_init_final_gamma and getattr(m, "final_bn", False)
            nn.init.constant_(m.weight, 0.0 if zero else 1.0)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            nn.init.zeros_(m.bias)
