"""Measured counts (fvcore on the built module) equal the analytic counts exactly, every family.

Small widths and 32-64 px keep each trace cheap; odd resolutions (33, 57) exercise the
`(h - 1) // s + 1` rule through strided convs, projections and the max pool.
"""

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from pycls_like.complexity import complexity
from pycls_like.errors import ConfigError
from pycls_like.models import build_model
from pycls_like.models.measure import measure_complexity, measure_module
from pycls_like.presets import PRESETS
from pycls_like.specs import (
    CNN_BLOCKS,
    CNN_STEMS,
    AnyNetSpec,
    EffNetSpec,
    RegNetSpec,
    ResNetSpec,
    ViTSpec,
)

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_counts_match(spec) -> None:
    assert measure_complexity(spec) == complexity(spec)


def anynet(block_type: str, stem_type: str = "simple_stem_in", **kw) -> AnyNetSpec:
    """Two small stages (the second strided) of `block_type`; kw overrides any field."""
    bottleneck = {"bs": (1.0, 0.5), "gs": (8, 8)} if "bottleneck" in block_type else {}
    base = dict(ds=(1, 2), ws=(16, 24), ss=(1, 2), stem_type=stem_type, stem_w=8)
    base |= dict(block_type=block_type, resolution=33, num_classes=7, **bottleneck)
    return AnyNetSpec(**(base | kw))


@pytest.mark.parametrize("stem_type", CNN_STEMS)
@pytest.mark.parametrize("block_type", CNN_BLOCKS)
def test_anynet_every_stem_and_block(stem_type, block_type):
    assert_counts_match(anynet(block_type, stem_type))


@pytest.mark.parametrize(
    "spec",
    [
        anynet("res_bottleneck_block", se_ratio=0.25),  # Y block
        anynet("res_bottleneck_block", se_ratio=0.25, head_w=40, resolution=57),
        anynet("res_bottleneck_block", bs=(2.0, 4.0), gs=(4, 2), ss=(2, 2)),  # grouped, b > 1
        anynet("res_basic_block", head_w=32, ss=(2, 1)),
        anynet("vanilla_block", head_w=32, stem_type="res_stem_in", resolution=57),
    ],
    ids=["se", "se-head-57px", "groups-b>1", "basic-head", "vanilla-head"],
)
def test_anynet_se_head_groups(spec):
    assert_counts_match(spec)


@pytest.mark.parametrize("se_ratio", [0.0, 0.25])
def test_regnet_x_and_y(se_ratio):
    assert_counts_match(
        RegNetSpec(d=5, w0=16, wa=12.0, wm=2.0, g=8, se_ratio=se_ratio, resolution=40)
    )


@pytest.mark.parametrize(
    "spec",
    [
        ResNetSpec(depth=8, trans_fun="basic_transform", cifar=True, resolution=32, num_classes=10),
        ResNetSpec(depth=14, cifar=True, resolution=32, num_classes=10),
        ResNetSpec(depth=14, cifar=True, stride_1x1=True, resolution=33, num_classes=10),
        ResNetSpec(depth=50, stride_1x1=True, num_groups=2, width_per_group=8, resolution=57),
        ResNetSpec(depth=50, resolution=32, num_classes=10),
    ],
    ids=["cifar-basic", "cifar-bottleneck", "cifar-stride1x1", "in-stride1x1-groups", "in-50"],
)
@pytest.mark.slow
def test_legacy_resnet(spec):
    assert_counts_match(spec)


@pytest.mark.parametrize("resolution", [32, 33, 57])
def test_effnet(resolution):
    spec = EffNetSpec(
        ds=(1, 2, 1), ws=(16, 24, 24), exp_rs=(1, 6, 3), ks=(3, 5, 3), ss=(1, 2, 2),
        stem_w=16, head_w=64, dropout=0.2, drop_connect=0.2, resolution=resolution, num_classes=5,
    )  # fmt: skip
    assert_counts_match(spec)


@pytest.mark.parametrize("class_token", [True, False])
@pytest.mark.parametrize(
    "stem", [{}, {"stem_type": "conv", "stem_ws": (8, 16, 16, 32), "stem_ss": (2, 2, 1, 4)}]
)
def test_vit(stem, class_token):
    kw = dict(class_token=class_token, resolution=48, num_classes=9)
    assert_counts_match(ViTSpec(depth=2, heads=3, hidden_d=48, mlp_d=96, **kw, **stem))


def stage_lists(data: st.DataObject, n: int, values: st.SearchStrategy) -> tuple:
    """One drawn value per stage."""
    return tuple(data.draw(st.lists(values, min_size=n, max_size=n)))


@FAST
@given(
    data=st.data(),
    n=st.integers(1, 3),
    block_type=st.sampled_from(CNN_BLOCKS),
    stem_type=st.sampled_from(CNN_STEMS),
    resolution=st.integers(5, 64),
)
@pytest.mark.slow
def test_random_anynet(data, n, block_type, stem_type, resolution):
    """Any compatible design: b and g from the papers' grids, so the plan never refuses."""
    kw = {"se_ratio": data.draw(st.sampled_from([0.0, 0.25]))}  # ignored by blocks without SE
    if "bottleneck" in block_type:
        kw["bs"] = stage_lists(data, n, st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]))
        kw["gs"] = stage_lists(data, n, st.sampled_from([1, 2, 4, 8, 16]))
    spec = AnyNetSpec(
        ds=stage_lists(data, n, st.integers(1, 2)), ws=stage_lists(data, n, st.integers(1, 48)),
        ss=stage_lists(data, n, st.integers(1, 3)), stem_type=stem_type,
        stem_w=data.draw(st.integers(1, 24)), block_type=block_type,
        head_w=data.draw(st.sampled_from([0, 24])), resolution=resolution, num_classes=3, **kw,
    )  # fmt: skip
    assert_counts_match(spec)


