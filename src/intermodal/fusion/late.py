"""Late (decision-level) fusion: combine per-modality predictions."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module

COMBINATIONS = ("mean", "weighted", "learned")
TASKS = (None, "classification", "multilabel", "regression")


@register_fusion(
    "late-learned",
    "late fusion: per-modality predictions combined by a learned linear map",
    options={"combine": "learned"},
    outputs=True,
)
@register_fusion(
    "late-weighted",
    "late fusion: per-modality predictions, learned softmax weights",
    options={"combine": "weighted"},
    outputs=True,
)
@register_fusion(
    "late-mean",
    "late fusion: per-modality predictions averaged",
    options={"combine": "mean"},
    outputs=True,
)
@register_module
class LateFusion(Fusion):
    """Decision-level fusion of per-modality predictions ``p_m = W_m x_m + b_m`` (logits).

    - ``mean``: ``z = (1/M) sum_m p_m``;
    - ``weighted``: ``z = sum_m w_m p_m`` with ``w = softmax(a)``, one learned weight per modality;
    - ``learned``: ``z = V [p_1; ...; p_M] + c``, a learned linear combiner (stacking).

    Each p_m is a prediction of its own modality, so a head after this module should be omitted.
    ``task`` says what the predictions are, so that ``mean`` and ``weighted`` average what the
    modalities predict: ``classification`` averages class probabilities ``softmax(p_m)`` and
    returns the log of the average (logits of the averaged distribution); ``multilabel`` averages
    label probabilities ``sigmoid(p_m)`` and returns their logits; ``regression`` (or ``None``)
    averages the outputs themselves (values, or logits as they are).

    With a presence mask, ``mean`` averages the present modalities' predictions and ``weighted``
    renormalizes the softmax weights over them (``w_m = exp(a_m) / sum_{n present} exp(a_n)``);
    a sample with none present gets zeros. ``learned`` cannot drop an input of its combiner: an
    absent modality's prediction is set to zero, so z is ``V`` applied to the present
    predictions plus ``c``.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    min_modalities = 1
    absent = (
        "mean / weighted: combines the present predictions only (weights renormalized); "
        "learned: absent predictions zeroed"
    )

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        combine: str = "mean",
        task: str | None = None,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if combine not in COMBINATIONS:
            raise ValueError(f"combine must be one of {COMBINATIONS}, got {combine!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.combine, self.task = combine, task
        self.predictors = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim) for key, dim in self.input_dims.items()}
        )
        count = len(self.input_dims)
        if combine == "weighted":
            self.weight_logits = nn.Parameter(torch.zeros(count))
        elif combine == "learned":
            self.combiner = nn.Linear(count * output_dim, output_dim)

    def predictions(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Per-modality predictions stacked as ``(M, B, output_dim)`` in sorted modality order;
        an absent modality's prediction is computed from zero-filled features."""
        tensors = self.zero_absent(self.check(features), mask)
        return torch.stack(
            [self.predictors[key](x) for key, x in zip(self.input_dims, tensors, strict=True)]
        )

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        p = self.predictions(features, mask)
        present = self.presence(mask, p[0])  # (M, B)
        if self.combine == "learned":
            return self.combiner(torch.cat(list(p * present.unsqueeze(-1)), dim=1))
        if self.combine == "mean":
            weights = present
        else:
            weights = torch.softmax(self.weight_logits, dim=0).unsqueeze(1) * present
        tiny = torch.finfo(p.dtype).tiny
        weights = weights / weights.sum(dim=0).clamp_min(tiny)
        if self.task == "classification":
            average = torch.einsum("mb,mbk->bk", weights, torch.softmax(p, dim=-1))
            return average.clamp_min(tiny).log()
        if self.task == "multilabel":
            average = torch.einsum("mb,mbk->bk", weights, torch.sigmoid(p))
            average = average.clamp(tiny, 1.0 - torch.finfo(p.dtype).eps)
            return average.log() - torch.log1p(-average)
        return torch.einsum("mb,mbk->bk", weights, p)
