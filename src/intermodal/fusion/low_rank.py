"""Low-rank Multimodal Fusion (LMF)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion, append_one
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("lmf", "low-rank multimodal fusion (Liu 2018), rank 4", options={"rank": 4})
@register_module
class LowRankFusion(Fusion):
    """Low-rank multimodal fusion (Liu et al., ACL 2018, https://arxiv.org/abs/1806.00064).

    The TFN weight tensor is constrained to rank r, ``W = sum_i lambda_i (x)_m W_m^(i)``, so
    ``z = sum_{i<=r} lambda_i prod_m ([x_m; 1] W_m^(i)) + b`` with factors W_m^(i) of shape
    ``(d_m + 1, output_dim)``; the fused tensor is never formed. All factors, the rank weights
    lambda and the bias are trained. Parameters: ``r * sum_m (d_m + 1) * out + r + out``.

    An absent modality's features are zero-filled: its ``[x_m; 1]`` becomes ``[0; 1]``, so the
    constant 1 keeps every term of the present modalities (their unimodal and lower-order
    products, as in TFN) and drops every term that involves the absent one.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "zero-filled features: the appended 1 keeps the present modalities' terms"

    def __init__(self, input_dims: Mapping[str, int], output_dim: int, rank: int = 4) -> None:
        super().__init__(input_dims, output_dim)
        if rank < 1:
            raise ValueError(f"rank must be positive, got {rank}")
        self.rank = rank
        self.factors = nn.ParameterDict(
            {
                key: nn.Parameter(nn.init.xavier_normal_(torch.empty(rank, dim + 1, output_dim)))
                for key, dim in self.input_dims.items()
            }
        )
        self.rank_weights = nn.Parameter(nn.init.xavier_normal_(torch.empty(1, rank)).flatten())
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        tensors = self.zero_absent(self.check(features), mask)
        product = None
        for key, x in zip(self.input_dims, tensors, strict=True):
            projected = torch.einsum("bd,rdo->rbo", append_one(x), self.factors[key])
            product = projected if product is None else product * projected
        return torch.einsum("r,rbo->bo", self.rank_weights, product) + self.bias
