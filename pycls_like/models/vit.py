"""ViT from a `ViTPlan`, patchify or conv stem (Early Convolutions Help Transformers See Better).

Realizes exactly what `pycls_like.complexity` counts: a biased patchify conv or conv3x3+BN+ReLU
layers plus a biased conv1x1 to d; class token (optional) and learned position embeddings;
pre-norm encoder blocks (LN, attention with explicit qkv and output Linears around
`scaled_dot_product_attention`, add, LN, MLP with GELU, add); a final LN; a linear head.

Init (pycls ViT where it differs from the CNN rule, because a deep pre-norm transformer needs
unit-variance projections): patchify conv truncated normal std sqrt(1/fan_in) with zero bias;
conv-stem convs N(0, sqrt(2/fan_out)), BN gamma 1 beta 0; encoder Linears Xavier-uniform with
zero bias; LN weight 1 bias 0; head N(0, 0.01) with zero bias (the CNN rule); position
embeddings N(0, 0.02); class token zeros (the position embedding already breaks its symmetry).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from pycls_like.models.blocks import activation, conv2d, norm2d
from pycls_like.plan import ViTPlan


class ConvStem(nn.Module):
    """conv3x3 (no bias) + BN + ReLU per width/stride, then a biased k x k conv (stride s) to d."""

    def __init__(self, ws: tuple[int, ...], ss: tuple[int, ...], d: int, k: int = 1, s: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        w_in = 3
        for w, stride in zip(ws, ss, strict=True):
            layers += [conv2d(w_in, w, 3, stride=stride), norm2d(w), activation("relu")]
            w_in = w
        self.layers = nn.Sequential(*layers)
        self.last = conv2d(w_in, d, k, stride=s, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.layers(x))  # (n, 3, r, r) -> (n, d, r/p, r/p)


class MultiheadAttention(nn.Module):
    """Self-attention with explicit qkv and output Linears so each matmul is visible to counters."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, d = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.heads, d // self.heads)  # (n, L, 3, h, d/h)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (n, h, L, d/h)
        x = F.scaled_dot_product_attention(q, k, v)  # (n, h, L, d/h)
        x = x.transpose(1, 2).reshape(n, length, d)  # -> (n, L, d)
        return self.proj(x)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + MHA(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, d: int, heads: int, mlp_d: int, *, eps: float = 1e-5):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = MultiheadAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_d), nn.GELU(), nn.Linear(mlp_d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))  # (n, L, d)
        return x + self.mlp(self.ln_2(x))  # (n, L, d)


class ViT(nn.Module):
    """Vision transformer; the sequence length (hence the resolution) is fixed by the plan."""

    def __init__(self, plan: ViTPlan):
        super().__init__()
        d, p = plan.hidden_d, plan.patch_size
        if plan.conv_stem:
            self.stem: nn.Module = ConvStem(plan.stem_ws, plan.stem_ss, d, plan.stem_k, plan.stem_s)
        else:
            self.stem = nn.Conv2d(3, d, p, stride=p, bias=True)  # patchify: no padding
        self.class_token = nn.Parameter(torch.zeros(1, 1, d)) if plan.class_token else None
        self.seq_len = plan.seq_len
        self.pos_embedding = nn.Parameter(torch.zeros(1, plan.seq_len, d))
        self.blocks = nn.Sequential(
            *(EncoderBlock(d, plan.heads, plan.mlp_d) for _ in range(plan.depth))
        )
        self.ln = nn.LayerNorm(d, eps=1e-5)
        self.head = nn.Linear(d, plan.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """See the module docstring for the rules and why they differ from the CNN init."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is self.stem:
                    fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                    nn.init.trunc_normal_(m.weight, std=math.sqrt(1.0 / fan_in))
                else:
                    fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                    nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d | nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                if m is self.head:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.pos_embedding, mean=0.0, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (n, 3, r, r) -> (n, d, r/p, r/p)
        x = x.flatten(2).transpose(1, 2)  # -> (n, hw, d); flatten copies if channels_last
        if self.class_token is not None:
            x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)  # (n, L, d)
        if x.shape[1] != self.seq_len:
            raise ValueError(
                f"input gives {x.shape[1]} tokens but the position embedding has {self.seq_len}; "
                "feed the spec's resolution"
            )
        x = self.blocks(x + self.pos_embedding)  # (n, L, d)
        x = self.ln(x)
        x = x[:, 0] if self.class_token is not None else x.mean(dim=1)  # -> (n, d)
        return self.head(x)  # -> (n, num_classes)
