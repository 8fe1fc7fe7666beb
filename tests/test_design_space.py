"""Shipped spaces load and sample; samples satisfy constraints; populations are deterministic."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from pycls_like.complexity import complexity
from pycls_like.design import list_spaces, load_space
from pycls_like.design.population import CHUNK
from pycls_like.errors import ConfigError
from pycls_like.specs import spec_from_dict

SPACES = [name for name, _, _ in list_spaces()]


def test_shipped_spaces_are_listed():
    assert {"anynetx_a", "anynetx_e", "regnetx", "regnety", "regnetx_refined"} <= set(SPACES)
    assert {"cifar_vanilla", "cifar_resnet", "cifar_resnext_a", "cifar_resnext_b"} <= set(SPACES)
    assert {"cifar_anynetx", "cifar_regnetx", "vit_stem", "vit_stem_cifar"} <= set(SPACES)
    assert all(description for _, _, description in list_spaces())


def _satisfies(space, sample) -> None:
    cx = complexity(sample.spec)
    assert cx == sample.complexity
    cons = space.constraints
    for metric, band in cons.bands:
        value = getattr(cx, metric)
        assert (band.lo is None or value >= band.lo) and (band.hi is None or value <= band.hi)
    if space.family.cnn:
        stages = space.family.stage_vars(sample.spec)
        if cons.stages is not None:
            assert cons.stages.lo <= stages["num_stages"] <= cons.stages.hi
        if cons.full_stages:
            from pycls_like.regnet import regnet_block_exponents

            spec = sample.spec
            exps = regnet_block_exponents(spec.d, spec.w0, spec.wa, spec.wm)
            assert stages["num_stages"] == max(exps) + 1
    for predicate in cons.where:
        assert predicate({**sample.params, **vars_of(sample.spec)})


def vars_of(spec) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(spec).items()}


@pytest.mark.parametrize("name", SPACES)
def test_every_space_samples_within_its_constraints(name):
    space = load_space(name)
    samples = space.sample(60, seed=0)
    assert len(samples) == 60 and [s.index for s in samples] == list(range(60))
    for sample in samples:
        _satisfies(space, sample)
        assert set(sample.params) == set(space.flat_names)
        assert spec_from_dict(json.loads(json.dumps(sample.record()["spec"]))) == sample.spec


def test_names_are_case_insensitive_and_paths_work(tmp_path):
    a = load_space("RegNetX").sample(3, 1)
    path = tmp_path / "copy.yaml"
    path.write_text(Path(load_space("regnetx").source).read_text())
    b = load_space(str(path)).sample(3, 1)
    assert [s.spec for s in a] == [s.spec for s in b]


def test_prefix_and_split_determinism():
    space = load_space("regnetx")
    full = space.sample(40, seed=11)
    assert [s.spec for s in space.sample(15, seed=11)] == [s.spec for s in full[:15]]
    parts = space.sample(10, 11) + space.sample(17, 11, start=10) + space.sample(13, 11, start=27)
    assert [s.spec for s in parts] == [s.spec for s in full]
    assert [s.spec for s in space.sample(40, seed=12)] != [s.spec for s in full]


def test_population_spans_chunks_deterministically():
    """Enough samples to need several chunks; a prefix of it is still the smaller population."""
    space = load_space("regnetx")
    big = space.draw(200, seed=5)
    assert big.candidates > CHUNK
    assert [s.spec for s in space.sample(120, seed=5)] == [s.spec for s in big.samples[:120]]


def test_stratified_bins_each_filled():
    space = load_space("regnetx")
    bins, n = 5, 52
    samples = space.sample(n, seed=3, stratify=bins)
    lo, hi = math.log(360e6), math.log(400e6)
    counts = np.bincount(
        [
            min(int((math.log(s.complexity.flops) - lo) / (hi - lo) * bins), bins - 1)
            for s in samples
        ],
        minlength=bins,
    )
    assert counts.tolist() == [11, 11, 10, 10, 10]


def test_stratify_by_params_and_needs_a_closed_band():
    space = load_space("cifar_anynetx", ["constraints.params=[50e3, 500e3]"])
    samples = space.sample(20, seed=0, stratify=4, stratify_by="params")
    assert len(samples) == 20
    with pytest.raises(Exception, match="needs a closed acts band"):
        space.sample(4, seed=0, stratify=2, stratify_by="acts")


def test_dedupe_removes_repeats():
    space = load_space(
        "cifar_vanilla", ["params.ds={type: int, range: [1, 2]}", "params.ws=[16, 32, 64]"]
    )
    samples = space.sample(8, seed=0, dedupe=True, max_candidates=50_000)
    assert len({s.spec for s in samples}) == 8 == len(samples)


def test_optim_section_combines_with_any_space():
    samples = load_space("cifar_regnetx", optim="sgd_adamw").sample(200, seed=0)
    for s in samples:
        o = s.optim
        assert set(o) == {"optimizer", "lr", "wd", "epochs", "warmup_epochs"}
        lo, hi = (0.05, 2.0) if o["optimizer"] == "sgd" else (1e-4, 1e-2)
        assert lo <= o["lr"] <= hi and s.params["optim.lr"] == o["lr"]
        assert s.record()["optim"] == o
    assert {s.optim["optimizer"] for s in samples} == {"sgd", "adamw"}
    plain = load_space("cifar_regnetx").sample(200, seed=0)
    assert [s.spec for s in plain] == [s.spec for s in samples]  # optim draws come after


@pytest.mark.parametrize(
    "name, resolution",
    [
        ("cifar_anynetx", "{type: choice, values: [24, 32, 40]}"),
        ("cifar_regnetx", "{type: int, range: [24, 40], q: 8}"),
        ("vit_stem_cifar", "{type: choice, values: [16, 32, 48]}"),
    ],
)
def test_resolution_is_sampleable_in_every_family(name, resolution):
    space = load_space(name, [f"params.resolution={resolution}", "constraints.flops=null"])
    samples = space.sample(150, seed=0)
    assert len({s.spec.resolution for s in samples}) == 3
    assert all(complexity(s.spec) == s.complexity for s in samples)
    assert "resolution" in samples[0].params


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_where_predicates_on_expanded_stages():
    space = load_space(
        "cifar_regnetx",
        ['constraints.where=["stage_ws[-1] <= 256", "num_stages == 4", "w0 <= wa"]'],
    )
    for s in space.sample(40, seed=0):
        stages = space.family.stage_vars(s.spec)
        assert (
            stages["stage_ws"][-1] <= 256 and stages["num_stages"] == 4 and s.spec.w0 <= s.spec.wa
        )


def test_reported_complexity_equals_cli_complexity(tmp_path, cli):
    for name in ("regnetx", "anynetx_e", "vit_stem_cifar"):
        sample = load_space(name).sample(1, seed=4)[0]
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(sample.record()["spec"]))
        code, out, _ = cli("complexity", "--json", str(path))
        assert code == 0
        record = json.loads(out)
        assert (record["flops"], record["params"], record["acts"]) == (
            sample.complexity.flops,
            sample.complexity.params,
            sample.complexity.acts,
        )


def test_sample_table_is_plain_dicts():
    rows = load_space("cifar_resnet").sample_table(3, seed=0)
    assert all(
        isinstance(r, dict) and {"spec", "flops", "params", "acts", "ds_0"} <= set(r) for r in rows
    )
    json.dumps(rows)


def test_vit_space_with_direct_widths_and_pseudo_parameter_clash(tmp_path):
    path = tmp_path / "vit.yaml"
    text = "family: vit\nparams:\n  depth: 4\n  heads: 2\n  hidden_d: {type: choice, values: [64, 128]}\n  mlp_d: 256\n  resolution: 32\n  patch_size: 4\n"
    path.write_text(text)
    samples = load_space(path).sample(10, seed=0)
    assert {s.spec.hidden_d for s in samples} == {64, 128}
    assert all(s.spec.mlp_d == 256 for s in samples)
    path.write_text(text + "  head_d: 32\n")
    with pytest.raises(ConfigError, match="params.head_d: give hidden_d or head_d"):
        load_space(path)


@pytest.mark.parametrize(
    "old, new, value, hidden_d",
    [
        ("head_w", "head_d", "16", {32}),
        ("d", "hidden_d", "{type: choice, values: [32, 64]}", {32, 64}),
    ],
)
def test_deprecated_vit_names_still_load(tmp_path, capsys, old, new, value, hidden_d):
    """Spaces written before a rename (head_w -> head_d, d -> hidden_d) load, with a note."""
    path = tmp_path / "vit.yaml"
    text = "family: vit\nparams:\n  depth: 2\n  heads: 2\n  mlp_ratio: 2.0\n  resolution: 32\n  patch_size: 4\n"
    path.write_text(text + f"  {old}: {value}\n")
    specs = [s.spec for s in load_space(path).sample(6, seed=0)]
    assert f"params.{old} is deprecated; use {new}" in capsys.readouterr().err
    path.write_text(text + f"  {new}: {value}\n")
    assert [s.spec for s in load_space(path).sample(6, seed=0)] == specs
    assert {s.hidden_d for s in specs} == hidden_d
