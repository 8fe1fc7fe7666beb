"""The proof block: pycls's res_bottleneck_linear_block (MobileNetV2-style inverted bottleneck
with b > 1) works in every path: AnyNet/RegNet specs, pycls configs, design spaces, exact in the
counter, the builder and the vectorized scorer."""

import random
from pathlib import Path

import pytest

from pycls_like.complexity import complexity
from pycls_like.design.space import DesignSpace
from pycls_like.models.measure import measure_complexity
from pycls_like.pycls_cfg import spec_from_pycls
from pycls_like.specs import AnyNetSpec, RegNetSpec

BLOCK = "res_bottleneck_linear_block"


def _random_specs(n: int, seed: int = 0) -> list:
    r = random.Random(seed)
    specs = []
    for _ in range(n):
        k = r.randint(1, 3)
        specs.append(
            AnyNetSpec(
                ds=tuple(r.randint(1, 3) for _ in range(k)),
                ws=tuple(8 * r.randint(1, 6) for _ in range(k)),
                ss=tuple(r.choice([1, 2]) for _ in range(k)),
                bs=tuple(r.choice([0.25, 1.0, 2.0, 4.0, 6.0]) for _ in range(k)),
                gs=tuple(r.choice([1, 2, 8]) for _ in range(k)),
                stem_type=r.choice(["res_stem_cifar", "simple_stem_in", "res_stem_in"]),
                stem_w=r.choice([8, 16]),
                block_type=BLOCK,
                se_ratio=r.choice([0.0, 0.25]),
                head_w=r.choice([0, 32]),
                resolution=r.choice([17, 32]),
                num_classes=r.randint(2, 10),
            )
        )
        specs.append(
            RegNetSpec(
                d=r.randint(2, 6),
                w0=8 * r.randint(1, 3),
                wa=round(r.uniform(4, 16), 1),
                wm=round(r.uniform(1.5, 2.5), 2),
                g=r.choice([1, 4]),
                b=r.choice([1.0, 4.0]),
                block_type=BLOCK,
                se_ratio=r.choice([0.0, 0.25]),
                resolution=24,
                num_classes=5,
            )  # fmt: skip
        )
    return specs


@pytest.mark.parametrize("spec", _random_specs(6), ids=str)
def test_counter_equals_builder(spec):
    assert measure_complexity(spec) == complexity(spec)


def test_pycls_config_uses_it():
    cfg = {
        "MODEL": {"TYPE": "anynet", "NUM_CLASSES": 10},
        "ANYNET": {"BLOCK_TYPE": BLOCK, "STEM_TYPE": "res_stem_cifar", "DEPTHS": [1, 2],
                   "WIDTHS": [16, 24], "STRIDES": [1, 2], "BOT_MULS": [6.0, 6.0],
                   "GROUP_WS": [1, 1]},
        "TRAIN": {"IM_SIZE": 32},
    }  # fmt: skip
    spec = spec_from_pycls(cfg)
    assert spec.block_type == BLOCK
    assert measure_complexity(spec) == complexity(spec)


@pytest.mark.parametrize("family", ["regnet", "anynet"])
def test_space_flop_band_holds_and_scorer_is_exact(family):
    """Samples of a space using the block: the vectorized scorer's figures equal the scalar
    counter's for every sample, and all lie in the band."""
    params = {"block_type": BLOCK, "stem_type": "res_stem_cifar", "stem_w": 16, "resolution": 32,
              "num_classes": 10, "se_ratio": {"type": "choice", "values": [0.0, 0.25]}}  # fmt: skip
    if family == "regnet":
        params |= {"d": {"type": "int", "range": [4, 12]},
                   "w0": {"type": "log_uniform", "range": [16, 64], "q": 8},
                   "wa": {"type": "log_uniform", "range": [8, 48], "q": 0.1},
                   "wm": {"type": "log_uniform", "range": [1.5, 3.0], "q": 0.001},
                   "g": {"type": "power2", "range": [1, 8]},
                   "b": {"type": "choice", "values": [1.0, 2.0, 4.0]}}  # fmt: skip
        data = {"family": "regnet", "params": params, "constraints": {"flops": "5M:40M"}}
    else:
        params |= {"ds": {"type": "int", "range": [1, 3]},
                   "ws": {"type": "log_uniform", "range": [16, 128], "q": 8},
                   "ss": [1, 2, 2], "bs": {"type": "choice", "values": [1.0, 2.0, 4.0]},
                   "gs": {"type": "power2", "range": [1, 8]}}  # fmt: skip
        data = {"family": "anynet", "stages": 3, "params": params,
                "constraints": {"flops": "5M:40M"}}  # fmt: skip
    space = DesignSpace.from_dict(data, "linear.yaml", Path("."))
    samples = list(space.sample(40, 0))
    assert len(samples) == 40
    for s in samples:
        assert s.complexity == complexity(s.spec)
        assert 5e6 <= s.complexity.flops <= 40e6


def test_a_new_block_is_one_registry_entry(monkeypatch):
    """Registering a block kind is all it takes: specs accept it, and the counter, the builder and
    the vectorized scorer agree on it; an unknown kind is an error naming the known ones."""
    import numpy as np

    from pycls_like.design.batch import StageArrays, cnn_complexity_batch
    from pycls_like.errors import ConfigError
    from pycls_like.layers import BLOCKS, BlockArgs, BlockKind

    def toy(x, a: BlockArgs) -> None:  # depthwise 3x3 (stride) + BN + act, then 1x1 + BN
        x.conv("dw", a.w_in, a.w_in, 3, stride=a.stride, groups=a.w_in)
        x.norm("dw_bn", a.w_in)
        x.act("dw_af")
        x.conv("pw", a.w_in, a.w_out, 1)
        x.norm("pw_bn", a.w_out, final=True)

    monkeypatch.setitem(
        BLOCKS,
        "toy",
        BlockKind(
            toy, lambda w_in, w_out, s, *_: BlockArgs(w_in, w_out, s), skip="proj", post_act=True
        ),
    )
    spec = AnyNetSpec(ds=(2, 3), ws=(16, 24), ss=(2, 2), block_type="toy", stem_w=8,
                      resolution=32, num_classes=5)  # fmt: skip
    assert measure_complexity(spec) == complexity(spec)
    n = np.ones(1, dtype=np.int64)
    st = StageArrays(np.array([[2, 3]]), np.array([[16, 24]]), np.array([[2]]),
                     np.zeros((1, 0)), np.zeros((1, 0), dtype=np.int64))  # fmt: skip
    batch = cnn_complexity_batch("simple_stem_in", "toy", 8 * n, st, 0.0 * n, 0 * n, 32 * n, 5 * n)
    assert tuple(int(v[0]) for v in batch) == tuple(complexity(spec).as_dict().values())
    with pytest.raises(ConfigError, match="unknown block 'nope'; known: .*toy"):
        cnn_complexity_batch("simple_stem_in", "nope", 8 * n, st, 0.0 * n, 0 * n, 32 * n, 5 * n)
