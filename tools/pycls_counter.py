# ruff: noqa: B905  (a faithful transcription keeps pycls's zip calls)
"""pycls's analytic counter, transcribed as the peer baseline for `bench_complexity.py`.

pycls (facebookresearch/pycls, MIT) is not on PyPI in a form that installs here, so its
`complexity` functions are reproduced faithfully: the cx-dict primitives of `models/blocks.py`,
the per-block classmethods of `models/anynet.py`, `generate_regnet` (numpy) and
`adjust_block_compatibility` of `models/regnet.py` and `models/blocks.py`, and `models/vit.py`.
Parameters come from a spec instead of pycls's global cfg (what `get_params()` would return).
"""

import numpy as np


def conv2d_cx(cx, w_in, w_out, k, *, stride=1, groups=1, bias=False):
    assert k % 2 == 1, "Only odd size kernels supported to avoid padding issues."
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
    flops += k * k * w_in * w_out * h * w // groups + (w_out * h * w if bias else 0)
    params += k * k * w_in * w_out // groups + (w_out if bias else 0)
    acts += w_out * h * w
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


def patchify2d_cx(cx, w_in, w_out, k, *, bias=True):
    err_str = "Only kernel sizes divisible by the input size are supported."
    assert cx["h"] % k == 0 and cx["w"] % k == 0, err_str
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    h, w = h // k, w // k
    flops += k * k * w_in * w_out * h * w + (w_out * h * w if bias else 0)
    params += k * k * w_in * w_out + (w_out if bias else 0)
    acts += w_out * h * w
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


def norm2d_cx(cx, w_in):
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    params += 2 * w_in
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


layernorm2d_cx = norm2d_cx


def pool2d_cx(cx, w_in, k, *, stride=1):
    assert k % 2 == 1, "Only odd size kernels supported to avoid padding issues."
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
    acts += w_in * h * w
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


def gap2d_cx(cx, _w_in):
    flops, params, acts = cx["flops"], cx["params"], cx["acts"]
    return {"h": 1, "w": 1, "flops": flops, "params": params, "acts": acts}


def linear_cx(cx, w_in, w_out, *, bias=False, num_locations=1):
    h, w, flops, params, acts = cx["h"], cx["w"], cx["flops"], cx["params"], cx["acts"]
    flops += w_in * w_out * num_locations + (w_out * num_locations if bias else 0)
    params += w_in * w_out + (w_out if bias else 0)
    acts += w_out * num_locations
    return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


class SE:
    @staticmethod
    def complexity(cx, w_in, w_se):
        h, w = cx["h"], cx["w"]
        cx = gap2d_cx(cx, w_in)
        cx = conv2d_cx(cx, w_in, w_se, 1, bias=True)
        cx = conv2d_cx(cx, w_se, w_in, 1, bias=True)
        cx["h"], cx["w"] = h, w
        return cx


class ResStemCifar:
    @staticmethod
    def complexity(cx, w_in, w_out):
        cx = conv2d_cx(cx, w_in, w_out, 3)
        return norm2d_cx(cx, w_out)


class ResStem:
    @staticmethod
    def complexity(cx, w_in, w_out):
        cx = conv2d_cx(cx, w_in, w_out, 7, stride=2)
        cx = norm2d_cx(cx, w_out)
        return pool2d_cx(cx, w_out, 3, stride=2)


class SimpleStem:
    @staticmethod
    def complexity(cx, w_in, w_out):
        cx = conv2d_cx(cx, w_in, w_out, 3, stride=2)
        return norm2d_cx(cx, w_out)


class VanillaBlock:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, _params=None):
        cx = conv2d_cx(cx, w_in, w_out, 3, stride=stride)
        cx = norm2d_cx(cx, w_out)
        cx = conv2d_cx(cx, w_out, w_out, 3)
        return norm2d_cx(cx, w_out)


class BasicTransform:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, _params=None):
        cx = conv2d_cx(cx, w_in, w_out, 3, stride=stride)
        cx = norm2d_cx(cx, w_out)
        cx = conv2d_cx(cx, w_out, w_out, 3)
        return norm2d_cx(cx, w_out)


class ResBasicBlock:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, params=None):
        if (w_in != w_out) or (stride != 1):
            h, w = cx["h"], cx["w"]
            cx = conv2d_cx(cx, w_in, w_out, 1, stride=stride)
            cx = norm2d_cx(cx, w_out)
            cx["h"], cx["w"] = h, w
        return BasicTransform.complexity(cx, w_in, w_out, stride, params)


