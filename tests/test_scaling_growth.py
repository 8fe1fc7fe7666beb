"""Growth exponents of scaled models (Fast and Accurate Model Scaling, sec. 3, Table 1)."""

import numpy as np
import pytest

from pycls_like.errors import ConfigError
from pycls_like.presets import PRESETS
from pycls_like.scaling.growth import growth_exponents, power_law_fit


def test_power_law_fit_exact():
    x = np.array([1, 2, 4, 8])
    fit = power_law_fit(x, 3 * x**0.5)
    assert (fit.exponent, np.exp(fit.log_c), fit.r2) == pytest.approx((0.5, 3, 1))
    with pytest.raises(ConfigError):
        power_law_fit([2, 2], [1, 3])


def test_regnety_400mf_paper_finding():
    """acts ~s under depth or resolution scaling, ~sqrt(s) under width, close to it under fast.

    The O(s) rates are large-s rates: below ~4x the stem and the stride-2 first block of each
    stage (which depth scaling never copies) still hold a large share of the activations, so the
    fit spans 4x-64x (about 1.6 to 26 GF from this 0.4 GF baseline).
    """
    table = growth_exponents(PRESETS["RegNetY-400MF"], factors=(4, 8, 16, 32, 64))
    e = table.set_index("strategy")
    assert 0.9 <= e.at["d", "acts_e"] <= 1.1
    assert 0.9 <= e.at["r", "acts_e"] <= 1.1
    assert 0.4 <= e.at["w", "acts_e"] <= 0.6
    assert 0.5 <= e.at["fast", "acts_e"] <= 0.65
    assert ((e["flops_e"] > 0.9) & (e["flops_e"] < 1.1)).all()  # ~s by construction
    assert abs(e.at["r", "params_e"]) < 1e-9  # resolution adds no parameters
    assert (e[["flops_r2", "params_r2", "acts_r2"]] > 0.99).all().all()


def test_regnety_400mf_small_factors():
    """Over 1x-16x the same ordering holds; depth's acts exponent is still below 1 (~0.83)."""
    factors = (1, 2, 4, 8, 16)
    e = growth_exponents(PRESETS["RegNetY-400MF"], factors=factors).set_index("strategy")["acts_e"]
    assert list(e.index) == ["d", "w", "r", "dw", "dwr", "fast"]
    assert 0.9 <= e["r"] <= 1.1 and 0.4 <= e["w"] <= 0.6 and 0.5 <= e["fast"] <= 0.65
    assert 0.75 <= e["d"] < e["r"]
    assert e["w"] < e["fast"] < e["dw"] < e["dwr"] < e["d"]
