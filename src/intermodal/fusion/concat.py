"""Early fusion: concatenate the modality features."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.saving import register_module


@register_module
class ConcatFusion(Fusion):
    """Early fusion: ``z = W [x_1; ...; x_M] + b``, or the concatenation itself.

    Args:
        input_dims: d_m for each modality.
        output_dim: size of z; with ``project=False`` it must equal ``sum(d_m)``.
        project: follow the concatenation with a linear projection.

    Shape:
        ``{m: (B, d_m)} -> (B, output_dim)``
    """

    min_modalities = 1

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

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        return self.projection(torch.cat(self.check(features), dim=1))
