"""Every pycls config that pycls builds counts, exactly (CONVENTIONS.md "What pycls accepts").

A varied set of generated pycls-format configs (every MODEL.TYPE, every AnyNet stem and block,
SE_ON on blocks without SE, REGNET.BLOCK_TYPE of any block, ViT conv stems whose last layer is not
1x1 s1, random values in pycls's ranges at small sizes): none is refused, and the analytic counts
equal the fvcore-measured counts of the built module.
"""

import random

import pytest

from pycls_like.complexity import complexity
from pycls_like.layers import CNN_BLOCKS, CNN_STEMS
from pycls_like.models.measure import measure_complexity
from pycls_like.pycls_cfg import spec_from_pycls

SEEDS = range(2)


def _common(r: random.Random, model_type: str) -> dict:
    return {
        "MODEL": {"TYPE": model_type, "NUM_CLASSES": r.randint(2, 20)},
        "TRAIN": {"IM_SIZE": r.choice([16, 24, 32, 33])},
    }


def anynet(r: random.Random, block: str, stem: str) -> dict:
    n = r.randint(1, 3)
    cfg = _common(r, "anynet")
    cfg["ANYNET"] = {
        "STEM_TYPE": stem,
        "STEM_W": r.choice([8, 16]),
        "BLOCK_TYPE": block,
        "DEPTHS": [r.randint(1, 2) for _ in range(n)],
        "WIDTHS": [8 * r.randint(1, 6) for _ in range(n)],
        "STRIDES": [r.choice([1, 2]) for _ in range(n)],
        "BOT_MULS": [r.choice([0.25, 0.5, 1.0, 2.0, 4.0]) for _ in range(n)],
        "GROUP_WS": [r.choice([1, 2, 4, 8, 16]) for _ in range(n)],
        "SE_ON": r.random() < 0.5,
        "HEAD_W": r.choice([0, 24]),
    }
    return cfg


def regnet(r: random.Random, block: str) -> dict:
    cfg = _common(r, "regnet")
    cfg["REGNET"] = {
        "STEM_TYPE": r.choice(CNN_STEMS),
        "STEM_W": 16,
        "BLOCK_TYPE": block,
        "SE_ON": r.random() < 0.5,
        "DEPTH": r.randint(2, 8),
        "W0": 8 * r.randint(1, 4),
        "WA": round(r.uniform(4.0, 24.0), 2),
        "WM": round(r.uniform(1.5, 3.0), 3),
        "GROUP_W": r.choice([1, 2, 4, 8]),
        "BOT_MUL": r.choice([0.25, 0.5, 1.0, 2.0]),
    }
    return cfg


def resnet(r: random.Random, trans_fun: str, cifar: bool) -> dict:
    cfg = _common(r, "resnet")
    cfg["MODEL"]["DEPTH"] = r.choice([8, 14]) if cifar else 50
    cfg["TRAIN"]["DATASET"] = "cifar10" if cifar else "imagenet"
    cfg["RESNET"] = {
        "TRANS_FUN": trans_fun,
        "NUM_GROUPS": r.choice([1, 2]),
        "WIDTH_PER_GROUP": r.choice([4, 8]),
        "STRIDE_1X1": r.random() < 0.5,
    }
    return cfg


def effnet(r: random.Random) -> dict:
    n = r.randint(1, 3)
    cfg = _common(r, "effnet")
    cfg["MODEL"]["ACTIVATION_FUN"] = "silu"
    cfg["EN"] = {
        "STEM_W": 8,
        "DEPTHS": [r.randint(1, 2) for _ in range(n)],
        "WIDTHS": [8 * r.randint(1, 4) for _ in range(n)],
        "EXP_RATIOS": [r.choice([1, 4, 6]) for _ in range(n)],
        "KERNELS": [r.choice([3, 5]) for _ in range(n)],
        "STRIDES": [r.choice([1, 2]) for _ in range(n)],
        "SE_R": r.choice([0.0, 0.25]),
        "HEAD_W": 32,
    }
    return cfg


