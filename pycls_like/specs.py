"""Model specs: frozen, hashable, torch-free descriptions of one network each.

Every spec carries its input `resolution` and `num_classes`. `spec_to_dict` / `spec_from_dict`
round-trip through YAML/JSON (the dict has a `family` key). Field names follow the papers:
per-stage lists are plurals (`ds` depths, `ws` widths, `ss` strides, `bs` bottleneck multipliers,
`gs` group widths); RegNet uses `d, w0, wa, wm, g, b`.
"""

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from pycls_like.coerce import coerce
from pycls_like.errors import ConfigError, warn_renamed
from pycls_like.layers import BLOCKS, CNN_BLOCKS, CNN_STEMS, anynet_blocks  # noqa: F401


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(message, key=key)


def _check_block(block_type: str) -> None:
    blocks = anynet_blocks()
    _check(block_type in blocks, "block_type", f"must be one of {blocks}")


def _check_common(spec: Any) -> None:
    _check(spec.resolution >= 1, "resolution", f"must be >= 1, got {spec.resolution}")
    _check(spec.num_classes >= 1, "num_classes", f"must be >= 1, got {spec.num_classes}")


def _check_stage_lists(spec: Any, names: tuple[str, ...]) -> None:
    n = len(spec.ds)
    _check(n >= 1, "ds", "needs at least one stage")
    for name in names:
        values = getattr(spec, name)
        _check(len(values) == n, name, f"has {len(values)} entries but ds has {n} stages")
        _check(all(v > 0 for v in values), name, f"entries must be > 0, got {list(values)}")


@dataclass(frozen=True)
class AnyNetSpec:
    """Stem, stages of identical blocks, head (Designing Network Design Spaces, sec. 3.1)."""

    family: ClassVar[str] = "anynet"
    ds: tuple[int, ...]
    ws: tuple[int, ...]
    ss: tuple[int, ...]
    bs: tuple[float, ...] = ()  # bottleneck multipliers, read by bottleneck blocks only
    gs: tuple[int, ...] = ()  # group widths, read by bottleneck blocks only
    stem_type: str = "simple_stem_in"
    stem_w: int = 32
    block_type: str = "res_bottleneck_block"
    se_ratio: float = 0.0  # 0 disables SE; 0.25 makes the X block a Y block; ignored without SE
    head_w: int = 0  # 0 = no head conv
    resolution: int = 224
    num_classes: int = 1000

    def __post_init__(self) -> None:
        _check(self.stem_type in CNN_STEMS, "stem_type", f"must be one of {CNN_STEMS}")
        _check_block(self.block_type)
        _check(self.stem_w >= 1, "stem_w", f"must be >= 1, got {self.stem_w}")
        _check(self.se_ratio >= 0, "se_ratio", f"must be >= 0, got {self.se_ratio}")
        _check(self.head_w >= 0, "head_w", f"must be >= 0, got {self.head_w}")
        if BLOCKS[self.block_type].bottleneck:
            _check_stage_lists(self, ("ds", "ws", "ss", "bs", "gs"))
        else:  # as in pycls, a block without a bottleneck ignores bs/gs (and SE)
            _check_stage_lists(self, ("ds", "ws", "ss"))
        _check_common(self)


@dataclass(frozen=True)
class RegNetSpec:
    """Quantized-linear AnyNet (Designing Network Design Spaces, sec. 3.3); se_ratio 0.25 = RegNetY."""

    family: ClassVar[str] = "regnet"
    d: int
    w0: int
    wa: float
    wm: float
    g: int
    b: float = 1.0
    se_ratio: float = 0.0
    stride: int = 2
    stem_type: str = "simple_stem_in"
    stem_w: int = 32
    block_type: str = "res_bottleneck_block"
    head_w: int = 0
    resolution: int = 224
    num_classes: int = 1000

    def __post_init__(self) -> None:
        _check(self.d >= 1, "d", f"depth must be >= 1, got {self.d}")
        _check(
            self.w0 > 0 and self.w0 % 8 == 0,
            "w0",
            f"must be a positive multiple of 8, got {self.w0}",
        )
        _check(self.wa >= 0, "wa", f"must be >= 0, got {self.wa}")
        _check(self.wm > 1, "wm", f"must be > 1, got {self.wm}")
        _check(self.g >= 1, "g", f"group width must be >= 1, got {self.g}")
        _check(self.b > 0, "b", f"bottleneck multiplier must be > 0, got {self.b}")
        _check(self.stride >= 1, "stride", f"must be >= 1, got {self.stride}")
        _check(self.stem_type in CNN_STEMS, "stem_type", f"must be one of {CNN_STEMS}")
        _check_block(self.block_type)
        _check(self.se_ratio >= 0, "se_ratio", f"must be >= 0, got {self.se_ratio}")
        _check(self.head_w >= 0, "head_w", f"must be >= 0, got {self.head_w}")
        _check_common(self)


