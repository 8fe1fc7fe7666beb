"""`scale(spec, strategy, factor)`: compound model scaling as a pure spec -> spec function.

Fast and Accurate Model Scaling (Dollar, Singh, Girshick 2021), sec. 3-4, with the rounding rules
of CONVENTIONS.md "Scaling" (those of pycls `models/scaler.py`, which rewrites a global config;
here nothing is mutated). RegNets are expanded to AnyNet stages first, legacy ResNets converted to
the equivalent AnyNet; EfficientNets and ViTs keep their family.
"""

import math
from dataclasses import replace

from pycls_like.errors import ConfigError
from pycls_like.plan import adjust_anynet, make_plan, regnet_to_anynet
from pycls_like.regnet import adjust_block_compatibility
from pycls_like.scaling.strategy import ScalingFactors, scaling_factors
from pycls_like.specs import (
    RESNET_IN_DEPTHS,
    AnyNetSpec,
    EffNetSpec,
    ModelSpec,
    RegNetSpec,
    ResNetSpec,
    ViTSpec,
)


def scale_depth(d: int, f: float) -> int:
    """Blocks per stage: `max(1, round(d*f))`."""
    return max(1, round(d * f))


def scale_width(w: int, f: float, q: int = 8) -> int:
    """Channel widths stay multiples of `q` (8, hardware-friendly): `max(1, round(w*f/q))*q`."""
    return max(1, round(w * f / q)) * q


def scale_group_width(g: int, f: float) -> int:
    """`max(1, round(g*f))`, then kept if <= 2, 4 if <= 5, else the nearest multiple of 8."""
    g = max(1, round(g * f))
    return g if g <= 2 else 4 if g <= 5 else round(g / 8) * 8


def scale_resolution(r: int, f: float, q: int = 4) -> int:
    """Input size a multiple of `q`: `round(r*f/q)*q` (4 for CNNs, the patch size for ViTs)."""
    return round(r * f / q) * q


def resnet_to_anynet(spec: ResNetSpec) -> AnyNetSpec:
    """The AnyNet with the same structural plan as a legacy pycls ResNet, or a ConfigError.

    The bottleneck width doubles with the stage width, so b = w_b/w is constant and the group
    width is w_b/groups; a stride on the first 1x1 (`stride_1x1`) has no AnyNet equivalent.
    """
    if spec.cifar:
        n = (spec.depth - 2) // 6
        ds, ws, ss, stem_type, stem_w = (n,) * 3, (16, 32, 64), (1, 2, 2), "res_stem_cifar", 16
    else:
        ds, ws, ss = RESNET_IN_DEPTHS[spec.depth], (256, 512, 1024, 2048), (1, 2, 2, 2)
        stem_type, stem_w = "res_stem_in", 64
    common = dict(ds=ds, ws=ws, ss=ss, stem_type=stem_type, stem_w=stem_w)
    common |= dict(resolution=spec.resolution, num_classes=spec.num_classes)
    if spec.trans_fun == "basic_transform":
        anynet = AnyNetSpec(block_type="res_basic_block", **common)
    else:
        w_b = spec.width_per_group * spec.num_groups
        gs = tuple(w_b * 2**i // spec.num_groups for i in range(len(ds)))
        anynet = AnyNetSpec(bs=(w_b / ws[0],) * len(ds), gs=gs, **common)
    if make_plan(anynet) != make_plan(spec):
        why = (
            "stride_1x1 puts the stride on the first 1x1 conv"
            if spec.stride_1x1
            else "its bottleneck and group widths break the compatibility rule"
        )
        raise ConfigError(
            f"cannot scale this legacy ResNet: no equivalent AnyNet ({why}); "
            "write it as an AnyNet spec to scale it",
            key="family",
        )
    return anynet


def _scale_anynet(spec: AnyNetSpec, f: ScalingFactors) -> AnyNetSpec:
    ds = tuple(scale_depth(d, f.d) for d in spec.ds)
    ws = [scale_width(w, f.w) for w in spec.ws]
    if spec.block_type != "res_bottleneck_block":  # no bottleneck or groups to keep compatible
        return replace(spec, ds=ds, ws=tuple(ws), resolution=scale_resolution(spec.resolution, f.r))
    gs = [scale_group_width(g, f.g) for g in spec.gs]
    ws, bs, gs = adjust_block_compatibility(ws, list(spec.bs), gs)
    return replace(
        spec,
        ds=ds,
        ws=tuple(ws),
        bs=tuple(bs),
        gs=tuple(gs),
        resolution=scale_resolution(spec.resolution, f.r),
    )


def _scale_effnet(spec: EffNetSpec, f: ScalingFactors) -> EffNetSpec:
    """Depthwise convs have group width 1, so `g` weights change nothing here."""
    return replace(
        spec,
        ds=tuple(scale_depth(d, f.d) for d in spec.ds),
        ws=tuple(scale_width(w, f.w) for w in spec.ws),
        stem_w=scale_width(spec.stem_w, f.w),
        head_w=scale_width(spec.head_w, f.w),
        resolution=scale_resolution(spec.resolution, f.r),
    )


def _scale_vit(spec: ViTSpec, f: ScalingFactors) -> ViTSpec:
    """Depth = encoder blocks; width = hidden_d, MLP width and conv-stem widths; no `g`.

    The number of heads stays fixed and hidden_d rounds to a multiple of lcm(8, heads), so every
    head keeps an integer width (head width grows with hidden_d). Resolution stays a multiple of the patch
    size so the patch grid is whole.
    """
    return replace(
        spec,
        depth=scale_depth(spec.depth, f.d),
        hidden_d=scale_width(spec.hidden_d, f.w, math.lcm(8, spec.heads)),
        mlp_d=scale_width(spec.mlp_d, f.w),
        stem_ws=tuple(scale_width(w, f.w) for w in spec.stem_ws),
        resolution=scale_resolution(spec.resolution, f.r, spec.patch_size),
    )


def scale(spec: ModelSpec, strategy: str, factor: float) -> ModelSpec:
    """Scale `spec`'s flops by about `factor` with `strategy` (e.g. "dwr", "fast", "d1_w8_g8_r1").

    RegNet and legacy ResNet inputs return an AnyNetSpec; other families keep theirs.
    """
    f = scaling_factors(strategy, factor)
    if isinstance(spec, RegNetSpec):
        spec = adjust_anynet(regnet_to_anynet(spec))
    elif isinstance(spec, ResNetSpec):
        spec = resnet_to_anynet(spec)
    try:
        if isinstance(spec, AnyNetSpec):
            return _scale_anynet(spec, f)
        if isinstance(spec, EffNetSpec):
            return _scale_effnet(spec, f)
        return _scale_vit(spec, f)
    except ConfigError as err:
        raise ConfigError(
            f"scaling by {strategy!r} with factor {factor:g} gives an invalid model ({err})",
            key="strategy",
        ) from None
