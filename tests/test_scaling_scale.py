"""Compound scaling: strategy strings, CONVENTIONS.md rounding rules, every family, errors."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.plan import make_plan
from pycls_like.presets import PRESETS
from pycls_like.scaling import (
    exponents,
    parse_strategy,
    resnet_to_anynet,
    scale,
    scaling_factors,
    strategy_from_exponents,
)
from pycls_like.scaling.scaler import (
    scale_depth,
    scale_group_width,
    scale_resolution,
    scale_width,
)
from pycls_like.scaling.strategy import format_strategy
from pycls_like.specs import AnyNetSpec, EffNetSpec, ResNetSpec, ViTSpec

STRATEGIES = ("d", "w", "g", "r", "dw", "dwr", "fast", "d1_w8_g8_r1", "w2_r1")


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("d", {"d": 1, "w": 0, "g": 0, "r": 0}),
        ("w", {"d": 0, "w": 0.5, "g": 0, "r": 0}),
        ("r", {"d": 0, "w": 0, "g": 0, "r": 0.5}),
        ("dw", {"d": 0.5, "w": 0.25, "g": 0, "r": 0}),
        ("dwr", {"d": 1 / 3, "w": 1 / 6, "g": 0, "r": 1 / 6}),
        ("fast", {"d": 0.1, "w": 0.4, "g": 0.4, "r": 0.05}),
        ("d1_w8_g8_r1", {"d": 0.1, "w": 0.4, "g": 0.4, "r": 0.05}),
        ("g", {"d": 0, "w": 0, "g": 1, "r": 0}),  # S = w_g/2: group width grows ~s
        ("d0", {"d": 0, "w": 0, "g": 0, "r": 0}),  # S = 1: nothing changes
        ("d1.5_w3", {"d": 1 / 3, "w": 1 / 3, "g": 0, "r": 0}),
    ],
)
def test_exponents(strategy, expected):
    got = exponents(strategy)
    assert got == pytest.approx(expected)


def test_scaling_factors_fast():
    f = scaling_factors("fast", 4)
    assert (f.d, f.w, f.g, f.r) == pytest.approx((4**0.1, 4**0.4, 4**0.4, 4**0.05))


@given(
    st.lists(st.integers(0, 20), min_size=4, max_size=4).filter(
        lambda w: any(w[:1] + w[1:2] + w[3:])
    )
)
def test_exponents_split_flops(weights):
    """e_d + 2*e_w + 2*e_r = 1 whenever some of d, w, r is weighted (flops grow ~s)."""
    text = format_strategy(dict(zip("dwgr", weights, strict=True)))
    assert parse_strategy(text) == dict(zip("dwgr", map(float, weights), strict=True))
    e = exponents(text)
    assert e["d"] + 2 * e["w"] + 2 * e["r"] == pytest.approx(1)


@pytest.mark.parametrize(
    "bad", ["", "x", "dq", "dd", "d_", "_d", "d-1", "D", "d1__w2", "fast2", "d,w"]
)
def test_bad_strategy_names_it(bad):
    with pytest.raises(ConfigError, match="strategy") as err:
        scaling_factors(bad, 2)
    assert repr(bad) in str(err.value)


@pytest.mark.parametrize("factor", [0, -1, float("nan"), float("inf")])
def test_bad_factor_names_strategy(factor):
    with pytest.raises(ConfigError, match="'dw'"):
        scale(PRESETS["RegNetY-400MF"], "dw", factor)


def test_strategy_from_exponents():
    assert strategy_from_exponents(0.2, 0.4, 0.0) == "d1_w4"  # shares 0.2, 0.8
    assert strategy_from_exponents(0.1, 0.4, 0.05, 0.4) == "d1_w8_g8_r1"
    assert strategy_from_exponents(1 / 3, 1 / 6, 1 / 6) == "dwr"
    assert strategy_from_exponents(-0.1, 0.5, 0.0) == "w"  # a shrinking dimension counts 0
    with pytest.raises(ConfigError):
        strategy_from_exponents(0.0, -0.2, 0.0)


# Hand-computed CONVENTIONS.md rounding rules (Python's round: halves go to the even integer).
def test_depth_rounding():
    assert scale_depth(3, 4**0.1) == 3  # 3.45
    assert scale_depth(6, 4**0.1) == 7  # 6.89
    assert scale_depth(3, 1.5) == 4  # 4.5 -> 4 (half to even)
    assert scale_depth(5, 1.5) == 8  # 7.5 -> 8
    assert scale_depth(2, 0.2) == 1  # never below one block


def test_width_rounding_to_8():
    assert scale_width(48, 4**0.4) == 80  # 83.6 / 8 = 10.4 -> 10
    assert scale_width(440, 4**0.4) == 768  # 766.1 / 8 = 95.8 -> 96
    assert scale_width(100, 1) == 96  # 12.5 -> 12 (half to even)
    assert scale_width(4, 0.5) == 8  # never below 8


def test_group_width_snapping():
    assert scale_group_width(1, 2) == 2  # <= 2: kept
    assert scale_group_width(2, 1.6) == 4  # 3 -> 4
    assert scale_group_width(4, 1.25) == 4  # 5 -> 4
    assert scale_group_width(4, 1.5) == 8  # 6 -> round(0.75) * 8
    assert scale_group_width(8, 4**0.4) == 16  # 13.9 -> 14 -> round(1.75) * 8
    assert scale_group_width(16, 1.3) == 24  # 20.8 -> 21 -> round(2.625) * 8
    assert scale_group_width(8, 0.1) == 1  # 0.8 -> 1


@pytest.mark.parametrize(
    "w, b, g, expected_w, expected_g",
    [
        (40, 1.0, 16, 32, 16),  # v=40, m=16: round(2.5)=2 -> 32
        (256, 0.25, 24, 288, 24),  # v=64, m=24: 72 -> w = 72/0.25
        (16, 0.25, 8, 16, 4),  # v=4 < g: g = 4
        (40, 3.0, 16, 32, 16),  # v=120, m=lcm(16, 3)=48: round(2.5)*48 = 96 -> 96/3
    ],
)
def test_compatibility_after_scaling(w, b, g, expected_w, expected_g):
    spec = AnyNetSpec(ds=(2,), ws=(w,), ss=(2,), bs=(b,), gs=(g,))
    out = scale(spec, "d", 1)
    assert (out.ws, out.gs, out.bs) == ((expected_w,), (expected_g,), (b,))


def test_resolution_rounding():
    assert scale_resolution(224, 4**0.05) == 240  # 240.1
    assert scale_resolution(224, 1.5) == 336
    assert scale_resolution(32, 1.1) == 36  # 35.2 / 4 = 8.8 -> 9
    assert scale_resolution(224, 4**0.05, 16) == 240  # ViT: a multiple of the patch size
    assert scale_resolution(224, 1.1, 16) == 240  # 246.4 / 16 = 15.4 -> 15


def test_regnet_expands_to_anynet_and_scales_fast():
    spec = PRESETS["RegNetY-400MF"]
    out = scale(spec, "fast", 4)
    assert isinstance(out, AnyNetSpec)
    assert out.ds == (1, 3, 7, 7)  # (1, 3, 6, 6) * 4**0.1
    assert out.ws == (80, 192, 352, 768)  # (48, 104, 208, 440) * 4**0.4, to 8
    assert out.gs == (16, 16, 16, 16)
    assert out.resolution == 240
    assert (out.se_ratio, out.stem_w, out.stem_type) == (0.25, 32, "simple_stem_in")
    assert spec == PRESETS["RegNetY-400MF"]  # input untouched


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_factor_one_is_equivalent(name, strategy):
    spec = PRESETS[name]
    assert complexity(scale(spec, strategy, 1)) == complexity(spec)


@pytest.mark.parametrize("strategy", ["d", "w", "r", "dwr", "fast"])
def test_flops_grow_about_s(strategy):
    spec = PRESETS["RegNetY-400MF"]
    ratio = complexity(scale(spec, strategy, 4)).flops / complexity(spec).flops
    assert 3.3 <= ratio <= 4.7


def test_effnet_b0():
    spec = PRESETS["EfficientNet-B0"]
    out = scale(spec, "dwr", 2)
    assert isinstance(out, EffNetSpec)
    f = scaling_factors("dwr", 2)
    assert out.ds == tuple(max(1, round(d * f.d)) for d in spec.ds)
    assert out.ws == (16, 24, 48, 88, 128, 216, 360)
    assert (out.stem_w, out.head_w, out.resolution) == (32, 1440, 252)
    assert (out.exp_rs, out.ks, out.ss) == (spec.exp_rs, spec.ks, spec.ss)
    assert 1.7 <= complexity(out).flops / complexity(spec).flops <= 2.3
    assert scale(spec, "g", 4) == spec  # depthwise convs: no group width to scale


@pytest.mark.parametrize("name", ["ViTP-1GF", "ViTC-4GF", "ViTP-36GF"])
def test_vit(name):
    spec = PRESETS[name]
    out = scale(spec, "fast", 4)
    assert isinstance(out, ViTSpec)
    assert out.heads == spec.heads and out.hidden_d % math.lcm(8, spec.heads) == 0
    assert out.resolution % out.patch_size == 0
    assert out.hidden_d > spec.hidden_d and out.mlp_d > spec.mlp_d and out.depth >= spec.depth
    assert len(out.stem_ws) == len(spec.stem_ws)
    assert 3.3 <= complexity(out).flops / complexity(spec).flops <= 4.7


def test_vit_hand_computed():
    out = scale(PRESETS["ViTP-1GF"], "w", 2)  # width x sqrt(2)
    widths = (out.hidden_d, out.mlp_d, out.depth, out.resolution)
    assert widths == (264, 816, 12, 224)  # 271.5 -> 11*24


@pytest.mark.parametrize(
    "spec",
    [
        ResNetSpec(depth=50),
        ResNetSpec(depth=101, num_groups=32, width_per_group=4),
        ResNetSpec(depth=50, trans_fun="basic_transform", stride_1x1=True),
        ResNetSpec(depth=20, trans_fun="basic_transform", cifar=True, resolution=32),
        ResNetSpec(depth=56, cifar=True, resolution=32, num_classes=10),
    ],
)
def test_legacy_resnet_converts(spec):
    anynet = resnet_to_anynet(spec)
    assert make_plan(anynet) == make_plan(spec)
    assert complexity(scale(spec, "dwr", 1)) == complexity(spec)
    assert isinstance(scale(spec, "fast", 4), AnyNetSpec)


def test_legacy_resnet_without_equivalent_raises():
    with pytest.raises(ConfigError, match="stride_1x1"):
        scale(ResNetSpec(depth=50, stride_1x1=True), "d", 2)
    odd = ResNetSpec(depth=20, cifar=True, num_groups=5, width_per_group=7)  # breaks compatibility
    with pytest.raises(ConfigError, match="compatibility"):
        scale(odd, "d", 2)


def test_invalid_scaled_model_is_a_config_error():
    with pytest.raises(ConfigError, match="'r'.*resolution"):
        scale(PRESETS["RegNetY-400MF"], "r", 1e-6)  # 224 * 0.001 rounds to 0
