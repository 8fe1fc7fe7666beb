"""The structural plan: one expansion of a spec that both the counter and the module builder read.

`make_plan(spec)` turns any spec into layer-level facts (channel widths, strides, groups, SE widths)
so `complexity()` and `build_model()` cannot drift apart. Pure functions, no torch.
"""

from dataclasses import dataclass, replace
from functools import lru_cache

from pycls_like.errors import ConfigError
from pycls_like.regnet import (
    adjust_block_compatibility,
    regnet_block_widths,
    stages_from_block_widths,
)
from pycls_like.specs import (
    RESNET_IN_DEPTHS,
    AnyNetSpec,
    EffNetSpec,
    ModelSpec,
    RegNetSpec,
    ResNetSpec,
    ViTSpec,
)


@dataclass(frozen=True)
class StemPlan:
    """CNN stem: `kind` is an AnyNet stem name or `effnet_stem` (conv3x3 s2 + BN + SiLU)."""

    kind: str
    w_in: int
    w_out: int


@dataclass(frozen=True)
class BlockPlan:
    """One residual/plain/MBConv block; `w_b` is the bottleneck (or MBConv expanded) width."""

    kind: str  # vanilla_block | res_basic_block | res_bottleneck_block | mbconv
    w_in: int
    w_out: int
    stride: int
    w_b: int = 0
    groups: int = 1
    w_se: int = 0  # 0 = no SE
    kernel: int = 3
    stride_1x1: bool = False  # legacy pycls bottleneck_transform option

    @property
    def has_proj(self) -> bool:
        """Residual blocks project the skip when the shape changes (pycls ResBlock)."""
        residual = self.kind in ("res_basic_block", "res_bottleneck_block")
        return residual and (self.w_in != self.w_out or self.stride != 1)

    @property
    def has_skip(self) -> bool:
        """MBConv adds its input only when the shape is unchanged."""
        return self.kind == "mbconv" and self.stride == 1 and self.w_in == self.w_out


@dataclass(frozen=True)
class HeadPlan:
    """Optional conv1x1 to `head_w` (+BN+act), global average pool, optional dropout, linear."""

    w_in: int
    head_w: int
    num_classes: int
    dropout: float = 0.0


@dataclass(frozen=True)
class CNNPlan:
    stem: StemPlan
    stages: tuple[tuple[BlockPlan, ...], ...]
    head: HeadPlan
    activation: str  # relu | silu
    resolution: int
    drop_connect: float = 0.0


