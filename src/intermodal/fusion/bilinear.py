"""Bilinear fusion of two modalities."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("bilinear", "bilinear fusion", two_modal=True)
@register_module
class BilinearFusion(Fusion):
    """Bilinear fusion ``z_k = x_A^T W_k x_B + b_k`` (two-modal by definition).

    A and B are the two modalities in sorted order. Every output is a weighted sum of all
    pairwise products ``x_A[i] x_B[j]``; ``W`` has ``output_dim * d_A * d_B`` parameters.

    An absent modality's features are zero-filled, so a sample missing either modality
    gets ``z = b``.

    Shape:
        ``{A: (B, d_A), B: (B, d_B)}, mask {m: (B,)} -> (B, output_dim)``
    """

    min_modalities = max_modalities = 2
    absent = "zero-filled features (either one absent gives z = b)"

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__(input_dims, output_dim)
        d_a, d_b = self.input_dims.values()
        bound = 1.0 / d_a**0.5
        self.weight = nn.Parameter(torch.empty(output_dim, d_a, d_b).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(output_dim).uniform_(-bound, bound))

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        x_a, x_b = self.zero_absent(self.check(features), mask)
        return torch.einsum("bi,kij,bj->bk", x_a, self.weight, x_b) + self.bias
