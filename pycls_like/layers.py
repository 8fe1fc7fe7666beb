"""The layers of every CNN stem, block and head, written once (CONVENTIONS.md "CNN blocks").

Each kind is a function that emits its layers, in order, into a *sink*: `complexity.Tally` counts
them (on ints, or on numpy arrays of candidates for the sampler's vectorized scorer) and
`models.blocks.Builder` makes torch modules of them. So the counter, the builder and the scorer
cannot drift apart, and a new block is one `BlockKind` entry in `BLOCKS` (pycls's
`get_block_fun` dict). Widths may be ints or arrays: rules use `pycls_like.arith`. Torch-free.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from pycls_like.arith import iround, itrunc, where
from pycls_like.errors import ConfigError


class Sink(Protocol):
    """What a layer list is written into. `when` (a bool, or a bool array) marks optional layers."""

    def conv(self, name: str, c_in: Any, c_out: Any, k: int, **opts: Any) -> None:
        """k x k conv, padding k // 2; opts: stride=1, groups=1, bias=False, when=True."""

    def norm(self, name: str, c: Any, *, final: bool = False, when: Any = True) -> None: ...

    def act(self, name: str, *, when: Any = True) -> None: ...

    def se(self, name: str, c: Any, c_se: Any) -> None:
        """Squeeze-excitation on c channels with c_se hidden units; absent where c_se == 0."""

    def max_pool(self, name: str, c: Any, *, k: int, stride: int) -> None: ...

    def pool(self, name: str) -> None:
        """Global average pool to 1 x 1."""

    def dropout(self, name: str, p: float) -> None: ...

    def linear(self, name: str, c_in: Any, c_out: Any) -> None: ...


# ---- stems: (sink, w_in, w_out) -------------------------------------------------------------


def _conv_stem(k: int, stride: int, pool: bool) -> Callable[[Sink, Any, Any], None]:
    def stem(x: Sink, w_in: Any, w_out: Any) -> None:
        x.conv("conv", w_in, w_out, k, stride=stride)
        x.norm("bn", w_out)
        x.act("af")
        if pool:
            x.max_pool("pool", w_out, k=3, stride=2)

    return stem


STEMS: dict[str, Callable[[Sink, Any, Any], None]] = {
    "res_stem_cifar": _conv_stem(3, 1, pool=False),
    "res_stem_in": _conv_stem(7, 2, pool=True),
    "simple_stem_in": _conv_stem(3, 2, pool=False),
    "effnet_stem": _conv_stem(3, 2, pool=False),
}
CNN_STEMS = ("res_stem_cifar", "res_stem_in", "simple_stem_in")  # the ones AnyNet specs name


def get_stem(name: str, key: str = "stem_type") -> Callable[[Sink, Any, Any], None]:
    if name not in STEMS:
        raise ConfigError(f"unknown stem {name!r}; known: {', '.join(STEMS)}", key=key)
    return STEMS[name]


# ---- blocks -----------------------------------------------------------------------------------


class BlockArgs(NamedTuple):
    """One block's widths after its kind's width rule (`BlockKind.args`); a tuple for speed."""

    w_in: Any
    w_out: Any
    stride: Any
    w_b: Any = 0  # bottleneck / expanded width
    groups: Any = 1
    w_se: Any = 0  # 0 = no SE
    kernel: int = 3
    stride_1x1: bool = False  # legacy pycls bottleneck_transform option


def _two_conv3x3(x: Sink, a: BlockArgs) -> None:
    """vanilla_block, res_basic_block branch: conv3x3 (stride) BN act, conv3x3 BN [act]."""
    x.conv("a", a.w_in, a.w_out, 3, stride=a.stride)
    x.norm("a_bn", a.w_out)
    x.act("a_af")
    x.conv("b", a.w_out, a.w_out, 3)
    x.norm("b_bn", a.w_out, final=True)


def _vanilla(x: Sink, a: BlockArgs) -> None:
    _two_conv3x3(x, a)
    x.act("b_af")


def _bottleneck(x: Sink, a: BlockArgs) -> None:
    """1x1 reduce, grouped 3x3 (stride; on the 1x1 for legacy stride_1x1), optional SE, 1x1 expand."""
    s1, s3 = (a.stride, 1) if a.stride_1x1 else (1, a.stride)
    x.conv("a", a.w_in, a.w_b, 1, stride=s1)
    x.norm("a_bn", a.w_b)
    x.act("a_af")
    x.conv("b", a.w_b, a.w_b, 3, stride=s3, groups=a.groups)
    x.norm("b_bn", a.w_b)
    x.act("b_af")
    x.se("se", a.w_b, a.w_se)
    x.conv("c", a.w_b, a.w_out, 1)
    x.norm("c_bn", a.w_out, final=True)


def _mbconv(x: Sink, a: BlockArgs) -> None:
    """EfficientNet: 1x1 expand (if the ratio is not 1), depthwise k x k, SE, 1x1 project."""
    expand = a.w_b != a.w_in
    x.conv("exp", a.w_in, a.w_b, 1, when=expand)
    x.norm("exp_bn", a.w_b, when=expand)
    x.act("exp_af", when=expand)
    x.conv("dwise", a.w_b, a.w_b, a.kernel, stride=a.stride, groups=a.w_b)
    x.norm("dwise_bn", a.w_b)
    x.act("dwise_af")
    x.se("se", a.w_b, a.w_se)
    x.conv("lin_proj", a.w_b, a.w_out, 1)
    x.norm("lin_proj_bn", a.w_out, final=True)


