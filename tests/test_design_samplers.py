"""Samplers draw from their declared laws: KS tests for continuous ones, chi-square for discrete."""

import math
from fractions import Fraction

import numpy as np
import pytest
import yaml
from scipy import stats

from pycls_like.design.samplers import parse_sampler
from pycls_like.design.space import load_space
from pycls_like.errors import ConfigError

N = 20000
ALPHA = 1e-3  # fixed seeds: these are regression checks of the laws, not flaky tests


def draw(spec: dict, n: int = N, seed: int = 0) -> np.ndarray:
    return parse_sampler(spec, "x").draw(np.random.default_rng(seed), n)


def chi_square(values: np.ndarray, pmf: dict) -> float:
    support = sorted(pmf)
    counts = np.array([np.sum(values == v) for v in support])
    assert counts.sum() == len(values), "values outside the declared support"
    expected = np.array([pmf[v] for v in support]) * len(values)
    return stats.chisquare(counts, expected).pvalue


@pytest.mark.parametrize(
    "spec, law",
    [
        ({"type": "uniform", "range": [0.5, 3.0]}, stats.uniform(0.5, 2.5)),
        ({"type": "log_uniform", "range": [1e-4, 1.0]}, stats.loguniform(1e-4, 1.0)),
        ({"type": "log_uniform", "range": ["1e-5", "1e-3"]}, stats.loguniform(1e-5, 1e-3)),
    ],
)
def test_continuous_samplers_ks(spec, law):
    values = draw(spec)
    assert stats.kstest(values, law.cdf).pvalue > ALPHA


def test_uniform_quantized_every_multiple_equally_likely():
    values = draw({"type": "uniform", "range": [8, 256], "q": 8})
    pmf = {v: 1 / 32 for v in range(8, 257, 8)}
    assert chi_square(values, pmf) > ALPHA
    assert values.dtype == np.int64


def test_int_sampler():
    values = draw({"type": "int", "range": [1, 16]})
    assert chi_square(values, {v: 1 / 16 for v in range(1, 17)}) > ALPHA


def test_log_uniform_quantized_keeps_cell_mass():
    """P(k q) is the log-uniform mass of [k q, (k+1) q) on [lo, hi + q)."""
    lo, hi, q = 8, 256, 8
    values = draw({"type": "log_uniform", "range": [lo, hi], "q": q})
    total = math.log((hi + q) / lo)
    pmf = {k * q: math.log((k + 1) / k) / total for k in range(lo // q, hi // q + 1)}
    assert chi_square(values, pmf) > ALPHA


def test_decimal_quantization_is_exact():
    values = draw({"type": "log_uniform", "range": [8, 256], "q": 0.1}, n=5000)
    assert all(v == float(Fraction(round(v * 10), 10)) for v in values)  # k/10, correctly rounded
    assert all(len(repr(float(v)).split(".")[1]) <= 1 for v in values)  # prints as 24.3
    wm = draw({"type": "log_uniform", "range": [2.0, 3.0], "q": 0.001}, n=5000)
    assert all(float(f"{v:.3f}") == v for v in wm) and wm.min() >= 2 and wm.max() <= 3


def test_power2():
    values = draw({"type": "power2", "range": [1, 32]})
    assert chi_square(values, {2**e: 1 / 6 for e in range(6)}) > ALPHA


def test_power2_or_log_uniform():
    """Powers of two below q, multiples of q above, each with the log-uniform mass of its cell."""
    lo, hi, q = 1, 32, 8
    values = draw({"type": "power2_or_log_uniform", "range": [lo, hi], "q": q})
    total = math.log((hi + q) / lo)
    pmf = {p: math.log(2) / total for p in (1, 2, 4)}
    pmf |= {k * q: math.log((k + 1) / k) / total for k in range(1, hi // q + 1)}
    assert chi_square(values, pmf) > ALPHA


def test_choice():
    values = draw({"type": "choice", "values": ["sgd", "adamw", "lamb"]})
    assert chi_square(values, {"sgd": 1 / 3, "adamw": 1 / 3, "lamb": 1 / 3}) > ALPHA


def test_space_parameters_follow_their_laws(tmp_path):
    """An unconstrained space: KS for continuous parameters, chi-square for discrete ones."""
    path = tmp_path / "space.yaml"
    space = {
        "family": "regnet",
        "params": {
            "d": {"type": "int", "range": [10, 20]},
            "w0": {"type": "power2", "range": [8, 128]},
            "wa": {"type": "uniform", "range": [8, 64]},
            "wm": {"type": "log_uniform", "range": [1.5, 3.0]},
            "g": {"type": "choice", "values": [8, 16]},
        },
        "constraints": {"full_stages": False},
    }
    path.write_text(yaml.safe_dump(space))
    samples = load_space(path).sample(4000, seed=1)
    col = {k: np.array([s.params[k] for s in samples]) for k in ("d", "w0", "wa", "wm", "g")}
    assert stats.kstest(col["wa"], stats.uniform(8, 56).cdf).pvalue > ALPHA
    assert stats.kstest(col["wm"], stats.loguniform(1.5, 3.0).cdf).pvalue > ALPHA
    assert chi_square(col["d"], {v: 1 / 11 for v in range(10, 21)}) > ALPHA
    assert chi_square(col["w0"], {8: 0.2, 16: 0.2, 32: 0.2, 64: 0.2, 128: 0.2}) > ALPHA
    assert chi_square(col["g"], {8: 0.5, 16: 0.5}) > ALPHA


def test_sorted_stage_values_keep_their_marginal(tmp_path):
    """order: non_decreasing sorts each draw; the pooled per-stage values keep the declared law."""
    space = load_space("anynetx_e", ["constraints.flops=null"])
    samples = space.sample(3000, seed=2)
    ds = np.array([s.spec.ds for s in samples])
    assert (np.diff(ds, axis=1) >= 0).all()
    assert chi_square(ds.ravel(), {v: 1 / 16 for v in range(1, 17)}) > ALPHA
    ws = np.array([s.spec.ws for s in samples])
    assert (np.diff(ws, axis=1) >= 0).all()


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "gaussian", "range": [0, 1]}, "x.type: unknown sampler type 'gaussian'"),
        ({"type": "uniform", "range": [3, 1]}, "x.range: inverted range [3, 1]"),
        ({"type": "log_uniform", "range": [0, 1]}, "x.range: needs lo > 0"),
        ({"type": "uniform", "range": [1, 10], "q": 4}, "not a multiple of q=4"),
        ({"type": "power2", "range": [3, 32]}, "powers of two"),
        ({"type": "choice", "values": []}, "x.values: choice needs a non-empty"),
        ({"type": "int", "range": [1, 5], "step": 2}, "x.step: unknown sampler option"),
        ({"type": "uniform", "range": [1]}, "x.range: needs `range: [lo, hi]`"),
        ({"type": "uniform", "range": ["a", 2]}, "x.range: must be a number"),
    ],
)
def test_bad_samplers(spec, message):
    with pytest.raises(ConfigError) as err:
        parse_sampler(spec, "x")
    assert message in str(err.value)
