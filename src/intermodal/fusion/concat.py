"""Early fusion: concatenate the modality features."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("early", "early fusion: concatenation and a linear projection")
@register_module
class ConcatFusion(Fusion):
    """Early fusion: ``z = W [x_1; ...; x_M] + b``, or the concatenation itself.

    Args:
        input_dims: d_m for each modality.
        output_dim: size of z; with ``project=False`` it must equal ``sum(d_m)``.
        project: follow the concatenation with a linear projection.

    An absent modality's features are zero-filled in the concatenation.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    min_modalities = 1
    absent = "zero-filled features"

    def __init__(
        self, input_dims: Mapping[str, int], output_dim: int, project: bool = True
    ) -> None:
        super().__init__(input_dims, output_dim)
        total = sum(self.input_dims.values())
        if not project and output_dim != total:
            raise ValueError(
                f"ConcatFusion without projection outputs sum(d_m) = {total}, not {output_dim}"
            )
        self.projection = nn.Linear(total, output_dim) if project else nn.Identity()

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        tensors = self.zero_absent(self.check(features), mask)
        return self.projection(torch.cat(tensors, dim=1))
