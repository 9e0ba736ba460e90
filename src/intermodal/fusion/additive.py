"""Additive fusion."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("additive", "additive fusion: sum of per-modality projections")
@register_module
class AdditiveFusion(Fusion):
    """Additive fusion ``z = sum_m W_m x_m + b``: each modality projected, projections summed.

    Equivalent to a linear map of the concatenation; kept as its own family because it is the
    reference point of the taxonomy (no cross-modal interaction, affine in all inputs jointly).

    The sum runs over the present modalities only (an absent modality's features are
    zero-filled, and the projections W_m have no bias), so with none present ``z = b``.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "left out of the sum (zero-filled features, bias-free projections)"

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim, bias=False) for key, dim in self.input_dims.items()}
        )
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        tensors = self.zero_absent(self.check(features), mask)
        z = self.bias
        for key, x in zip(self.input_dims, tensors, strict=True):
            z = z + self.projections[key](x)
        return z
