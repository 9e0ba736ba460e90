"""Polynomial tensor pooling (PTP)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion(
    "ptp",
    "polynomial tensor pooling (Hou 2019), order 2, rank 4",
    options={"order": 2, "rank": 4},
)
@register_module
class PolynomialFusion(Fusion):
    """Polynomial tensor pooling (Hou et al., NeurIPS 2019, "Deep Multimodal Multilinear Fusion
    with High-order Polynomial Pooling").

    With ``v = [1; x_1; ...; x_M]`` (size D = 1 + sum d_m), output k is the contraction of the
    order-P tensor ``v (x) ... (x) v`` with a weight tensor of CP rank r. The weight tensor of a
    symmetric input is taken symmetric, ``W_k = sum_i lambda_i w_ik (x) ... (x) w_ik``, so

        ``z = sum_{i<=r} lambda_i (v W_i) ** P + b``  (power element-wise, W_i: D x out).

    With ``symmetric=False`` each order has its own factor,
    ``z = sum_i lambda_i prod_{p<=P} (v W_i^(p)) + b``. Unlike TFN, every polynomial term of
    degree <= P across and within modalities is present.

    An absent modality's features are zero-filled in v: the constant 1 keeps every term (of
    degree <= P) of the present modalities and drops every term that involves the absent one.

    Args:
        order: P, the degree of the polynomial (>= 2).
        rank: r, the CP rank.
        symmetric: share the factor across the P orders.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "zero-filled features: the constant 1 keeps the present modalities' terms"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        order: int = 2,
        rank: int = 4,
        symmetric: bool = True,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if order < 2 or rank < 1:
            raise ValueError(f"order must be >= 2 and rank >= 1, got order={order}, rank={rank}")
        self.order, self.rank, self.symmetric = order, rank, symmetric
        size = 1 + sum(self.input_dims.values())
        factors = torch.empty(1 if symmetric else order, rank, size, output_dim)
        self.factors = nn.Parameter(nn.init.normal_(factors, std=size**-0.5))
        self.rank_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        tensors = self.zero_absent(self.check(features), mask)
        v = torch.cat([tensors[0].new_ones(tensors[0].shape[0], 1), *tensors], dim=1)
        projected = torch.einsum("bd,prdo->prbo", v, self.factors)
        product = projected[0] ** self.order if self.symmetric else projected.prod(dim=0)
        return torch.einsum("r,rbo->bo", self.rank_weights, product) + self.bias