def vit(r: random.Random, stem: str) -> dict:
    heads = r.choice([1, 2, 3])
    d = heads * r.choice([8, 16])
    cfg = _common(r, "vit")
    cfg["TRAIN"]["IM_SIZE"] = 32
    cfg["VIT"] = {
        "PATCH_SIZE": 8,
        "STEM_TYPE": stem,
        "NUM_LAYERS": r.randint(1, 2),
        "NUM_HEADS": heads,
        "HIDDEN_DIM": d,
        "MLP_DIM": d * r.choice([1, 2, 4]),
        "CLASSIFIER_TYPE": r.choice(["class_token", "pooled"]),
    }
    if stem == "conv":  # strides multiply to 8; the last layer k x k stride s (not only 1x1 s1)
        ss = r.choice([[2, 2, 2, 1], [2, 2, 2], [2, 4], [8], [1, 2, 2, 2]])
        cfg["VIT"]["C_STEM_STRIDES"] = ss
        cfg["VIT"]["C_STEM_DIMS"] = [8 * (i + 1) for i in range(len(ss) - 1)] + [d]
        cfg["VIT"]["C_STEM_KERNELS"] = [r.choice([3, 5]) for _ in ss[:-1]] + [r.choice([1, 3, 5])]
    return cfg


def generated() -> list[tuple[str, dict]]:
    out = []
    for seed in SEEDS:
        r = random.Random(seed)
        out += [(f"anynet-{b}-{s}-{seed}", anynet(r, b, s)) for b in CNN_BLOCKS for s in CNN_STEMS]
        out += [(f"regnet-{b}-{seed}", regnet(r, b)) for b in CNN_BLOCKS]
        out += [(f"effnet-{seed}", effnet(r))]
        out += [(f"vit-{s}-{seed}", vit(r, s)) for s in ("patchify", "conv", "conv")]
    r = random.Random(99)
    out += [
        (f"resnet-{t}-cifar", resnet(r, t, True))
        for t in ("basic_transform", "bottleneck_transform")
    ]
    out += [("resnet-bottleneck-in", resnet(r, "bottleneck_transform", False))]
    return out


CONFIGS = generated()


def _tiered(name: str, cfg: dict) -> object:
    """Seed 0 (every family and case) in the fast tier; the other seeds and ResNet-50 are slow."""
    slow = not name.endswith("-0") and "cifar" not in name
    return pytest.param(name, cfg, id=name, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("name, cfg", [_tiered(n, c) for n, c in CONFIGS])
def test_pycls_config_is_accepted_and_exact(name, cfg):
    spec = spec_from_pycls(cfg, source=f"{name}.yaml")  # raises if refused
    assert measure_complexity(spec) == complexity(spec)


def test_the_set_covers_every_case_of_the_issue():
    """SE_ON on blocks without SE, any RegNet block, conv stems with a last layer not 1x1 s1."""
    names = [n for n, _ in CONFIGS]
    se_ignored = [
        c for n, c in CONFIGS
        if n.startswith(("anynet-vanilla", "anynet-res_basic")) and c["ANYNET"]["SE_ON"]
    ]  # fmt: skip
    odd_stems = [
        c for n, c in CONFIGS
        if n.startswith("vit-conv")
        and (c["VIT"]["C_STEM_KERNELS"][-1] != 1 or c["VIT"]["C_STEM_STRIDES"][-1] != 1)
    ]  # fmt: skip
    assert se_ignored and odd_stems and len(CONFIGS) >= 40
    assert all(any(n.startswith(f"regnet-{b}") for n in names) for b in CNN_BLOCKS)
    assert {n.split("-")[0] for n in names} == {"anynet", "regnet", "resnet", "effnet", "vit"}


def test_no_effect_keys_warn_on_stderr_and_count_as_pycls(capsys):
    """SE on a basic block is ignored (as in pycls): the same counts as SE_ON false, one warning."""
    r = random.Random(5)
    cfg = anynet(r, "res_basic_block", "simple_stem_in")
    off = {**cfg, "ANYNET": {**cfg["ANYNET"], "SE_ON": False}}
    on = {**cfg, "ANYNET": {**cfg["ANYNET"], "SE_ON": True}}
    assert complexity(spec_from_pycls(on, "on.yaml")) == complexity(spec_from_pycls(off))
    err = capsys.readouterr().err
    assert "on.yaml: ANYNET.SE_ON: has no effect" in err
