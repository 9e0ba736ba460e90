"""Gated multimodal unit (GMU)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("gmu", "gated multimodal unit (Arevalo 2017)")
@register_module
class GatedFusion(Fusion):
    """Gated multimodal unit (Arevalo et al., ICLR workshop 2017, https://arxiv.org/abs/1702.01992).

    ``h_m = tanh(W_m x_m)``; gates are computed from all inputs ``x = [x_1; ...; x_M]``:

    - two modalities: ``g = sigmoid(W_g x)``, ``z = g * h_1 + (1 - g) * h_2``;
    - M > 2: ``g = softmax_m(W_g^(m) x)`` per output unit, ``z = sum_m g_m * h_m``.

    With a presence mask the gates are renormalized over the present modalities: with two
    modalities the present one gets gate 1; with M > 2 the softmax runs over the present ones
    only. An absent modality's features are zero-filled in the gate input ``x``, and a sample
    with none present gets zeros.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "gates renormalized over the present modalities"

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__(input_dims, output_dim)
        self.hidden = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim, bias=False) for key, dim in self.input_dims.items()}
        )
        count = len(self.input_dims)
        gates = output_dim if count == 2 else count * output_dim
        self.gate = nn.Linear(sum(self.input_dims.values()), gates, bias=False)

    def gates(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Gate values ``(M, B, output_dim)`` that weight each modality; they sum to 1 over the
        present modalities and are 0 for absent ones."""
        tensors = self.zero_absent(self.check(features), mask)
        logits = self.gate(torch.cat(tensors, dim=1))
        count = len(tensors)
        if count == 2:
            g = torch.sigmoid(logits)
            if mask is None:
                return torch.stack([g, 1 - g])
            present = self.presence(mask, logits).bool().unsqueeze(-1)  # (2, B, 1)
            both = present[0] & present[1]
            return torch.stack(
                [
                    torch.where(both, g, present[0].to(g.dtype)),
                    torch.where(both, 1 - g, present[1].to(g.dtype)),
                ]
            )
        logits = logits.reshape(len(logits), count, -1)
        if mask is None:
            return torch.softmax(logits, dim=1).transpose(0, 1)
        present = self.presence(mask, logits).bool().T.unsqueeze(-1)  # (B, M, 1)
        anyone = present.any(dim=1, keepdim=True)
        fill = torch.where(anyone, float("-inf"), 0.0).to(logits.dtype)  # all absent: no -inf
        g = torch.softmax(torch.where(present, logits, fill), dim=1) * present
        return g.transpose(0, 1)

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        g = self.gates(features, mask)
        tensors = self.zero_absent(self.check(features), mask)
        pairs = zip(self.input_dims, tensors, strict=True)
        h = torch.stack([torch.tanh(self.hidden[key](x)) for key, x in pairs])
        return (g * h).sum(dim=0)
