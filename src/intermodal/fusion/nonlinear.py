"""Nonlinear early fusion: a multilayer perceptron over the concatenated modalities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from intermodal.encoders.mlp import MLP
from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("nonlinear", "early fusion by an MLP over the concatenation")
@register_module
class NonlinearFusion(Fusion):
    """Early fusion as a nonlinear model: ``z = MLP([x_1; ...; x_M])``.

    The MLP has ``hidden_dims`` ReLU layers and a linear output, so unlike ``ConcatFusion`` it
    can model interactions between modalities.

    An absent modality's features are zero-filled in the concatenation.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "zero-filled features"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        hidden_dims: Sequence[int] = (128,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_dims, output_dim)
        self.mlp = MLP(sum(self.input_dims.values()), output_dim, hidden_dims, dropout)

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.mlp(torch.cat(self.zero_absent(self.check(features), mask), dim=1))
