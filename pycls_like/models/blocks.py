"""CNN layer helpers and one module per plan item kind (stems, blocks, head), pycls style.

Every module is built from a `StemPlan` / `BlockPlan` / `HeadPlan` and realizes exactly the layers
`pycls_like.complexity` counts for it (CONVENTIONS.md), so measured and analytic counts agree.
Final BNs of residual branches carry `final_bn = True` so `init_cnn_weights` can zero their gamma.
"""

import math

import torch
from torch import nn

from pycls_like.plan import BlockPlan, HeadPlan, StemPlan

# (kernel, stride) of the conv per stem kind (CONVENTIONS.md, "stems"); res_stem_in adds a max pool.
_STEM_CONV = {
    "res_stem_cifar": (3, 1),
    "res_stem_in": (7, 2),
    "simple_stem_in": (3, 2),
    "effnet_stem": (3, 2),
}


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


class Stem(nn.Module):
    """conv (+BN+act) of the plan's stem kind; res_stem_in adds a 3x3 stride-2 max pool."""

    def __init__(self, plan: StemPlan, act: str):
        super().__init__()
        if plan.kind not in _STEM_CONV:
            raise ValueError(f"unknown stem kind {plan.kind!r}; expected one of {list(_STEM_CONV)}")
        k, stride = _STEM_CONV[plan.kind]
        self.conv = conv2d(plan.w_in, plan.w_out, k, stride=stride)
        self.bn = norm2d(plan.w_out)
        self.af = activation(act)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if plan.kind == "res_stem_in" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.af(self.bn(self.conv(x)))  # (n, 3, h, w) -> (n, w_s, h', w')
        return self.pool(x) if self.pool is not None else x


class VanillaBlock(nn.Module):
    """conv3x3 (stride) BN act, conv3x3 BN act; no skip."""

    def __init__(self, b: BlockPlan, act: str):
        super().__init__()
        self.a = conv2d(b.w_in, b.w_out, 3, stride=b.stride)
        self.a_bn = norm2d(b.w_out)
        self.a_af = activation(act)
        self.b = conv2d(b.w_out, b.w_out, 3)
        self.b_bn = norm2d(b.w_out)
        self.b_af = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_af(self.a_bn(self.a(x)))  # (n, w_in, h, w) -> (n, w_out, h', w')
        return self.b_af(self.b_bn(self.b(x)))


class _Residual(nn.Module):
    """Skip of the residual blocks (subclasses add `branch`): 1x1 proj + BN if the shape changes."""

    def __init__(self, b: BlockPlan, act: str):
        super().__init__()
        self.proj = conv2d(b.w_in, b.w_out, 1, stride=b.stride) if b.has_proj else None
        self.proj_bn = norm2d(b.w_out) if b.has_proj else None
        self.af = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.proj_bn(self.proj(x)) if self.proj is not None else x
        return self.af(skip + self.branch(x))  # (n, w_in, h, w) -> (n, w_out, h', w')


class ResBasicBlock(_Residual):
    """Residual block with a conv3x3 (stride) BN act, conv3x3 BN branch."""

    def __init__(self, b: BlockPlan, act: str):
        super().__init__(b, act)
        self.a = conv2d(b.w_in, b.w_out, 3, stride=b.stride)
        self.a_bn = norm2d(b.w_out)
        self.a_af = activation(act)
        self.b = conv2d(b.w_out, b.w_out, 3)
        self.b_bn = final_norm2d(b.w_out)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_bn(self.b(self.a_af(self.a_bn(self.a(x)))))


