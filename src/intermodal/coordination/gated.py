"""Gated coordination: each coordinated embedding is a gated mixture of both modalities."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from intermodal.saving import register_module


@register_module
class GatedCoordination(nn.Module):
    """Two coordinated embeddings, each a gated mixture of both modalities.

    With projections ``p_A = P_A x_A`` and ``p_B = P_B x_B`` to ``output_dim`` and gates computed
    from both inputs, ``[g_A, g_B] = softmax over the pair of (W_z [x_A; x_B])`` per unit:

        ``z_A = g_A^(A) * p_A + g_B^(A) * p_B``,  ``z_B = g_A^(B) * p_A + g_B^(B) * p_B``,

    with separate gates for z_A and z_B, so each embedding can borrow from the other modality.

    Shape:
        ``x_A: (B, d_A), x_B: (B, d_B) -> ((B, output_dim), (B, output_dim))``
    """

    def __init__(self, dim_a: int, dim_b: int, output_dim: int) -> None:
        super().__init__()
        self.project_a = nn.Linear(dim_a, output_dim)
        self.project_b = nn.Linear(dim_b, output_dim)
        self.gates = nn.Linear(dim_a + dim_b, 4 * output_dim)

    def forward(self, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Tensor]:
        p = torch.stack([self.project_a(x_a), self.project_b(x_b)], dim=1)  # (B, 2, out)
        logits = self.gates(torch.cat([x_a, x_b], dim=1)).reshape(len(x_a), 2, 2, -1)
        g = torch.softmax(logits, dim=2)  # (B, embedding, source modality, out)
        z = (g * p.unsqueeze(1)).sum(dim=2)
        return z[:, 0], z[:, 1]
