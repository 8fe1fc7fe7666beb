"""Named models of the published tables (CONVENTIONS.md), as one registry of specs."""

import difflib

from pycls_like.errors import ConfigError
from pycls_like.specs import AnyNetSpec, EffNetSpec, ModelSpec, RegNetSpec, ViTSpec

# (name suffix, d, w0, wa, wm, g) from Designing Network Design Spaces, Table 5 / pycls configs.
_REGNETX = [
    ("200MF", 13, 24, 36.44, 2.49, 8),
    ("400MF", 22, 24, 24.48, 2.54, 16),
    ("600MF", 16, 48, 36.97, 2.24, 24),
    ("800MF", 16, 56, 35.73, 2.28, 16),
    ("1.6GF", 18, 80, 34.01, 2.25, 24),
    ("3.2GF", 25, 88, 26.31, 2.25, 48),
    ("4.0GF", 23, 96, 38.65, 2.43, 40),
    ("6.4GF", 17, 184, 60.83, 2.07, 56),
    ("8.0GF", 23, 80, 49.56, 2.88, 120),
    ("12GF", 19, 168, 73.36, 2.37, 112),
    ("16GF", 22, 216, 55.59, 2.1, 128),
    ("32GF", 23, 320, 69.86, 2.0, 168),
]
_REGNETY = [
    ("200MF", 13, 24, 36.44, 2.49, 8),
    ("400MF", 16, 48, 27.89, 2.09, 8),
    ("600MF", 15, 48, 32.54, 2.32, 16),
    ("800MF", 14, 56, 38.84, 2.4, 16),
    ("1.6GF", 27, 48, 20.71, 2.65, 24),
    ("3.2GF", 21, 80, 42.63, 2.66, 24),
    ("4.0GF", 22, 96, 31.41, 2.24, 64),
    ("6.4GF", 25, 112, 33.22, 2.27, 72),
    ("8.0GF", 17, 192, 76.82, 2.19, 56),
    ("12GF", 19, 168, 73.36, 2.37, 112),
    ("16GF", 18, 200, 106.23, 2.48, 112),
    ("32GF", 20, 232, 115.89, 2.53, 232),
]
_RESNET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
_RESNET_WS = (256, 512, 1024, 2048)
# EfficientNet-B0..B5: (depths, widths, stem_w, head_w, resolution), the pycls EN configs.
_EFFNET = [
    ((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320), 32, 1280, 224),
    ((2, 3, 3, 4, 4, 5, 2), (16, 24, 40, 80, 112, 192, 320), 32, 1280, 240),
    ((2, 3, 3, 4, 4, 5, 2), (16, 24, 48, 88, 120, 208, 352), 32, 1408, 260),
    ((2, 3, 3, 5, 5, 6, 2), (24, 32, 48, 96, 136, 232, 384), 40, 1536, 300),
    ((2, 4, 4, 6, 6, 8, 2), (24, 32, 56, 112, 160, 272, 448), 48, 1792, 380),
    ((3, 5, 5, 7, 7, 9, 3), (24, 40, 64, 128, 176, 304, 512), 48, 2048, 456),
]
# ViTs of Early Convolutions Help Transformers See Better: (name, stem_ws, stem_ss, depth, heads, d, mlp_d).
_VIT = [
    ("ViTP-1GF", (), (), 12, 3, 192, 576),
    ("ViTP-4GF", (), (), 12, 6, 384, 1152),
    ("ViTP-18GF", (), (), 12, 12, 768, 3072),
    ("ViTP-36GF", (), (), 14, 16, 1024, 4096),
    ("ViTC-1GF", (24, 48, 96, 192), (2, 2, 2, 2), 11, 3, 192, 576),
    ("ViTC-4GF", (48, 96, 192, 384), (2, 2, 2, 2), 11, 6, 384, 1152),
    ("ViTC-18GF", (64, 128, 128, 256, 256, 512), (2, 2, 1, 2, 1, 2), 11, 12, 768, 3072),
    ("ViTC-36GF", (64, 128, 128, 256, 256, 512), (2, 2, 1, 2, 1, 2), 13, 16, 1024, 4096),
]


