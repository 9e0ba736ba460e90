"""Modality shifting: the multimodal adaptation gate (MAG), after RAVEN's shifted embeddings."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion(
    "mag",
    "modality shifting (MAG, Rahman 2020): first modality shifted by the others",
    keeps_size=True,
)
@register_module
class ModalityShiftFusion(Fusion):
    """Shift a primary modality by a gated displacement from the others.

    Multimodal adaptation gate (Rahman et al., ACL 2020, https://arxiv.org/abs/1908.05787),
    generalizing RAVEN (Wang et al., AAAI 2019, https://arxiv.org/abs/1811.09362). With the
    primary modality p and every other modality m:

        ``g_m = relu(W_gm [x_m; x_p] + b_gm)``,
        ``H = sum_m g_m * (W_m x_m) + b_H``,
        ``alpha = min(beta * ||x_p|| / ||H||, 1)``,
        ``z = x_p + alpha * H``.

    The scale alpha keeps the shift smaller than the primary representation. Works per sample
    on vectors ``(B, d)`` and per time step on time-aligned sequences ``(B, T, d)``; the output
    lives in the primary modality's space, so ``output_dim`` must equal its size.

    An absent modality's features are zero-filled (a mask entry covers all time steps). An
    absent non-primary modality gives no displacement (``W_m`` has no bias, so its term of H is
    0; ``b_H`` stays). An absent primary gives ``x_p = 0``, hence ``alpha = 0`` and ``z = 0``.

    Args:
        primary: the modality that is shifted (default: the first in sorted order).
        beta: the scaling threshold beta (> 0).

    Shape:
        ``{m: (B, d_m) or (B, T, d_m)}, mask {m: (B,)} -> (B, output_dim) or (B, T, output_dim)``
    """

    absent = "zero-filled features: no shift from an absent modality; absent primary gives 0"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        primary: str | None = None,
        beta: float = 1.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(input_dims, output_dim)
        primary = primary or self.modalities[0]
        if primary not in self.input_dims:
            raise KeyError(f"primary modality {primary!r} is not one of {self.modalities}")
        d_p = self.input_dims[primary]
        if output_dim != d_p:
            raise ValueError(
                f"the shifted output has the size of {primary!r}: set output_dim={d_p}"
            )
        if beta <= 0:
            raise ValueError(f"beta must be positive, got {beta}")
        self.primary, self.beta, self.eps = primary, beta, eps
        others = {key: dim for key, dim in self.input_dims.items() if key != primary}
        self.gates = nn.ModuleDict({key: nn.Linear(dim + d_p, d_p) for key, dim in others.items()})
        self.shifts = nn.ModuleDict(
            {key: nn.Linear(dim, d_p, bias=False) for key, dim in others.items()}
        )
        self.shift_bias = nn.Parameter(torch.zeros(d_p))

    def displacement(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The unscaled shift H, shaped like the primary modality."""
        x = self._zero_filled(features, mask)
        x_p = x[self.primary]
        h = self.shift_bias
        for key, gate in self.gates.items():
            x_m = x[key]
            if x_m.shape[:-1] != x_p.shape[:-1]:
                raise ValueError(
                    f"{key!r} {tuple(x_m.shape)} is not aligned with {self.primary!r} "
                    f"{tuple(x_p.shape)}: sequences must share the time steps"
                )
            h = h + torch.relu(gate(torch.cat([x_m, x_p], dim=-1))) * self.shifts[key](x_m)
        return h

    def _zero_filled(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None
    ) -> dict[str, Tensor]:
        tensors = self.zero_absent(self.check(features, ndims=(2, 3)), mask)
        return dict(zip(self.input_dims, tensors, strict=True))

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        x = self._zero_filled(features, mask)
        h = self.displacement(x)
        x_p = x[self.primary]
        ratio = x_p.norm(dim=-1, keepdim=True) / (h.norm(dim=-1, keepdim=True) + self.eps)
        alpha = torch.clamp(self.beta * ratio, max=1.0)
        return x_p + alpha * h