class ResBottleneckBlock(_Residual):
    """X block (Y with SE): 1x1 reduce, grouped 3x3, optional SE, 1x1 expand; legacy stride_1x1."""

    def __init__(self, b: BlockPlan, act: str):
        super().__init__(b, act)
        s1, s3 = (b.stride, 1) if b.stride_1x1 else (1, b.stride)
        self.a = conv2d(b.w_in, b.w_b, 1, stride=s1)
        self.a_bn = norm2d(b.w_b)
        self.a_af = activation(act)
        self.b = conv2d(b.w_b, b.w_b, 3, stride=s3, groups=b.groups)
        self.b_bn = norm2d(b.w_b)
        self.b_af = activation(act)
        self.se = SE(b.w_b, b.w_se, act) if b.w_se else None
        self.c = conv2d(b.w_b, b.w_out, 1)
        self.c_bn = final_norm2d(b.w_out)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_af(self.a_bn(self.a(x)))  # (n, w_in, h, w) -> (n, w_b, h, w)
        x = self.b_af(self.b_bn(self.b(x)))  # -> (n, w_b, h', w')
        if self.se is not None:
            x = self.se(x)
        return self.c_bn(self.c(x))  # -> (n, w_out, h', w')


class MBConv(nn.Module):
    """EfficientNet block: 1x1 expand (if e != 1), depthwise kxk, SE, 1x1 project, skip if same shape."""

    def __init__(self, b: BlockPlan, act: str, drop_connect_ratio: float = 0.0):
        super().__init__()
        self.exp = conv2d(b.w_in, b.w_b, 1) if b.w_b != b.w_in else None
        self.exp_bn = norm2d(b.w_b) if self.exp is not None else None
        self.exp_af = activation(act) if self.exp is not None else None
        self.dwise = conv2d(b.w_b, b.w_b, b.kernel, stride=b.stride, groups=b.w_b)
        self.dwise_bn = norm2d(b.w_b)
        self.dwise_af = activation(act)
        self.se = SE(b.w_b, b.w_se, act) if b.w_se else None
        self.lin_proj = conv2d(b.w_b, b.w_out, 1)
        # Zeroing gamma only makes sense where a skip keeps the signal alive.
        self.lin_proj_bn = final_norm2d(b.w_out) if b.has_skip else norm2d(b.w_out)
        self.has_skip = b.has_skip
        self.drop_connect_ratio = drop_connect_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x
        if self.exp is not None:
            f = self.exp_af(self.exp_bn(self.exp(x)))  # (n, w_in, h, w) -> (n, w_b, h, w)
        f = self.dwise_af(self.dwise_bn(self.dwise(f)))  # -> (n, w_b, h', w')
        if self.se is not None:
            f = self.se(f)
        f = self.lin_proj_bn(self.lin_proj(f))  # -> (n, w_out, h', w')
        if not self.has_skip:
            return f
        if self.training and self.drop_connect_ratio > 0:
            f = drop_connect(f, self.drop_connect_ratio)
        return x + f


def make_block(b: BlockPlan, act: str, drop_connect_ratio: float = 0.0) -> nn.Module:
    """The module for one `BlockPlan` (drop connect applies to MBConv skips only, as in pycls)."""
    if b.kind == "vanilla_block":
        return VanillaBlock(b, act)
    if b.kind == "res_basic_block":
        return ResBasicBlock(b, act)
    if b.kind == "res_bottleneck_block":
        return ResBottleneckBlock(b, act)
    if b.kind == "mbconv":
        return MBConv(b, act, drop_connect_ratio)
    raise ValueError(f"unknown block kind {b.kind!r}")


class Head(nn.Module):
    """Optional conv1x1 + BN + act to head_w, global average pool, dropout, linear with bias."""

    def __init__(self, plan: HeadPlan, act: str):
        super().__init__()
        w_in = plan.w_in
        self.conv = conv2d(w_in, plan.head_w, 1) if plan.head_w else None
        self.conv_bn = norm2d(plan.head_w) if plan.head_w else None
        self.conv_af = activation(act) if plan.head_w else None
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(plan.dropout) if plan.dropout > 0 else None
        self.fc = nn.Linear(plan.head_w or w_in, plan.num_classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv_af(self.conv_bn(self.conv(x)))  # (n, c, h, w) -> (n, head_w, h, w)
        x = self.avg_pool(x).flatten(1)  # -> (n, c); flatten, not view: channels_last safe
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)  # -> (n, num_classes)


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