def _build_presets() -> dict[str, ModelSpec]:
    presets: dict[str, ModelSpec] = {}
    for prefix, table, se in (("RegNetX", _REGNETX, 0.0), ("RegNetY", _REGNETY, 0.25)):
        for suffix, d, w0, wa, wm, g in table:
            presets[f"{prefix}-{suffix}"] = RegNetSpec(d=d, w0=w0, wa=wa, wm=wm, g=g, se_ratio=se)
    for depth, ds in _RESNET_DEPTHS.items():
        presets[f"ResNet-{depth}"] = AnyNetSpec(
            ds=ds, ws=_RESNET_WS, ss=(1, 2, 2, 2), bs=(0.25,) * 4, gs=(64, 128, 256, 512),
            stem_type="res_stem_in", stem_w=64,
        )  # fmt: skip
        presets[f"ResNeXt-{depth}"] = AnyNetSpec(
            ds=ds, ws=_RESNET_WS, ss=(1, 2, 2, 2), bs=(0.5,) * 4, gs=(4, 8, 16, 32),
            stem_type="res_stem_in", stem_w=64,
        )  # fmt: skip
    for i, (ds, ws, stem_w, head_w, resolution) in enumerate(_EFFNET):
        presets[f"EfficientNet-B{i}"] = EffNetSpec(
            ds=ds, ws=ws, exp_rs=(1, 6, 6, 6, 6, 6, 6), ks=(3, 3, 5, 3, 5, 5, 3),
            ss=(1, 2, 2, 2, 1, 2, 1), stem_w=stem_w, head_w=head_w, resolution=resolution,
        )  # fmt: skip
    for name, stem_ws, stem_ss, depth, heads, hidden_d, mlp_d in _VIT:
        stem_type = "conv" if stem_ws else "patchify"
        presets[name] = ViTSpec(
            depth=depth, heads=heads, hidden_d=hidden_d, mlp_d=mlp_d, stem_type=stem_type,
            stem_ws=stem_ws, stem_ss=stem_ss,
        )  # fmt: skip
    return presets


PRESETS: dict[str, ModelSpec] = _build_presets()

# torchvision names the RegNets it ships by their flops ("regnet_y_1_6gf"); these are the ones.
_TORCHVISION_REGNETS = ("400MF", "800MF", "1.6GF", "3.2GF", "8.0GF", "16GF", "32GF")


def _build_aliases() -> dict[str, str]:
    """timm and torchvision model names -> preset name, for every preset the same network has.

    timm writes RegNets by flops in units of 100 MF (`regnetx_002` is RegNetX-200MF,
    `regnety_016` RegNetY-1.6GF); torchvision by flops with `_` for the point (`regnet_x_1_6gf`).
    ViT-B/16 (`vit_b_16`, `vit_base_patch16_224`) is ViTP-18GF: 12 blocks, 12 heads, d 768.
    """
    aliases: dict[str, str] = {}
    for letter in ("x", "y"):
        for suffix, *_ in _REGNETX if letter == "x" else _REGNETY:
            name = f"RegNet{letter.upper()}-{suffix}"
            mf = float(suffix[:-2]) * (1000 if suffix.endswith("GF") else 1)
            aliases[f"regnet{letter}_{round(mf / 100):03d}"] = name
            if suffix in _TORCHVISION_REGNETS:
                flops = suffix.lower().replace(".0", "").replace(".", "_")
                aliases[f"regnet_{letter}_{flops}"] = name
    for depth in _RESNET_DEPTHS:
        aliases[f"resnet{depth}"] = f"ResNet-{depth}"
    aliases["resnext50_32x4d"] = "ResNeXt-50"
    aliases["resnext101_32x4d"] = "ResNeXt-101"
    for i in range(len(_EFFNET)):
        aliases[f"efficientnet_b{i}"] = f"EfficientNet-B{i}"
    aliases["vit_b_16"] = aliases["vit_base_patch16_224"] = "ViTP-18GF"
    return aliases


ALIASES: dict[str, str] = _build_aliases()
_BY_LOWER = {name.lower(): name for name in PRESETS} | ALIASES


def list_presets() -> list[str]:
    return list(PRESETS)


def aliases_of(name: str) -> list[str]:
    """The timm/torchvision names of a preset (empty when neither library has the network)."""
    return [alias for alias, target in ALIASES.items() if target == name]


def get_preset(name: str) -> ModelSpec:
    """Look a preset up by name or timm/torchvision alias (case-insensitive); suggest on a miss."""
    key = _BY_LOWER.get(name.lower())
    if key is None:
        close = difflib.get_close_matches(name.lower(), list(_BY_LOWER), n=6, cutoff=0.5)
        shown: dict[str, str] = {}  # preset -> how to show it (once, as the alias that matched)
        for match in close:
            target = _BY_LOWER[match]
            shown.setdefault(target, f"{match} ({target})" if match in ALIASES else target)
        names = list(shown.values())[:3]
        hint = f"; did you mean {', '.join(names)}?" if names else ""
        raise ConfigError(f"unknown preset {name!r}{hint} (see `pycls-like presets`)")
    return PRESETS[key]
