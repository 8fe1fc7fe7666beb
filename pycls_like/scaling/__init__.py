"""Compound model scaling (Fast and Accurate Model Scaling, Dollar, Singh, Girshick 2021).

- `strategy`: strategy strings (`dwr`, `fast` = `d1_w8_g8_r1`) -> per-dimension exponents.
- `scaler`: `scale(spec, strategy, factor)`, a pure spec -> spec function (CONVENTIONS.md "Scaling").
- `growth`: `growth_exponents(spec, strategies)`, how flops/params/acts grow with the factor.
- `rules`: `fit_scaling_rules(table)`, a strategy fitted to the best models of a population.
- `commands`: `pycls-like scale`.
Only the numpy-free parts are imported here, so `import pycls_like.scaling` stays instant.
"""

from pycls_like.scaling.scaler import resnet_to_anynet, scale
from pycls_like.scaling.strategy import (
    exponents,
    parse_strategy,
    scaling_factors,
    strategy_from_exponents,
)

__all__ = [
    "exponents",
    "parse_strategy",
    "resnet_to_anynet",
    "scale",
    "scaling_factors",
    "strategy_from_exponents",
]