class BottleneckTransform:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, params):
        w_b = int(round(w_out * params["bot_mul"]))
        w_se = int(round(w_in * params["se_r"]))
        groups = w_b // params["group_w"]
        cx = conv2d_cx(cx, w_in, w_b, 1)
        cx = norm2d_cx(cx, w_b)
        cx = conv2d_cx(cx, w_b, w_b, 3, stride=stride, groups=groups)
        cx = norm2d_cx(cx, w_b)
        cx = SE.complexity(cx, w_b, w_se) if w_se else cx
        cx = conv2d_cx(cx, w_b, w_out, 1)
        return norm2d_cx(cx, w_out)


class ResBottleneckBlock:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, params):
        if (w_in != w_out) or (stride != 1):
            h, w = cx["h"], cx["w"]
            cx = conv2d_cx(cx, w_in, w_out, 1, stride=stride)
            cx = norm2d_cx(cx, w_out)
            cx["h"], cx["w"] = h, w
        return BottleneckTransform.complexity(cx, w_in, w_out, stride, params)


class ResBottleneckLinearBlock:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, params):
        return BottleneckTransform.complexity(cx, w_in, w_out, stride, params)


def get_stem_fun(stem_type):
    stem_funs = {
        "res_stem_cifar": ResStemCifar,
        "res_stem_in": ResStem,
        "simple_stem_in": SimpleStem,
    }
    return stem_funs[stem_type]


def get_block_fun(block_type):
    block_funs = {
        "vanilla_block": VanillaBlock,
        "res_basic_block": ResBasicBlock,
        "res_bottleneck_block": ResBottleneckBlock,
        "res_bottleneck_linear_block": ResBottleneckLinearBlock,
    }
    return block_funs[block_type]


class AnyStage:
    @staticmethod
    def complexity(cx, w_in, w_out, stride, d, block_fun, params):
        for _ in range(d):
            cx = block_fun.complexity(cx, w_in, w_out, stride, params)
            stride, w_in = 1, w_out
        return cx


class AnyHead:
    @staticmethod
    def complexity(cx, w_in, head_width, num_classes):
        if head_width > 0:
            cx = conv2d_cx(cx, w_in, head_width, 1)
            cx = norm2d_cx(cx, head_width)
            w_in = head_width
        cx = gap2d_cx(cx, w_in)
        return linear_cx(cx, w_in, num_classes, bias=True)


class AnyNet:
    @staticmethod
    def complexity(cx, **kwargs):
        p = kwargs
        stem_fun = get_stem_fun(p["stem_type"])
        block_fun = get_block_fun(p["block_type"])
        cx = stem_fun.complexity(cx, 3, p["stem_w"])
        prev_w = p["stem_w"]
        keys = ["depths", "widths", "strides", "bot_muls", "group_ws"]
        for d, w, s, b, g in zip(*[p[k] for k in keys]):
            params = {"bot_mul": b, "group_w": g, "se_r": p["se_r"]}
            cx = AnyStage.complexity(cx, prev_w, w, s, d, block_fun, params)
            prev_w = w
        return AnyHead.complexity(cx, prev_w, p["head_w"], p["num_classes"])


def adjust_block_compatibility(ws, bs, gs):
    assert len(ws) == len(bs) == len(gs)
    assert all(w > 0 and b > 0 and g > 0 for w, b, g in zip(ws, bs, gs))
    assert all(b < 1 or b % 1 == 0 for b in bs)
    vs = [int(max(1, w * b)) for w, b in zip(ws, bs)]
    gs = [int(min(g, v)) for g, v in zip(gs, vs)]
    ms = [np.lcm(g, int(b)) if b > 1 else g for g, b in zip(gs, bs)]
    vs = [max(m, int(round(v / m) * m)) for v, m in zip(vs, ms)]
    ws = [int(v / b) for v, b in zip(vs, bs)]
    assert all(w * b % g == 0 for w, b, g in zip(ws, bs, gs))
    return ws, bs, gs


def generate_regnet(w_a, w_0, w_m, d, q=8):
    assert w_a >= 0 and w_0 > 0 and w_m > 1 and w_0 % q == 0
    ws_cont = np.arange(d) * w_a + w_0
    ks = np.round(np.log(ws_cont / w_0) / np.log(w_m))
    ws_all = w_0 * np.power(w_m, ks)
    ws_all = np.round(np.divide(ws_all, q)).astype(int) * q
    ws, ds = np.unique(ws_all, return_counts=True)
    num_stages, total_stages = len(ws), ks.max() + 1
    ws, ds, ws_all, ws_cont = (x.tolist() for x in (ws, ds, ws_all, ws_cont))
    return ws, ds, num_stages, total_stages, ws_all, ws_cont