# Width rules: (w_in, w_out, stride, b, g, se_r, kernel, stride_1x1) -> BlockArgs.


def _plain_args(w_in: Any, w_out: Any, stride: Any, *_: Any) -> BlockArgs:
    return BlockArgs(w_in, w_out, stride)


def _bottleneck_args(
    w_in: Any, w_out: Any, stride: Any, b: Any, g: Any, se_r: Any, k: int, s1x1: bool
) -> BlockArgs:
    """w_b = round(w_out*b), groups = w_b // g, SE width round(w_in*se_r) (pycls)."""
    w_b = iround(w_out * b)
    return BlockArgs(w_in, w_out, stride, w_b, w_b // g, iround(w_in * se_r), 3, s1x1)


def _mbconv_args(
    w_in: Any, w_out: Any, stride: Any, b: Any, g: Any, se_r: Any, k: int, s1x1: bool
) -> BlockArgs:
    """b is the expansion ratio: w_b = int(w_in*b), depthwise k x k, SE width int(w_in*se_r)."""
    w_b = itrunc(w_in * b)
    return BlockArgs(w_in, w_out, stride, w_b, w_b, itrunc(w_in * se_r), k)


@dataclass(frozen=True)
class BlockKind:
    """A block: its branch layers, its width rule and how its skip works.

    skip: "proj" = identity, or conv1x1 (stride) + BN when the shape changes (pycls ResBlock);
    "same" = identity only when the shape is unchanged, else none (MBConv, linear bottleneck);
    "none". post_act: an activation after the add. bottleneck: reads b and g (and the
    compatibility rule applies). se: reads se_ratio. drop_connect: the skip may drop the branch.
    """

    layers: Callable[[Sink, BlockArgs], None]
    args: Callable[..., BlockArgs]
    skip: str = "none"
    post_act: bool = False
    bottleneck: bool = False
    se: bool = False
    drop_connect: bool = False
    anynet: bool = True  # AnyNet/RegNet specs (and pycls's ANYNET/REGNET.BLOCK_TYPE) may name it

    def has_proj(self, a: BlockArgs) -> Any:
        """The projection skip exists (a bool, or a bool array)."""
        return (a.w_in != a.w_out) | (a.stride != 1) if self.skip == "proj" else False

    def has_identity(self, a: BlockArgs) -> Any:
        """The input is added unchanged."""
        same = (a.w_in == a.w_out) & (a.stride == 1)
        return {"proj": same, "same": same, "none": False}[self.skip]


BLOCKS: dict[str, BlockKind] = {
    "vanilla_block": BlockKind(_vanilla, _plain_args),
    "res_basic_block": BlockKind(_two_conv3x3, _plain_args, skip="proj", post_act=True),
    "res_bottleneck_block": BlockKind(
        _bottleneck, _bottleneck_args, skip="proj", post_act=True, bottleneck=True, se=True
    ),
    "res_bottleneck_linear_block": BlockKind(
        _bottleneck, _bottleneck_args, skip="same", bottleneck=True, se=True
    ),
    "mbconv": BlockKind(
        _mbconv, _mbconv_args, skip="same", se=True, drop_connect=True, anynet=False
    ),
}


def anynet_blocks() -> tuple[str, ...]:
    """The blocks AnyNet/RegNet specs may name, as registered now."""
    return tuple(k for k, v in BLOCKS.items() if v.anynet)


CNN_BLOCKS = anynet_blocks()  # those shipped (tests parametrize over them)


def get_block(name: str, key: str = "block_type") -> BlockKind:
    if name not in BLOCKS:
        raise ConfigError(f"unknown block {name!r}; known: {', '.join(BLOCKS)}", key=key)
    return BLOCKS[name]


def block_layers(x: Sink, kind: BlockKind, a: BlockArgs) -> None:
    """A whole block into a counting sink: the branch, then the projection at the input size."""
    h = getattr(x, "h", None)
    kind.layers(x, a)
    if kind.skip == "proj":
        proj = kind.has_proj(a)
        h_out = getattr(x, "h", None)
        if h is not None:
            x.h = h  # the projection sees the block's input
        x.conv("proj", a.w_in, a.w_out, 1, stride=a.stride, when=proj)
        x.norm("proj_bn", a.w_out, when=proj)
        if h_out is not None:
            x.h = h_out


# ---- head -------------------------------------------------------------------------------------


def head_layers(x: Sink, w_in: Any, head_w: Any, num_classes: Any, dropout: float = 0.0) -> None:
    """Optional conv1x1 + BN + act to head_w, global average pool, optional dropout, linear."""
    has = head_w > 0
    x.conv("conv", w_in, head_w, 1, when=has)
    x.norm("conv_bn", head_w, when=has)
    x.act("conv_af", when=has)
    x.pool("avg_pool")
    x.dropout("dropout", dropout)
    x.linear("fc", where(has, head_w, w_in), num_classes)