RESNET_IN_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
RESNET_TRANSFORMS = ("basic_transform", "bottleneck_transform")


@dataclass(frozen=True)
class ResNetSpec:
    """The legacy pycls `resnet` type: ImageNet ResNet(X)-50/101/152 or CIFAR ResNet-(6n+2)."""

    family: ClassVar[str] = "resnet"
    depth: int
    trans_fun: str = "bottleneck_transform"
    num_groups: int = 1
    width_per_group: int = 64
    stride_1x1: bool = (
        False  # pycls default is True; the published 4.1 GF ResNet-50 strides the 3x3
    )
    cifar: bool = False
    resolution: int = 224
    num_classes: int = 1000

    def __post_init__(self) -> None:
        _check(
            self.trans_fun in RESNET_TRANSFORMS, "trans_fun", f"must be one of {RESNET_TRANSFORMS}"
        )
        if self.cifar:
            ok = self.depth >= 8 and (self.depth - 2) % 6 == 0
            _check(
                ok, "depth", f"CIFAR ResNet depth must be 6n+2 (8, 14, 20, ...), got {self.depth}"
            )
        else:
            depths = sorted(RESNET_IN_DEPTHS)
            _check(
                self.depth in RESNET_IN_DEPTHS,
                "depth",
                f"must be one of {depths}, got {self.depth}",
            )
        _check(self.num_groups >= 1, "num_groups", f"must be >= 1, got {self.num_groups}")
        _check(
            self.width_per_group >= 1,
            "width_per_group",
            f"must be >= 1, got {self.width_per_group}",
        )
        _check_common(self)


