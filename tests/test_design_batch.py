"""The vectorized complexity equals the scalar reference `complexity(spec)` exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycls_like.complexity import complexity
from pycls_like.design.batch import regnet_block_widths_batch, regnet_stages, stages_from_blocks
from pycls_like.design.constraints import Constraints
from pycls_like.design.families import FAMILIES
from pycls_like.design.registry import list_spaces
from pycls_like.design.space import load_space
from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_exponents, regnet_block_widths, stages_from_block_widths

CNN_SPACES = [name for name, family, _ in list_spaces() if family in ("anynet", "regnet")]


def _check_exact(family_name: str, cols: dict[str, np.ndarray], stages: int = 0) -> int:
    """Score every candidate in `cols` (no constraints) and compare with `complexity()`."""
    family = FAMILIES[family_name]
    n = len(next(iter(cols.values())))
    idx, flops, params, acts = family.accept(cols, n, Constraints())
    assert idx.tolist() == list(range(n))
    for i in range(n):
        values = {k: v[i : i + 1].tolist()[0] for k, v in cols.items()}
        cx = complexity(family.build(values))
        assert (flops[i], params[i], acts[i]) == (cx.flops, cx.params, cx.acts), values
    return n


def test_numpy_round_is_half_even_like_python():
    x = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.675, 1e15 + 0.5])
    assert np.round(x).tolist() == [float(round(v)) for v in x]


@pytest.mark.parametrize("name", CNN_SPACES)
def test_every_cnn_space_matches_scalar_complexity(name):
    space = load_space(name)
    cols, _ = space.columns(np.random.default_rng(7), 1500)
    assert _check_exact(space.family.name, cols, space.stages) == 1500


def test_regnet_full_stage_shortcut_matches_block_path():
    """Full rows from the exponent table have the stages the per-block path finds."""
    rng = np.random.default_rng(3)
    n = 20000
    d = rng.integers(1, 64, n)
    w0 = rng.integers(1, 32, n) * 8
    wa = np.round(rng.uniform(0, 256, n), 1)
    wm = np.round(rng.uniform(1.2, 3.5, n), 3)
    ds, ws, num, full = regnet_stages(d, w0, wa, wm, all_rows=False)
    widths, mask, max_s = regnet_block_widths_batch(d, w0, wa, wm)
    ds_b, ws_b = stages_from_blocks(widths, mask)
    full_b = (ds_b > 0).sum(axis=1) == max_s
    assert (full == full_b).all()
    rows = np.flatnonzero(full)
    width = max(ds.shape[1], ds_b.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
    used = pad(ds_b)[rows] > 0
    assert (pad(ds)[rows] == pad(ds_b)[rows]).all()
    assert (pad(ws)[rows][used] == pad(ws_b)[rows][used]).all()
    for i in range(0, n, 97):  # and the per-block path matches regnet.py
        ref = regnet_block_widths(int(d[i]), int(w0[i]), float(wa[i]), float(wm[i]))
        assert widths[i, : d[i]].tolist() == ref
        ref_ws, ref_ds = stages_from_block_widths(ref)
        exps = regnet_block_exponents(int(d[i]), int(w0[i]), float(wa[i]), float(wm[i]))
        assert (len(ref_ws) == max(exps) + 1) == bool(full_b[i])
        assert ds_b[i, : len(ref_ds)].tolist() == ref_ds


def test_exact_ties_take_the_exact_path():
    # w0 * wm / 8 = 2.5 exactly (round half even: 2); t_j = log(2) / log(4) = 0.5 at j = 2
    cols = {
        "d": np.array([6, 6, 6, 9]),
        "w0": np.array([8, 16, 16, 24]),
        "wa": np.array([12.0, 8.0, 8.0, 0.0]),
        "wm": np.array([2.5, 4.0, 2.0, 2.5]),
        "g": np.array([8, 8, 1, 4]),
    }
    _check_exact("regnet", cols)


regnet_specs = st.fixed_dictionaries(
    {
        "d": st.integers(1, 70),
        "w0": st.integers(1, 64).map(lambda k: 8 * k),
        "wa": st.one_of(st.floats(0, 300), st.integers(0, 3000).map(lambda k: k / 10)),
        "wm": st.one_of(st.floats(1.05, 4.0), st.integers(1050, 4000).map(lambda k: k / 1000)),
        "g": st.integers(1, 64),
        "b": st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]),
        "se_ratio": st.sampled_from([0.0, 0.25, 0.5]),
        "stem_type": st.sampled_from(["res_stem_cifar", "res_stem_in", "simple_stem_in"]),
        "stem_w": st.integers(1, 64),
        "head_w": st.sampled_from([0, 1280]),
        "resolution": st.integers(8, 320),
        "num_classes": st.integers(1, 1000),
    }
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(regnet_specs, min_size=1, max_size=6))
def test_regnet_random_specs_exact(specs):
    cols = {
        k: np.array([s[k] for s in specs], dtype=object if k == "stem_type" else None)
        for k in specs[0]
    }
    _check_exact("regnet", cols)


anynet_specs = st.integers(1, 5).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "ds": st.lists(st.integers(0, 6), min_size=n, max_size=n).map(
                lambda v: [max(1, x) for x in v]
            ),
            "ws": st.lists(st.integers(1, 1100), min_size=n, max_size=n),
            "ss": st.lists(st.integers(1, 3), min_size=n, max_size=n),
            "bs": st.lists(st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]), min_size=n, max_size=n),
            "gs": st.lists(st.integers(1, 48), min_size=n, max_size=n),
            "se_ratio": st.sampled_from([0.0, 0.25]),
            "stem_w": st.integers(1, 64),
            "head_w": st.sampled_from([0, 64]),
            "resolution": st.integers(8, 256),
            "stem_type": st.sampled_from(["res_stem_cifar", "res_stem_in", "simple_stem_in"]),
        }
    )
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(anynet_specs, st.integers(1, 4))
def test_anynet_random_specs_exact(spec, copies):
    cols = {
        k: np.array([v] * copies, dtype=object if k == "stem_type" else None)
        for k, v in spec.items()
    }
    _check_exact("anynet", cols, len(spec["ds"]))


@pytest.mark.parametrize("block", ["vanilla_block", "res_basic_block"])
def test_plain_blocks_and_mixed_stems_exact(block):
    rng = np.random.default_rng(5)
    n = 400
    cols = {
        "ds": rng.integers(1, 5, (n, 3)),
        "ws": rng.integers(1, 40, (n, 3)) * 8,
        "ss": rng.integers(1, 3, (n, 3)),
        "stem_type": rng.choice(
            np.array(["res_stem_cifar", "res_stem_in", "simple_stem_in"], dtype=object), n
        ),
        "block_type": np.full(n, block, dtype=object),
        "head_w": rng.choice([0, 256], n),
        "resolution": rng.integers(16, 128, n),
    }
    _check_exact("anynet", cols, 3)


def test_incompatible_bottleneck_is_an_error_in_both_paths():
    cols = {
        "d": np.array([1]),
        "w0": np.array([8]),
        "wa": np.array([0.0]),
        "wm": np.array([2.0]),
        "g": np.array([8]),
        "b": np.array([1.5]),
    }
    values = {k: v.tolist()[0] for k, v in cols.items()}
    with pytest.raises(ConfigError, match="not a multiple of group width"):
        complexity(FAMILIES["regnet"].build(values))
    with pytest.raises(ConfigError, match="params.b: a sampled model is invalid"):
        FAMILIES["regnet"].accept(cols, 1, Constraints())