@dataclass(frozen=True)
class ViTPlan:
    resolution: int
    patch_size: int
    stem_ws: tuple[int, ...]  # conv3x3 widths of a conv stem; empty = patchify stem
    stem_ss: tuple[int, ...]
    d: int
    depth: int
    heads: int
    mlp_d: int
    num_classes: int
    class_token: bool

    @property
    def seq_len(self) -> int:
        """Tokens: one per patch, plus the class token."""
        return (self.resolution // self.patch_size) ** 2 + int(self.class_token)


@dataclass(frozen=True)
class StageSummary:
    """What `pycls-like complexity` prints per stage; bot_mul/group_width None for plain blocks."""

    depth: int
    width: int
    stride: int
    bot_mul: float | None
    group_width: int | None


def regnet_to_anynet(spec: RegNetSpec) -> AnyNetSpec:
    """Expand RegNet parameters into AnyNet stages (widths made compatible with b and g)."""
    ws, ds = stages_from_block_widths(regnet_block_widths(spec.d, spec.w0, spec.wa, spec.wm))
    n = len(ws)
    return AnyNetSpec(
        ds=tuple(ds),
        ws=tuple(ws),
        ss=(spec.stride,) * n,
        bs=(spec.b,) * n,
        gs=(spec.g,) * n,
        stem_type=spec.stem_type,
        stem_w=spec.stem_w,
        block_type=spec.block_type,
        se_ratio=spec.se_ratio,
        head_w=spec.head_w,
        resolution=spec.resolution,
        num_classes=spec.num_classes,
    )


def adjust_anynet(spec: AnyNetSpec) -> AnyNetSpec:
    """Apply the width/bottleneck/group compatibility rule (CONVENTIONS.md) to bottleneck stages."""
    if spec.block_type != "res_bottleneck_block":
        return spec
    ws, bs, gs = adjust_block_compatibility(list(spec.ws), list(spec.bs), list(spec.gs))
    return replace(spec, ws=tuple(ws), bs=tuple(bs), gs=tuple(gs))


def _check_groups(stage: int, w: int, b: float, g: int) -> None:
    """round(w*b) must be a positive multiple of g or the grouped 3x3 cannot exist (pycls asserts it).

    The compatibility rule makes it hold for whole b and for b = 0.25, 0.5 (exact in binary); other
    fractional b (1.5, 0.76) can miss once `int(v/b)` truncates.
    """
    w_b = round(w * b)
    if w_b < g or w_b % g:
        raise ConfigError(
            f"stage {stage}: bottleneck width round({w}*{b:g}) = {w_b} is not a multiple of group "
            f"width {g} even after the compatibility rule; use multipliers such as 0.25, 0.5, 1, 2, 4",
            key="bs",
        )


def _anynet_plan(spec: AnyNetSpec) -> CNNPlan:
    spec = adjust_anynet(spec)
    stem = StemPlan(spec.stem_type, 3, spec.stem_w)
    stages, w_in = [], spec.stem_w
    bottleneck = spec.block_type == "res_bottleneck_block"
    for i, (d, w, s) in enumerate(zip(spec.ds, spec.ws, spec.ss, strict=True)):
        if bottleneck:
            _check_groups(i + 1, w, spec.bs[i], spec.gs[i])
        blocks = []
        for j in range(d):
            if bottleneck:
                w_b = round(w * spec.bs[i])
                w_se = round(w_in * spec.se_ratio) if spec.se_ratio > 0 else 0
                block = BlockPlan(
                    spec.block_type, w_in, w, s if j == 0 else 1, w_b, w_b // spec.gs[i], w_se
                )
            else:
                block = BlockPlan(spec.block_type, w_in, w, s if j == 0 else 1)
            blocks.append(block)
            w_in = w
        stages.append(tuple(blocks))
    head = HeadPlan(w_in, spec.head_w, spec.num_classes)
    return CNNPlan(stem, tuple(stages), head, "relu", spec.resolution)


def _resnet_plan(spec: ResNetSpec) -> CNNPlan:
    if spec.cifar:
        n = (spec.depth - 2) // 6
        ds, ws, ss, stem_w, stem_kind = (n, n, n), (16, 32, 64), (1, 2, 2), 16, "res_stem_cifar"
    else:
        ds, ws, ss = RESNET_IN_DEPTHS[spec.depth], (256, 512, 1024, 2048), (1, 2, 2, 2)
        stem_w, stem_kind = 64, "res_stem_in"
    bottleneck = spec.trans_fun == "bottleneck_transform"
    kind = "res_bottleneck_block" if bottleneck else "res_basic_block"
    stages, w_in, w_b = [], stem_w, spec.width_per_group * spec.num_groups
    for d, w, s in zip(ds, ws, ss, strict=True):
        blocks = []
        for j in range(d):
            stride = s if j == 0 else 1
            if bottleneck:
                blocks.append(
                    BlockPlan(kind, w_in, w, stride, w_b, spec.num_groups, 0, 3, spec.stride_1x1)
                )
            else:
                blocks.append(BlockPlan(kind, w_in, w, stride))
            w_in = w
        stages.append(tuple(blocks))
        w_b *= 2
    head = HeadPlan(w_in, 0, spec.num_classes)
    return CNNPlan(StemPlan(stem_kind, 3, stem_w), tuple(stages), head, "relu", spec.resolution)


def _effnet_plan(spec: EffNetSpec) -> CNNPlan:
    stages, w_in = [], spec.stem_w
    for d, w, e, k, s in zip(spec.ds, spec.ws, spec.exp_rs, spec.ks, spec.ss, strict=True):
        blocks = []
        for j in range(d):
            w_exp = int(w_in * e)
            w_se = int(w_in * spec.se_ratio)
            blocks.append(BlockPlan("mbconv", w_in, w, s if j == 0 else 1, w_exp, w_exp, w_se, k))
            w_in = w
        stages.append(tuple(blocks))
    head = HeadPlan(w_in, spec.head_w, spec.num_classes, spec.dropout)
    stem = StemPlan("effnet_stem", 3, spec.stem_w)
    return CNNPlan(stem, tuple(stages), head, "silu", spec.resolution, spec.drop_connect)


def _vit_plan(spec: ViTSpec) -> ViTPlan:
    return ViTPlan(
        spec.resolution,
        spec.patch_size,
        spec.stem_ws,
        spec.stem_ss,
        spec.d,
        spec.depth,
        spec.heads,
        spec.mlp_d,
        spec.num_classes,
        spec.class_token,
    )


@lru_cache(maxsize=4096)
def make_plan(spec: ModelSpec) -> CNNPlan | ViTPlan:
    """Expand a spec into its structural plan (cached: specs are hashable)."""
    if isinstance(spec, RegNetSpec):
        return _anynet_plan(regnet_to_anynet(spec))
    if isinstance(spec, AnyNetSpec):
        return _anynet_plan(spec)
    if isinstance(spec, ResNetSpec):
        return _resnet_plan(spec)
    if isinstance(spec, EffNetSpec):
        return _effnet_plan(spec)
    return _vit_plan(spec)


def stage_summaries(spec: ModelSpec) -> list[StageSummary]:
    """Per-stage depth/width/stride/bottleneck/group width as built (empty for ViT)."""
    plan = make_plan(spec)
    if isinstance(plan, ViTPlan):
        return []
    out = []
    for blocks in plan.stages:
        first = blocks[0]
        if first.kind == "res_bottleneck_block":
            bot_mul, group_width = first.w_b / first.w_out, first.w_b // first.groups
        elif first.kind == "mbconv":
            bot_mul, group_width = first.w_b / first.w_in, 1
        else:
            bot_mul, group_width = None, None
        out.append(StageSummary(len(blocks), first.w_out, first.stride, bot_mul, group_width))
    return out


def block_widths(spec: ModelSpec) -> list[int]:
    """Per-block output widths (the sequence a quantized-linear fit reads); empty for ViT."""
    plan = make_plan(spec)
    if isinstance(plan, ViTPlan):
        return []
    return [block.w_out for blocks in plan.stages for block in blocks]
