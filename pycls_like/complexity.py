"""Analytic flops (multiply-adds), params and activations of a spec, exact to the integer.

Follows CONVENTIONS.md (the pycls counting rules): `Tally` is a layer sink (`layers.Sink`) with one
accumulator per primitive; it walks the layers of `pycls_like.layers` over the plan, stage by
stage (a stage's later blocks are alike: one is counted and multiplied). The same `Tally` counts
numpy arrays of candidates for the sampler (`design/batch.py`). Never imports torch.
"""

from typing import Any, NamedTuple

from pycls_like.arith import where
from pycls_like.plan import CNNPlan, ViTPlan, expand
from pycls_like.specs import ModelSpec
from pycls_like.stagecount import head_counter, network_counter, stage_counter, stem_counter


class Complexity(NamedTuple):
    """flops are multiply-adds (one MAC = 1), as in the papers' tables. A tuple: immutable, and
    the cheapest record to make once per new config."""

    flops: int
    params: int
    acts: int

    def as_dict(self) -> dict[str, int]:
        return {"flops": self.flops, "params": self.params, "acts": self.acts}


class Tally:
    """Running counts plus the current (square) spatial size, batch size 1.

    Values may be ints or numpy arrays (one entry per candidate); `when` masks optional layers.
    With `flops_only`, params and acts are not kept (the sampler's cheap first pass).
    """

    __slots__ = ("h", "flops", "params", "acts", "full")

    def __init__(self, h: Any, *, flops_only: bool = False):
        self.h, self.flops, self.params, self.acts, self.full = h, 0, 0, 0, not flops_only

    def conv(
        self,
        name: str,
        c_in: Any,
        c_out: Any,
        k: int,
        *,
        stride: Any = 1,
        groups: Any = 1,
        bias: bool = False,
        when: Any = True,
    ) -> None:
        """k x k conv with padding k//2: h' = (h - 1) // stride + 1."""
        if when is False:
            return
        h = self.h if type(stride) is int and stride == 1 else (self.h - 1) // stride + 1
        hw = h * h
        flops = k * k * c_in * c_out * hw // groups + (c_out * hw if bias else 0)
        if when is True:
            self.h = h
        else:
            self.h, flops = where(when, h, self.h), flops * when
        self.flops += flops
        if self.full:
            self.params += (k * k * c_in * c_out // groups + (c_out if bias else 0)) * when
            self.acts += c_out * hw * when

    def norm(self, name: str, c: Any, *, final: bool = False, when: Any = True) -> None:
        """Batch norm or layer norm: 2c learnable scalars, nothing else."""
        if self.full and when is not False:
            self.params += 2 * c * when

    def act(self, name: str, *, when: Any = True) -> None:
        """Activations are free."""

    def se(self, name: str, c: Any, c_se: Any) -> None:
        """Squeeze-excitation: two biased 1x1 convs on the pooled 1 x 1 map; the map keeps its size."""
        if not hasattr(c_se, "shape") and not c_se:  # no SE (arrays are masked instead)
            return
        on = c_se > 0
        cost = (c * c_se + c_se + c_se * c + c) * on
        self.flops += cost
        if self.full:
            self.params += cost
            self.acts += (c_se + c) * on

    def max_pool(self, name: str, c: Any, *, k: int, stride: int) -> None:
        self.h = (self.h - 1) // stride + 1
        if self.full:
            self.acts += c * self.h * self.h

    def pool(self, name: str) -> None:
        self.h = 1

    def dropout(self, name: str, p: float) -> None:
        """Dropout is free."""

    def linear(self, name: str, c_in: Any, c_out: Any, *, locations: int = 1) -> None:
        """A biased linear layer applied at `locations` tokens."""
        self.flops += (c_in * c_out + c_out) * locations
        if self.full:
            self.params += c_in * c_out + c_out
            self.acts += c_out * locations

    def patchify(self, c_in: int, c_out: int, k: int) -> None:
        """Non-overlapping k x k conv with stride k and bias (h divisible by k)."""
        self.h //= k
        hw = self.h * self.h
        self.flops += k * k * c_in * c_out * hw + c_out * hw
        self.params += k * k * c_in * c_out + c_out
        self.acts += c_out * hw

    def attention(self, d: int, heads: int, seq_len: int) -> None:
        """Multi-head self-attention: qkv projection, q.k^T, weights.v, output projection."""
        head_d, n = d // heads, seq_len
        self.linear("qkv", d, 3 * d, locations=n)
        self.flops += heads * n * head_d * n + heads * n * n * head_d
        self.acts += heads * n * n + heads * n * head_d
        self.linear("proj", d, d, locations=n)


def count_cnn(plan: CNNPlan) -> tuple[int, int, int]:
    """Stem, each stage (its first block, then one later block times depth - 1), head.

    A stage is counted by `stagecount.stage_counter`: this Tally's own rules over the kind's
    layers, recorded once as straight-line code (a method call per layer costs too much)."""
    stages = plan.stages
    if stages:  # the usual case: every stage of one kind, counted by one generated function
        first = stages[0]
        count = network_counter(plan.stem, first.block, first.stride_1x1, first.se_ratio > 0)
        counted = count(plan.resolution, plan.stem_w, stages, plan.head_w, plan.num_classes)
        if counted is not None:
            return counted
    flops, params, acts, h = stem_counter(plan.stem)(plan.resolution, plan.stem_w)
    w_out = plan.stem_w
    for block, d, w_in, w_out, stride, b, g, se_r, kernel, stride_1x1 in plan.stages:
        f, p, a, h = stage_counter(block, stride_1x1, se_r > 0)(
            h, w_in, w_out, stride, b, g, se_r, kernel, d
        )
        flops, params, acts = flops + f, params + p, acts + a
    f, p, a, h = head_counter()(h, w_out, plan.head_w, plan.num_classes)
    return flops + f, params + p, acts + a


def count_vit(plan: ViTPlan) -> tuple[int, int, int]:
    t = Tally(plan.resolution)
    d = plan.hidden_d
    if plan.conv_stem:
        w_in = 3
        for w, s in zip(plan.stem_ws, plan.stem_ss, strict=True):
            t.conv("conv", w_in, w, 3, stride=s)
            t.norm("bn", w)
            w_in = w
        t.conv("last", w_in, d, plan.stem_k, stride=plan.stem_s, bias=True)
    else:
        t.patchify(3, d, plan.patch_size)
    n = plan.seq_len
    t.params += n * d + (d if plan.class_token else 0)  # position embeddings, class token
    f, p, a = t.flops, t.params, t.acts  # the encoder blocks are alike: count one
    t.norm("ln_1", d)
    t.attention(d, plan.heads, n)
    t.norm("ln_2", d)
    t.linear("mlp_1", d, plan.mlp_d, locations=n)
    t.linear("mlp_2", plan.mlp_d, d, locations=n)
    k = plan.depth
    t.flops, t.params, t.acts = (
        f + (t.flops - f) * k,
        p + (t.params - p) * k,
        a + (t.acts - a) * k,
    )
    t.norm("ln", d)
    t.linear("head", d, plan.num_classes)
    return t.flops, t.params, t.acts


def complexity(spec: ModelSpec) -> Complexity:
    """Exact flops (multiply-adds), params and activations of `spec` at its resolution.

    Each call expands the spec afresh (no cache): a sampler's or a sweep's specs are all new."""
    plan = expand(spec)
    return Complexity(*(count_vit(plan) if type(plan) is ViTPlan else count_cnn(plan)))