class RegNet:
    @staticmethod
    def get_params(s):
        ws, ds = generate_regnet(s.wa, s.w0, s.wm, s.d)[0:2]
        ss = [s.stride for _ in ws]
        bs = [s.b for _ in ws]
        gs = [s.g for _ in ws]
        ws, bs, gs = adjust_block_compatibility(ws, bs, gs)
        return {
            "stem_type": s.stem_type, "stem_w": s.stem_w, "block_type": s.block_type,
            "depths": ds, "widths": ws, "strides": ss, "bot_muls": bs, "group_ws": gs,
            "head_w": s.head_w, "se_r": s.se_ratio, "num_classes": s.num_classes,
        }  # fmt: skip

    @staticmethod
    def complexity(cx, spec):
        return AnyNet.complexity(cx, **RegNet.get_params(spec))


class ViTStemConv:
    @staticmethod
    def complexity(cx, w_in, ks, ws, ss):
        for i, (k, w_out, stride) in enumerate(zip(ks, ws, ss)):
            if i < len(ks) - 1:
                cx = conv2d_cx(cx, w_in, w_out, 3, stride=stride)
                cx = norm2d_cx(cx, w_out)
            else:
                cx = conv2d_cx(cx, w_in, w_out, k, stride=stride, bias=True)
            w_in = w_out
        return cx


class MultiheadAttention:
    @staticmethod
    def complexity(cx, hidden_d, n_heads, seq_len):
        h, w = cx["h"], cx["w"]
        flops, params, acts = cx["flops"], cx["params"], cx["acts"]
        flops += seq_len * (hidden_d * hidden_d * 3 + hidden_d * 3)
        params += hidden_d * hidden_d * 3 + hidden_d * 3
        acts += hidden_d * 3 * seq_len
        head_d = hidden_d // n_heads
        flops += n_heads * (seq_len * head_d * seq_len)
        acts += n_heads * seq_len * seq_len
        flops += n_heads * (seq_len * seq_len * head_d)
        acts += n_heads * seq_len * head_d
        flops += seq_len * (hidden_d * hidden_d + hidden_d)
        params += hidden_d * hidden_d + hidden_d
        acts += hidden_d * seq_len
        return {"h": h, "w": w, "flops": flops, "params": params, "acts": acts}


class ViT:
    @staticmethod
    def complexity(cx, p):
        if p["stem_type"] == "patchify":
            cx = patchify2d_cx(cx, 3, p["hidden_d"], k=p["patch_size"])
        else:
            ks, ws, ss = p["c_stem_kernels"], p["c_stem_dims"], p["c_stem_strides"]
            cx = ViTStemConv.complexity(cx, 3, ks, ws, ss)
        seq_len = (p["image_size"] // p["patch_size"]) ** 2
        if p["cls_type"] == "token":
            seq_len += 1
            cx["params"] += p["hidden_d"]
        cx["params"] += seq_len * p["hidden_d"]
        d, mlp_d = p["hidden_d"], p["mlp_d"]
        for _ in range(p["num_layers"]):
            cx = layernorm2d_cx(cx, d)
            cx = MultiheadAttention.complexity(cx, d, p["num_heads"], seq_len)
            cx = layernorm2d_cx(cx, d)
            cx = linear_cx(cx, d, mlp_d, bias=True, num_locations=seq_len)
            cx = linear_cx(cx, mlp_d, d, bias=True, num_locations=seq_len)
        cx = layernorm2d_cx(cx, d)
        return linear_cx(cx, d, p["num_classes"], bias=True)


def complexity(spec):
    """pycls `net.complexity(model)`: a fresh cx at the input size, then the model's counter."""
    cx = {"h": spec.resolution, "w": spec.resolution, "flops": 0, "params": 0, "acts": 0}
    if spec.family == "regnet":
        return RegNet.complexity(cx, spec)
    if spec.family == "anynet":
        nones = [None for _ in spec.ds]
        return AnyNet.complexity(
            cx, stem_type=spec.stem_type, stem_w=spec.stem_w, block_type=spec.block_type,
            depths=list(spec.ds), widths=list(spec.ws), strides=list(spec.ss),
            bot_muls=list(spec.bs) or nones, group_ws=list(spec.gs) or nones,
            head_w=spec.head_w, se_r=spec.se_ratio, num_classes=spec.num_classes,
        )  # fmt: skip
    p = {
        "image_size": spec.resolution, "patch_size": spec.patch_size, "stem_type": spec.stem_type,
        "c_stem_kernels": [3] * len(spec.stem_ws) + [spec.stem_k],
        "c_stem_dims": [*spec.stem_ws, spec.hidden_d], "c_stem_strides": [*spec.stem_ss, spec.stem_s],
        "num_layers": spec.depth, "num_heads": spec.heads, "hidden_d": spec.hidden_d,
        "mlp_d": spec.mlp_d, "cls_type": "token" if spec.class_token else "pooled",
        "num_classes": spec.num_classes,
    }  # fmt: skip
    return ViT.complexity(cx, p)
