"""Built modules: output shapes, channels_last, init rules, zero-init gamma, drop connect, torch-free core."""

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from pycls_like.models import build_model
from pycls_like.models.blocks import drop_connect
from pycls_like.plan import make_plan
from pycls_like.specs import AnyNetSpec, EffNetSpec, ResNetSpec, ViTSpec

BOTTLENECK = AnyNetSpec(
    ds=(1, 2), ws=(16, 32), ss=(2, 2), bs=(1.0, 0.5), gs=(4, 8), stem_w=8, se_ratio=0.25,
    head_w=48, resolution=33, num_classes=7,
)  # fmt: skip
EFFNET = EffNetSpec(
    ds=(1, 2), ws=(16, 24), exp_rs=(1.0, 6.0), ks=(3, 5), ss=(1, 2), stem_w=16, head_w=64,
    dropout=0.2, drop_connect=0.2, resolution=32, num_classes=5,
)  # fmt: skip
SPECS = {
    "anynet-y-head": BOTTLENECK,
    "anynet-basic-in-stem": AnyNetSpec(
        ds=(1, 1),
        ws=(8, 16),
        ss=(1, 2),
        stem_type="res_stem_in",
        stem_w=8,
        block_type="res_basic_block",
        resolution=57,
        num_classes=3,
    ),  # fmt: skip
    "resnet-cifar": ResNetSpec(depth=8, cifar=True, resolution=32, num_classes=10),
    "effnet": EFFNET,
    "vit-patchify": ViTSpec(depth=2, heads=2, hidden_d=32, mlp_d=64, resolution=32, num_classes=6),
    "vit-conv-pooled": ViTSpec(
        depth=1,
        heads=4,
        hidden_d=32,
        mlp_d=48,
        patch_size=8,
        stem_type="conv",
        stem_ws=(8, 16),
        stem_ss=(2, 4),
        class_token=False,
        resolution=40,
        num_classes=6,
    ),  # fmt: skip
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS)
def test_output_shape_and_channels_last(spec):
    """(n, num_classes) out; a channels_last model and input give the same logits."""
    model = build_model(spec).eval()
    x = torch.randn(2, 3, spec.resolution, spec.resolution)
    with torch.no_grad():
        out = model(x)
        model = model.to(memory_format=torch.channels_last)
        out_cl = model(x.contiguous(memory_format=torch.channels_last))
    assert out.shape == (2, spec.num_classes)
    torch.testing.assert_close(out_cl, out, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("resolution", [16, 45, 64])
def test_cnn_accepts_any_resolution(resolution):
    model = build_model(BOTTLENECK).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, resolution, resolution)).shape == (1, 7)


def test_vit_refuses_other_resolutions():
    model = build_model(SPECS["vit-patchify"])
    with pytest.raises(ValueError, match="position embedding"):
        model(torch.randn(1, 3, 48, 48))


@pytest.mark.parametrize("name", ["effnet", "vit-conv-pooled"])
def test_training_step_reaches_every_parameter(name):
    """Train mode (dropout, drop connect, BN batch stats) runs forward and backward."""
    model = build_model(SPECS[name]).train()
    spec = SPECS[name]
    loss = model(torch.randn(4, 3, spec.resolution, spec.resolution)).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def _std_close(t: torch.Tensor, expected: float, rel: float = 0.1) -> bool:
    return abs(t.std().item() - expected) <= rel * expected


def test_cnn_init_follows_pycls():
    """conv N(0, sqrt(2/fan_out)) with fan_out = k*k*c_out/groups; linear N(0, 0.01); BN (1, 0)."""
    model = build_model(AnyNetSpec(ds=(1,), ws=(256,), ss=(1,), bs=(1.0,), gs=(16,), stem_w=64))
    block = model.stages[0][0]
    assert _std_close(block.a.weight, math.sqrt(2 / 256))  # 1x1, 64 -> 256
    assert _std_close(block.b.weight, math.sqrt(2 / (9 * 256 / 16)))  # 3x3 with 16 groups
    assert _std_close(model.head.fc.weight, 0.01)
    assert not model.head.fc.bias.any()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(bn.weight.eq(1).all() and not bn.bias.any() for bn in bns)


def test_vit_init():
    spec = ViTSpec(depth=1, heads=4, hidden_d=256, mlp_d=512, resolution=256, num_classes=500)
    model = build_model(spec)
    assert _std_close(model.pos_embedding, 0.02)
    assert not model.class_token.any()
    assert _std_close(model.head.weight, 0.01)
    assert _std_close(model.stem.weight, math.sqrt(1 / (3 * 16 * 16)))
    qkv = model.blocks[0].attn.qkv
    assert _std_close(qkv.weight, math.sqrt(2 / (256 + 768))) and not qkv.bias.any()


def _final_bns(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in model.modules() if getattr(m, "final_bn", False)]


@pytest.mark.parametrize("spec", [BOTTLENECK, SPECS["anynet-basic-in-stem"], EFFNET], ids=str)
def test_zero_init_final_gamma(spec):
    """Only the last BN of each residual branch is zeroed; the default keeps gamma = 1."""
    plain, zeroed = build_model(spec), build_model(spec, zero_init_final_gamma=True)
    stages = make_plan(spec).stages
    expected = sum(
        st.block in ("res_basic_block", "res_bottleneck_block")
        or (st.block == "mbconv" and a.w_in == a.w_out and a.stride == 1)
        for st in stages
        for a in st.blocks()
    )
    assert len(_final_bns(zeroed)) == expected > 0
    assert all(not bn.weight.any() for bn in _final_bns(zeroed))
    assert all(bn.weight.eq(1).all() for bn in _final_bns(plain))
    others = [m for m in zeroed.modules() if isinstance(m, nn.BatchNorm2d)]
    assert sum(bool(bn.weight.eq(1).all()) for bn in others) == len(others) - expected


def test_zero_gamma_block_is_identity_then_relu():
    """The point of the option: each residual block starts as relu(skip(x))."""
    block = build_model(BOTTLENECK, zero_init_final_gamma=True).stages[1][1].eval()
    x = torch.randn(2, 32, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(x))


def test_drop_connect_drops_whole_samples_and_rescales():
    x = torch.ones(4000, 3, 2, 2)
    y = drop_connect(x, 0.25)
    per_sample = y.flatten(1)
    assert torch.all(per_sample.amin(1) == per_sample.amax(1))  # one decision per sample
    kept = per_sample[:, 0]
    assert torch.all((kept == 0) | torch.isclose(kept, torch.tensor(4 / 3)))
    assert abs(y.mean().item() - 1.0) < 0.1  # unbiased in expectation


def test_eval_is_deterministic_with_drop_connect():
    model = build_model(EFFNET).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_complexity_stays_torch_free():
    """The analytic counter and config IO never import torch (fast CLI, light installs)."""
    code = (
        "import sys, pycls_like.io, pycls_like.complexity as c; "
        "from pycls_like.presets import PRESETS; "
        "[c.complexity(s) for s in PRESETS.values()]; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
