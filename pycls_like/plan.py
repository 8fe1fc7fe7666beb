"""The structural plan: one expansion of a spec that the counter, the builder and the scorer read.

`expand(spec)` (cached: `make_plan`) turns any spec into stages of one block kind each
(`StagePlan`); the layers of each kind are in `pycls_like.layers`, so `complexity()` and
`build_model()` cannot drift apart.
A stage is kept whole (not one record per block): its first block takes the stage's input width
and stride, the others repeat one shape, which is what lets the counter work stage by stage.
Pure functions, no torch.
"""

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple

from pycls_like.layers import BLOCKS, BlockArgs
from pycls_like.regnet import (
    adjust_block_compatibility,
    compatible_width,
    groups_error,
    regnet_block_widths,
    regnet_stages,
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
from pycls_like.stagecount import stage_rule


class StagePlan(NamedTuple):
    """`depth` blocks of kind `block`; `b` is the bottleneck multiplier (MBConv: expansion ratio),
    `g` the group width; both are read only by kinds that have them (`layers.BlockKind`).
    A tuple, not a dataclass: the counter builds a few per new config and speed matters."""

    block: str
    depth: int
    w_in: int
    w_out: int
    stride: int
    b: float = 1.0
    g: int = 1
    se_ratio: float = 0.0
    kernel: int = 3
    stride_1x1: bool = False  # legacy pycls bottleneck_transform option

    def block_args(self, first: bool) -> BlockArgs:
        """Widths of the first block (stage input, stride) or of any later one (stride 1)."""
        w_in, stride = (self.w_in, self.stride) if first else (self.w_out, 1)
        kind = BLOCKS[self.block]
        return kind.args(
            w_in, self.w_out, stride, self.b, self.g, self.se_ratio, self.kernel, self.stride_1x1
        )

    def blocks(self) -> list[BlockArgs]:
        return [self.block_args(j == 0) for j in range(self.depth)]


class CNNPlan(NamedTuple):
    """Stem kind and width, stages, head (optional conv1x1 to head_w, pool, dropout, linear)."""

    stem: str
    stem_w: int
    stages: tuple[StagePlan, ...]
    head_w: int
    num_classes: int
    activation: str  # relu | silu
    resolution: int
    dropout: float = 0.0
    drop_connect: float = 0.0

    @property
    def w_last(self) -> int:
        return self.stages[-1].w_out if self.stages else self.stem_w


class ViTPlan(NamedTuple):
    """A ViT's stem, encoder and head sizes (a tuple, like `CNNPlan`: one per new config)."""

    resolution: int
    patch_size: int
    stem_ws: tuple[int, ...]  # conv3x3 widths of a conv stem
    stem_ss: tuple[int, ...]
    stem_k: int  # a conv stem's last conv: kernel and stride (with bias, to hidden_d)
    stem_s: int
    conv_stem: bool
    hidden_d: int
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
    """What `pycls-like complexity` prints per stage. `b` (bottleneck multiplier) and `g` (group
    width) are named as in specs (stage i's entries of `bs` / `gs`); None for plain blocks."""

    depth: int
    width: int
    stride: int
    b: float | None
    g: int | None


def regnet_to_anynet(spec: RegNetSpec) -> AnyNetSpec:
    """Expand RegNet parameters into AnyNet stages.

    Widths go through the compatibility rule with b and g whatever the block (pycls applies it
    before it looks at the block type); a block without a bottleneck then drops b and g.
    """
    ws, ds = stages_from_block_widths(regnet_block_widths(spec.d, spec.w0, spec.wa, spec.wm))
    n = len(ws)
    bs, gs = (spec.b,) * n, (spec.g,) * n
    if not BLOCKS[spec.block_type].bottleneck:
        ws = adjust_block_compatibility(ws, list(bs), list(gs))[0]
        bs, gs = (), ()
    return AnyNetSpec(
        ds=tuple(ds),
        ws=tuple(ws),
        ss=(spec.stride,) * n,
        bs=bs,
        gs=gs,
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
    if not BLOCKS[spec.block_type].bottleneck:
        return spec
    ws, bs, gs = adjust_block_compatibility(list(spec.ws), list(spec.bs), list(spec.gs))
    return replace(spec, ws=tuple(ws), bs=tuple(bs), gs=tuple(gs))


def _stages_plan(spec: AnyNetSpec | RegNetSpec, ds, ws, ss, bs, gs, adjust: bool) -> CNNPlan:  # noqa: ANN001
    """Stages of one block kind from per-stage lists; `adjust` applies the compatibility rule
    (and, for bottleneck blocks, the group check) stage by stage (`stagecount.stage_rule`)."""
    kind = BLOCKS[spec.block_type]
    if adjust:
        se_r = spec.se_ratio if kind.se else 0.0
        make = stage_rule(kind.bottleneck)
        stages, bad = make(StagePlan, spec.block_type, spec.stem_w, ds, ws, ss, bs, gs, se_r)
        if bad >= 0:
            w, g = compatible_width(ws[bad], bs[bad], gs[bad])
            raise groups_error(bad + 1, w, bs[bad], g)
    else:  # blocks without a bottleneck: the widths as given
        w_ins = (spec.stem_w, *ws[:-1])
        stages = tuple(
            StagePlan(spec.block_type, *stage) for stage in zip(ds, w_ins, ws, ss, strict=True)
        )
    return CNNPlan(
        spec.stem_type,
        spec.stem_w,
        stages,
        spec.head_w,
        spec.num_classes,
        "relu",
        spec.resolution,
    )


def _anynet_plan(spec: AnyNetSpec) -> CNNPlan:
    adjust = BLOCKS[spec.block_type].bottleneck
    return _stages_plan(spec, spec.ds, spec.ws, spec.ss, spec.bs, spec.gs, adjust)


def _regnet_plan(spec: RegNetSpec) -> CNNPlan:
    """As `regnet_to_anynet` then `_anynet_plan`, without building the AnyNetSpec (speed)."""
    ws, ds = regnet_stages(spec.d, spec.w0, spec.wa, spec.wm)
    n = len(ws)
    return _stages_plan(spec, ds, ws, [spec.stride] * n, [spec.b] * n, [spec.g] * n, True)


def _resnet_plan(spec: ResNetSpec) -> CNNPlan:
    if spec.cifar:
        n = (spec.depth - 2) // 6
        ds, ws, ss, stem_w, stem = (n, n, n), (16, 32, 64), (1, 2, 2), 16, "res_stem_cifar"
    else:
        ds, ws, ss = RESNET_IN_DEPTHS[spec.depth], (256, 512, 1024, 2048), (1, 2, 2, 2)
        stem_w, stem = 64, "res_stem_in"
    bottleneck = spec.trans_fun == "bottleneck_transform"
    stages, w_in, w_b = [], stem_w, spec.width_per_group * spec.num_groups
    for d, w, s in zip(ds, ws, ss, strict=True):
        if bottleneck:  # b = w_b / w is exact (w is 2^k * 16), groups = w_b // g = num_groups
            g = w_b // spec.num_groups
            kind = "res_bottleneck_block"
            stages.append(StagePlan(kind, d, w_in, w, s, w_b / w, g, 0.0, 3, spec.stride_1x1))
        else:
            stages.append(StagePlan("res_basic_block", d, w_in, w, s))
        w_in, w_b = w, w_b * 2
    return CNNPlan(stem, stem_w, tuple(stages), 0, spec.num_classes, "relu", spec.resolution)


def _effnet_plan(spec: EffNetSpec) -> CNNPlan:
    stages, w_in = [], spec.stem_w
    for d, w, e, k, s in zip(spec.ds, spec.ws, spec.exp_rs, spec.ks, spec.ss, strict=True):
        stages.append(StagePlan("mbconv", d, w_in, w, s, e, 1, spec.se_ratio, k))
        w_in = w
    return CNNPlan(
        "effnet_stem",
        spec.stem_w,
        tuple(stages),
        spec.head_w,
        spec.num_classes,
        "silu",
        spec.resolution,
        spec.dropout,
        spec.drop_connect,
    )


def _vit_plan(spec: ViTSpec) -> ViTPlan:
    return ViTPlan(
        spec.resolution,
        spec.patch_size,
        spec.stem_ws,
        spec.stem_ss,
        spec.stem_k,
        spec.stem_s,
        spec.stem_type == "conv",
        spec.hidden_d,
        spec.depth,
        spec.heads,
        spec.mlp_d,
        spec.num_classes,
        spec.class_token,
    )


_PLANNERS = {
    RegNetSpec: _regnet_plan,
    AnyNetSpec: _anynet_plan,
    ResNetSpec: _resnet_plan,
    EffNetSpec: _effnet_plan,
    ViTSpec: _vit_plan,
}


def expand(spec: ModelSpec) -> CNNPlan | ViTPlan:
    """Expand a spec into its structural plan, afresh (what the counter pays for a new config)."""
    return _PLANNERS[type(spec)](spec)


@lru_cache(maxsize=4096)
def make_plan(spec: ModelSpec) -> CNNPlan | ViTPlan:
    """`expand`, cached (specs are hashable): the builder and the CLI ask for one plan often."""
    return expand(spec)


def stage_summaries(spec: ModelSpec) -> list[StageSummary]:
    """Per-stage depth/width/stride/bottleneck/group width as built (empty for ViT)."""
    plan = make_plan(spec)
    if isinstance(plan, ViTPlan):
        return []
    out = []
    for st in plan.stages:
        kind = BLOCKS[st.block]
        if kind.bottleneck:
            b, g = st.b, st.g
        elif st.block == "mbconv":
            b, g = st.b, 1
        else:
            b, g = None, None
        out.append(StageSummary(st.depth, st.w_out, st.stride, b, g))
    return out


def block_widths(spec: ModelSpec) -> list[int]:
    """Per-block output widths (the sequence a quantized-linear fit reads); empty for ViT."""
    plan = make_plan(spec)
    if isinstance(plan, ViTPlan):
        return []
    return [st.w_out for st in plan.stages for _ in range(st.depth)]
