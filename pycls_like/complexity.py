"""Analytic flops (multiply-adds), params and activations of a spec, exact to the integer.

Follows shared/CONVENTIONS.md (the pycls counting rules): one accumulator method per primitive,
walked over the same structural plan the module builder uses. Never imports torch.
"""

from dataclasses import dataclass

from pycls_like.plan import BlockPlan, CNNPlan, StemPlan, ViTPlan, make_plan
from pycls_like.specs import ModelSpec


@dataclass(frozen=True)
class Complexity:
    """flops are multiply-adds (one MAC = 1), as in the papers' tables."""

    flops: int
    params: int
    acts: int

    def as_dict(self) -> dict[str, int]:
        return {"flops": self.flops, "params": self.params, "acts": self.acts}


class Tally:
    """Running counts plus the current spatial size (batch size 1)."""

    __slots__ = ("h", "w", "flops", "params", "acts")

    def __init__(self, h: int, w: int):
        self.h, self.w, self.flops, self.params, self.acts = h, w, 0, 0, 0

    def conv(
        self, c_in: int, c_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False
    ) -> None:
        """k x k conv with padding k//2: h' = (h - 1) // stride + 1."""
        self.h, self.w = (self.h - 1) // stride + 1, (self.w - 1) // stride + 1
        hw = self.h * self.w
        self.flops += k * k * c_in * c_out * hw // groups + (c_out * hw if bias else 0)
        self.params += k * k * c_in * c_out // groups + (c_out if bias else 0)
        self.acts += c_out * hw

    def patchify(self, c_in: int, c_out: int, k: int) -> None:
        """Non-overlapping k x k conv with stride k and bias (h divisible by k)."""
        self.h, self.w = self.h // k, self.w // k
        hw = self.h * self.w
        self.flops += k * k * c_in * c_out * hw + c_out * hw
        self.params += k * k * c_in * c_out + c_out
        self.acts += c_out * hw

    def norm(self, c: int) -> None:
        """Batch norm or layer norm: 2c learnable scalars, nothing else."""
        self.params += 2 * c

    def max_pool(self, c: int, *, stride: int) -> None:
        self.h, self.w = (self.h - 1) // stride + 1, (self.w - 1) // stride + 1
        self.acts += c * self.h * self.w

    def linear(self, c_in: int, c_out: int, *, locations: int = 1, bias: bool = True) -> None:
        self.flops += (c_in * c_out + (c_out if bias else 0)) * locations
        self.params += c_in * c_out + (c_out if bias else 0)
        self.acts += c_out * locations

    def se(self, c: int, c_se: int) -> None:
        """Squeeze-excitation: two biased 1x1 convs on the pooled 1 x 1 map; the map keeps its size."""
        self.flops += c * c_se + c_se + c_se * c + c
        self.params += c * c_se + c_se + c_se * c + c
        self.acts += c_se + c

    def attention(self, d: int, heads: int, seq_len: int) -> None:
        """Multi-head self-attention: qkv projection, q.k^T, weights.v, output projection."""
        head_d, n = d // heads, seq_len
        self.linear(d, 3 * d, locations=n)
        self.flops += heads * n * head_d * n + heads * n * n * head_d
        self.acts += heads * n * n + heads * n * head_d
        self.linear(d, d, locations=n)


def _count_stem(t: Tally, stem: StemPlan) -> None:
    if stem.kind == "res_stem_in":
        t.conv(stem.w_in, stem.w_out, 7, stride=2)
        t.norm(stem.w_out)
        t.max_pool(stem.w_out, stride=2)
    else:  # res_stem_cifar (s1), simple_stem_in and effnet_stem (s2): conv3x3 + norm
        t.conv(stem.w_in, stem.w_out, 3, stride=1 if stem.kind == "res_stem_cifar" else 2)
        t.norm(stem.w_out)


def _count_block(t: Tally, b: BlockPlan) -> None:
    h, w = t.h, t.w
    if b.kind == "mbconv":
        if b.w_b != b.w_in:
            t.conv(b.w_in, b.w_b, 1)
            t.norm(b.w_b)
        t.conv(b.w_b, b.w_b, b.kernel, stride=b.stride, groups=b.w_b)
        t.norm(b.w_b)
        if b.w_se:
            t.se(b.w_b, b.w_se)
        t.conv(b.w_b, b.w_out, 1)
        t.norm(b.w_out)
        return
    if b.kind == "res_bottleneck_block":
        s1, s3 = (b.stride, 1) if b.stride_1x1 else (1, b.stride)
        t.conv(b.w_in, b.w_b, 1, stride=s1)
        t.norm(b.w_b)
        t.conv(b.w_b, b.w_b, 3, stride=s3, groups=b.groups)
        t.norm(b.w_b)
        if b.w_se:
            t.se(b.w_b, b.w_se)
        t.conv(b.w_b, b.w_out, 1)
        t.norm(b.w_out)
    else:  # vanilla_block, res_basic_block: two conv3x3
        t.conv(b.w_in, b.w_out, 3, stride=b.stride)
        t.norm(b.w_out)
        t.conv(b.w_out, b.w_out, 3)
        t.norm(b.w_out)
    if b.has_proj:
        t.h, t.w = h, w
        t.conv(b.w_in, b.w_out, 1, stride=b.stride)  # same output size as the main path
        t.norm(b.w_out)


def _count_cnn(plan: CNNPlan) -> Tally:
    t = Tally(plan.resolution, plan.resolution)
    _count_stem(t, plan.stem)
    for blocks in plan.stages:
        for block in blocks:
            _count_block(t, block)
    head = plan.head
    w_in = head.w_in
    if head.head_w:
        t.conv(w_in, head.head_w, 1)
        t.norm(head.head_w)
        w_in = head.head_w
    t.h = t.w = 1  # global average pool
    t.linear(w_in, head.num_classes)
    return t


def _count_vit(plan: ViTPlan) -> Tally:
    t = Tally(plan.resolution, plan.resolution)
    d = plan.d
    if plan.stem_ws:
        w_in = 3
        for w, s in zip(plan.stem_ws, plan.stem_ss, strict=True):
            t.conv(w_in, w, 3, stride=s)
            t.norm(w)
            w_in = w
        t.conv(w_in, d, 1, bias=True)
    else:
        t.patchify(3, d, plan.patch_size)
    n = plan.seq_len
    t.params += n * d + (d if plan.class_token else 0)  # position embeddings, class token
    for _ in range(plan.depth):
        t.norm(d)
        t.attention(d, plan.heads, n)
        t.norm(d)
        t.linear(d, plan.mlp_d, locations=n)
        t.linear(plan.mlp_d, d, locations=n)
    t.norm(d)
    t.linear(d, plan.num_classes)
    return t


def complexity(spec: ModelSpec) -> Complexity:
    """Exact flops (multiply-adds), params and activations of `spec` at its resolution."""
    plan = make_plan(spec)
    t = _count_vit(plan) if isinstance(plan, ViTPlan) else _count_cnn(plan)
    return Complexity(t.flops, t.params, t.acts)
