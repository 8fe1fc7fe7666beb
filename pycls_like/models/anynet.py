"""CNN from a `CNNPlan`: stem, stages of blocks, head (AnyNet, Designing Network Design Spaces sec. 3.1).

AnyNet, RegNet, the legacy pycls ResNet and EfficientNet all become a `CNNPlan` in `plan.py`,
so this one class builds them all.
"""

import torch
from torch import nn

from pycls_like.models.blocks import Block, Head, Stem, init_cnn_weights
from pycls_like.plan import CNNPlan


class AnyNet(nn.Module):
    """Stem -> stages (nn.Sequential of blocks) -> head, exactly as the plan lists them."""

    def __init__(self, plan: CNNPlan, *, zero_init_final_gamma: bool = False):
        super().__init__()
        act = plan.activation
        self.stem = Stem(plan.stem, plan.stem_w, act)
        self.stages = nn.Sequential(
            *(
                nn.Sequential(*(Block(st.block, a, act, plan.drop_connect) for a in st.blocks()))
                for st in plan.stages
            )
        )
        self.head = Head(plan.w_last, plan.head_w, plan.num_classes, act, plan.dropout)
        init_cnn_weights(self, zero_init_final_gamma=zero_init_final_gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (n, 3, r, r) -> (n, w_s, r', r')
        x = self.stages(x)  # -> (n, w_last, h, w)
        return self.head(x)  # -> (n, num_classes)
