"""Measured flops/params/acts of a built module, by fvcore tracing, under CONVENTIONS.md rules.

The independent check on `pycls_like.complexity`: the analytic counter walks the plan, this
traces the module built from it (batch 1, eval mode) and must agree exactly. fvcore's defaults
differ from the conventions in places, so every op the models emit gets an explicit handle:
biases of convs and linears count one flop per output element (fvcore ignores them); attention
matmuls inside `scaled_dot_product_attention` are counted (fvcore is blind to them); norms, pooling
and elementwise ops count nothing (fvcore gives norms and average pooling flops); max pools count
their output as acts. An op with no handle raises, so a new layer cannot go uncounted silently.
"""

import math
from collections import Counter
from typing import Any

import torch
from fvcore.nn.jit_analysis import JitModelAnalysis
from fvcore.nn.jit_handles import conv_flop_jit, get_shape, linear_flop_jit
from torch import nn

from pycls_like.complexity import Complexity
from pycls_like.models import build_model
from pycls_like.specs import ModelSpec

# Ops that count 0 flops and 0 acts (CONVENTIONS.md "Three figures"); shape ops, ReLU and
# dropout are already ignored by fvcore.
_ZERO_OPS = (
    "aten::batch_norm",
    "aten::layer_norm",
    "aten::adaptive_avg_pool2d",
    "aten::mean",
    "aten::add",
    "aten::add_",
    "aten::mul",
    "aten::sigmoid",
    "aten::silu",
    "aten::silu_",
    "aten::gelu",
)


def _numel(value: Any) -> int:
    return math.prod(get_shape(value))


def _has_bias(value: Any) -> bool:
    return not isinstance(value.type(), torch._C.NoneType)


def _conv(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """fvcore's MAC count plus one flop per output element for a bias; acts = output elements."""
    out = _numel(outputs[0])
    flops = conv_flop_jit(inputs, outputs)["conv"] + (out if _has_bias(inputs[2]) else 0)
    return Counter(flops=flops, acts=out)


def _linear(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """aten::linear(x, weight, bias): MACs over all locations plus the bias adds."""
    out = _numel(outputs[0])
    flops = linear_flop_jit(inputs, outputs) + (out if _has_bias(inputs[2]) else 0)
    return Counter(flops=flops, acts=out)


def _attention(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """q.k^T and weights.v: flops n*h*L*S*(d_qk + d_v), acts n*h*L*S scores + n*h*L*d_v outputs."""
    *nh, length, d_qk = get_shape(inputs[0])
    source = get_shape(inputs[1])[-2]
    d_v = get_shape(inputs[2])[-1]
    scores = math.prod(nh) * length * source
    return Counter(flops=scores * (d_qk + d_v), acts=scores + _numel(outputs[0]))


def _max_pool(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    return Counter(flops=0, acts=_numel(outputs[0]))


_HANDLES = {
    "aten::_convolution": _conv,
    "aten::linear": _linear,
    "aten::scaled_dot_product_attention": _attention,
    "aten::max_pool2d": _max_pool,
}


def measure_module(model: nn.Module, resolution: int) -> Complexity:
    """Trace `model` on one zero image of `resolution` px and count by CONVENTIONS.md rules."""
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else None
        x = torch.zeros(1, 3, resolution, resolution, device=device)
        analysis = JitModelAnalysis(model, (x,))
        analysis.clear_op_handles()
        analysis.set_op_handle(**_HANDLES, **dict.fromkeys(_ZERO_OPS))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        with torch.no_grad():
            counts = analysis.by_operator()
        unsupported = analysis.unsupported_ops()
    finally:
        model.train(was_training)
    if unsupported:
        raise RuntimeError(f"ops with no counting rule: {dict(unsupported)}; add a handle")
    params = sum(p.numel() for p in model.parameters())
    return Complexity(int(counts["flops"]), params, int(counts["acts"]))


def measure_complexity(spec: ModelSpec, model: nn.Module | None = None) -> Complexity:
    """Counts measured on the module built from `spec` (or on `model`), batch 1, at spec.resolution."""
    return measure_module(model if model is not None else build_model(spec), spec.resolution)
