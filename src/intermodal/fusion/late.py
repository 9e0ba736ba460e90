"""Late (decision-level) fusion: combine per-modality predictions."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.saving import register_module

COMBINATIONS = ("mean", "weighted", "learned")


@register_module
class LateFusion(Fusion):
    """Decision-level fusion of per-modality predictions ``p_m = W_m x_m + b_m`` (logits).

    - ``mean``: ``z = (1/M) sum_m p_m``;
    - ``weighted``: ``z = sum_m w_m p_m`` with ``w = softmax(a)``, one learned weight per modality;
    - ``learned``: ``z = V [p_1; ...; p_M] + c``, a learned linear combiner (stacking).

    Each p_m is a prediction of its own modality, so a head after this module should be omitted.

    Shape:
        ``{m: (B, d_m)} -> (B, output_dim)``
    """

    min_modalities = 1

    def __init__(
        self, input_dims: Mapping[str, int], output_dim: int, combine: str = "mean"
    ) -> None:
        super().__init__(input_dims, output_dim)
        if combine not in COMBINATIONS:
            raise ValueError(f"combine must be one of {COMBINATIONS}, got {combine!r}")
        self.combine = combine
        self.predictors = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim) for key, dim in self.input_dims.items()}
        )
        count = len(self.input_dims)
        if combine == "weighted":
            self.weight_logits = nn.Parameter(torch.zeros(count))
        elif combine == "learned":
            self.combiner = nn.Linear(count * output_dim, output_dim)

    def predictions(self, features: Mapping[str, Tensor]) -> Tensor:
        """Per-modality predictions stacked as ``(M, B, output_dim)`` in sorted modality order."""
        tensors = self.check(features)
        return torch.stack(
            [self.predictors[key](x) for key, x in zip(self.input_dims, tensors, strict=True)]
        )

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        p = self.predictions(features)
        if self.combine == "mean":
            return p.mean(dim=0)
        if self.combine == "weighted":
            return torch.einsum("m,mbk->bk", torch.softmax(self.weight_logits, dim=0), p)
        return self.combiner(torch.cat(list(p), dim=1))