@dataclass(frozen=True)
class EffNetSpec:
    """EfficientNet: MBConv stages with SE and SiLU (CONVENTIONS.md)."""

    family: ClassVar[str] = "effnet"
    ds: tuple[int, ...]
    ws: tuple[int, ...]
    exp_rs: tuple[float, ...]
    ks: tuple[int, ...]
    ss: tuple[int, ...]
    stem_w: int = 32
    head_w: int = 1280
    se_ratio: float = 0.25
    dropout: float = 0.0
    drop_connect: float = 0.0
    resolution: int = 224
    num_classes: int = 1000

    def __post_init__(self) -> None:
        _check_stage_lists(self, ("ds", "ws", "exp_rs", "ks", "ss"))
        _check(all(k % 2 == 1 for k in self.ks), "ks", f"kernels must be odd, got {list(self.ks)}")
        _check(self.stem_w >= 1, "stem_w", f"must be >= 1, got {self.stem_w}")
        _check(self.head_w >= 1, "head_w", f"must be >= 1, got {self.head_w}")
        _check(self.se_ratio >= 0, "se_ratio", f"must be >= 0, got {self.se_ratio}")
        _check(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        _check(
            0 <= self.drop_connect < 1,
            "drop_connect",
            f"must be in [0, 1), got {self.drop_connect}",
        )
        _check_common(self)


@dataclass(frozen=True)
class ViTSpec:
    """ViT with a patchify stem or a convolutional stem (Early Convolutions Help Transformers See Better).

    `hidden_d` is the token width (pycls `VIT.HIDDEN_DIM`; `d` is its deprecated name: `d` is a
    depth everywhere else). `patch_size` is the total stem stride. The conv stem is conv3x3+BN+ReLU
    layers with widths `stem_ws` and strides `stem_ss`, then a biased conv with kernel `stem_k`
    (odd) and stride `stem_s` to `hidden_d` (pycls's last C_STEM entry; ViTC uses 1x1 s1); the
    strides multiply to patch_size.
    """

    family: ClassVar[str] = "vit"
    depth: int
    heads: int
    hidden_d: int
    mlp_d: int
    patch_size: int = 16
    stem_type: str = "patchify"
    stem_ws: tuple[int, ...] = ()
    stem_ss: tuple[int, ...] = ()
    stem_k: int = 1
    stem_s: int = 1
    class_token: bool = True  # False = pycls CLASSIFIER_TYPE pooled: classify the mean token
    resolution: int = 224
    num_classes: int = 1000

    def __post_init__(self) -> None:
        _check(self.depth >= 1, "depth", f"must be >= 1, got {self.depth}")
        _check(self.heads >= 1, "heads", f"must be >= 1, got {self.heads}")
        _check(self.hidden_d >= 1, "hidden_d", f"must be >= 1, got {self.hidden_d}")
        msg = f"{self.heads} heads do not divide hidden_d={self.hidden_d}"
        _check(self.hidden_d % self.heads == 0, "heads", msg)
        _check(self.mlp_d >= 1, "mlp_d", f"must be >= 1, got {self.mlp_d}")
        _check(self.patch_size >= 1, "patch_size", f"must be >= 1, got {self.patch_size}")
        ok = self.resolution % self.patch_size == 0
        msg = f"patch size {self.patch_size} does not divide resolution {self.resolution}"
        _check(ok, "patch_size", msg)
        _check(self.stem_type in ("patchify", "conv"), "stem_type", "must be 'patchify' or 'conv'")
        if self.stem_type == "conv":
            n = len(self.stem_ws)
            _check(len(self.stem_ss) == n, "stem_ss", f"needs {n} strides like stem_ws")
            _check(
                all(v > 0 for v in self.stem_ws + self.stem_ss), "stem_ws", "entries must be > 0"
            )
            _check(self.stem_k >= 1 and self.stem_k % 2 == 1, "stem_k", "must be odd and >= 1")
            _check(self.stem_s >= 1, "stem_s", f"must be >= 1, got {self.stem_s}")
            total = math.prod(self.stem_ss) * self.stem_s
            msg = f"strides {[*self.stem_ss, self.stem_s]} multiply to {total}, not patch_size {self.patch_size}"
            _check(total == self.patch_size, "stem_ss", msg)
        else:
            _check(not self.stem_ws and not self.stem_ss, "stem_ws", "only a conv stem has stem_ws")
            _check(self.stem_k == 1 and self.stem_s == 1, "stem_k", "only a conv stem has stem_k")
        _check_common(self)


ModelSpec = AnyNetSpec | RegNetSpec | ResNetSpec | EffNetSpec | ViTSpec
SPEC_TYPES: dict[str, type] = {
    cls.family: cls for cls in (AnyNetSpec, RegNetSpec, ResNetSpec, EffNetSpec, ViTSpec)
}


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """Plain dict with a `family` key and lists for tuples: ready for YAML/JSON."""
    out: dict[str, Any] = {"family": spec.family}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


@functools.cache
def _fields(cls: type) -> tuple[dict[str, dataclasses.Field], dict[str, Any]]:
    """A spec class's fields and resolved types (resolving is slow, the classes never change)."""
    return {f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls)


# Deprecated spec keys that still load (a note on stderr), per family: old name -> name now.
RENAMED_KEYS: dict[str, dict[str, str]] = {"vit": {"d": "hidden_d"}}


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    """Build and validate a spec from a dict with a `family` key; unknown keys are errors."""
    family = data.get("family")
    if family not in SPEC_TYPES:
        raise ConfigError(f"must be one of {sorted(SPEC_TYPES)}, got {family!r}", key="family")
    cls = SPEC_TYPES[family]
    fields, hints = _fields(cls)
    renamed = RENAMED_KEYS.get(family)
    if renamed and any(k in data for k in renamed):
        data = _renamed(data, renamed)
    kwargs = {}
    for key, value in data.items():
        if key == "family":
            continue
        if key not in fields:
            raise ConfigError(
                f"unknown key for family {family} (known: {', '.join(fields)})", key=key
            )
        kwargs[key] = coerce(value, hints[key], key)
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing required key for family {family}", key=missing[0])
    return cls(**kwargs)


def _renamed(data: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    """`data` with deprecated keys under their names now (order kept; both names: an error)."""
    out = {}
    for key, value in data.items():
        new = renamed.get(key)
        if new is not None:
            if new in data:
                raise ConfigError(f"give {new} only ({key} is its deprecated name)", key=key)
            warn_renamed(f"model key {key}", new)
        out[new or key] = value
    return out