@FAST
@given(
    b=st.floats(0.2, 3.0).map(lambda b: round(b, 2)),
    g=st.integers(1, 24),
    w=st.integers(1, 96),
)
def test_random_bottleneck_either_builds_or_is_refused(b, g, w):
    """Off-grid b can leave round(w*b) off the group grid: the plan refuses, never miscounts."""
    spec = AnyNetSpec(ds=(1,), ws=(w,), ss=(2,), bs=(b,), gs=(g,), stem_w=8, resolution=17)
    try:
        expected = complexity(spec)
    except ConfigError:  # off the group grid, or a width the rule rounds down to 0
        return
    assert measure_complexity(spec) == expected


def test_off_grid_bottleneck_is_a_config_error():
    with pytest.raises(ConfigError, match="not a multiple of group width"):
        complexity(AnyNetSpec(ds=(1,), ws=(61,), ss=(1,), bs=(1.5,), gs=(8,)))


@FAST
@given(
    d=st.integers(1, 8),
    w0=st.sampled_from([8, 16, 24]),
    wa=st.floats(0.0, 24.0),
    wm=st.floats(1.5, 3.0),
    g=st.sampled_from([1, 4, 8]),
    b=st.sampled_from([0.5, 1.0, 2.0]),
    se_ratio=st.sampled_from([0.0, 0.25]),
    resolution=st.sampled_from([32, 33, 57]),
)
@pytest.mark.slow
def test_random_regnet(d, w0, wa, wm, g, b, se_ratio, resolution):
    assert_counts_match(
        RegNetSpec(d=d, w0=w0, wa=wa, wm=wm, g=g, b=b, se_ratio=se_ratio, resolution=resolution)
    )


@FAST
@given(
    data=st.data(),
    n=st.integers(1, 3),
    resolution=st.integers(8, 57),
    se_ratio=st.sampled_from([0.0, 0.25]),
)
@pytest.mark.slow
def test_random_effnet(data, n, resolution, se_ratio):
    spec = EffNetSpec(
        ds=stage_lists(data, n, st.integers(1, 2)), ws=stage_lists(data, n, st.integers(4, 32)),
        exp_rs=stage_lists(data, n, st.sampled_from([1.0, 2.5, 6.0])),
        ks=stage_lists(data, n, st.sampled_from([3, 5, 7])),
        ss=stage_lists(data, n, st.integers(1, 2)), stem_w=data.draw(st.integers(4, 24)),
        head_w=data.draw(st.integers(8, 64)), se_ratio=se_ratio, resolution=resolution, num_classes=4,
    )  # fmt: skip
    assert_counts_match(spec)


@FAST
@given(
    data=st.data(),
    heads=st.integers(1, 4),
    head_d=st.integers(1, 12),
    patch_size=st.sampled_from([4, 8]),
    patches=st.integers(1, 6),
    conv_stem=st.booleans(),
    class_token=st.booleans(),
)
@pytest.mark.slow
def test_random_vit(data, heads, head_d, patch_size, patches, conv_stem, class_token):
    stem = {}
    if conv_stem:
        ss = (2, 1, patch_size // 2) if data.draw(st.booleans()) else (patch_size,)
        ws = tuple(data.draw(st.integers(2, 16)) for _ in ss)
        stem = {"stem_type": "conv", "stem_ws": ws, "stem_ss": ss}
    spec = ViTSpec(
        depth=data.draw(st.integers(1, 2)), heads=heads, hidden_d=heads * head_d,
        mlp_d=data.draw(st.integers(1, 64)), patch_size=patch_size, class_token=class_token,
        resolution=patch_size * patches, num_classes=5, **stem,
    )  # fmt: skip
    assert_counts_match(spec)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_params(name):
    """sum(numel) of the full preset == analytic params; built on the meta device (no memory)."""
    with torch.device("meta"):
        model = build_model(PRESETS[name])
    assert sum(p.numel() for p in model.parameters()) == complexity(PRESETS[name]).params


SMALL_PRESETS = ["RegNetX-200MF", "RegNetY-200MF", "ResNeXt-50", "EfficientNet-B0", "ViTP-1GF"]


@pytest.mark.parametrize("name", SMALL_PRESETS)
def test_small_presets_at_32px(name):
    """One per family; the larger presets repeat the same code paths at more cost."""
    assert_counts_match(dataclasses.replace(PRESETS[name], resolution=32, num_classes=10))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet-50", "EfficientNet-B0", "ViTC-1GF"])
def test_full_resolution_presets_match_golden(name):
    golden = json.loads((Path(__file__).parent / "golden_complexity.json").read_text())[name]
    assert measure_complexity(PRESETS[name]).as_dict() == golden


def test_measure_refuses_uncounted_ops():
    """An op with no counting rule (here a bare matmul) raises instead of counting 0."""

    class Matmul(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1) @ x.flatten(1).T

    with pytest.raises(RuntimeError, match="aten::matmul"):
        measure_module(Matmul(), 4)
