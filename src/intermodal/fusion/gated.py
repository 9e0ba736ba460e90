"""Gated multimodal unit (GMU)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.saving import register_module


@register_module
class GatedFusion(Fusion):
    """Gated multimodal unit (Arevalo et al., ICLR workshop 2017, https://arxiv.org/abs/1702.01992).

    ``h_m = tanh(W_m x_m)``; gates are computed from all inputs ``x = [x_1; ...; x_M]``:

    - two modalities: ``g = sigmoid(W_g x)``, ``z = g * h_1 + (1 - g) * h_2``;
    - M > 2: ``g = softmax_m(W_g^(m) x)`` per output unit, ``z = sum_m g_m * h_m``.

    Shape:
        ``{m: (B, d_m)} -> (B, output_dim)``
    """

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__(input_dims, output_dim)
        self.hidden = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim, bias=False) for key, dim in self.input_dims.items()}
        )
        count = len(self.input_dims)
        gates = output_dim if count == 2 else count * output_dim
        self.gate = nn.Linear(sum(self.input_dims.values()), gates, bias=False)

    def gates(self, features: Mapping[str, Tensor]) -> Tensor:
        """Gate values ``(M, B, output_dim)`` that weight each modality; they sum to 1 over M."""
        tensors = self.check(features)
        logits = self.gate(torch.cat(tensors, dim=1))
        if len(tensors) == 2:
            g = torch.sigmoid(logits)
            return torch.stack([g, 1 - g])
        return torch.softmax(logits.reshape(len(logits), len(tensors), -1), dim=1).transpose(0, 1)

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        g = self.gates(features)
        h = torch.stack([torch.tanh(self.hidden[key](features[key])) for key in self.input_dims])
        return (g * h).sum(dim=0)
