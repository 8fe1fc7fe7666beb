"""Torch modules built from `make_plan(spec)`, so `complexity(spec)` counts exactly what runs.

Importing this package imports torch; `pycls_like.complexity` never does.
"""

from torch import nn

from pycls_like.models.anynet import AnyNet
from pycls_like.models.vit import ViT
from pycls_like.plan import ViTPlan, make_plan
from pycls_like.specs import ModelSpec

__all__ = ["AnyNet", "ViT", "build_model"]


def build_model(spec: ModelSpec, *, zero_init_final_gamma: bool = False) -> nn.Module:
    """The module for any spec family, built from its plan (zero_init_final_gamma: CNNs only)."""
    plan = make_plan(spec)
    if isinstance(plan, ViTPlan):
        return ViT(plan)  # no BN ends a residual branch in a ViT: nothing to zero
    return AnyNet(plan, zero_init_final_gamma=zero_init_final_gamma)
