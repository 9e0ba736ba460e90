"""Regression outputs in the targets' units for a model trained on standardized targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from intermodal.models.protocols import EncodeThenPredict
from intermodal.saving import register_module


@dataclass(frozen=True)
class TargetStatistics:
    """Mean and standard deviation of regression targets ``(N,)`` or ``(N, T)`` per column,
    from the training split (a column without variance gets a scale of 1)."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, targets: Tensor) -> TargetStatistics:
        values = targets.double().reshape(len(targets), -1)
        mean, std = values.mean(0), values.std(0, correction=0)
        std = torch.where(std > 1e-12 * (1 + mean.abs()), std, torch.ones_like(std))
        return cls(mean.float(), std.float())

    def standardize(self, targets: Tensor) -> Tensor:
        """``(y - mean) / std`` in the targets' shape."""
        values = targets.reshape(len(targets), -1)
        return ((values - self.mean) / self.std).reshape(targets.shape)

    def wrap(self, model: nn.Module) -> TargetScale:
        """``model`` (trained on standardized targets) with outputs in the original units."""
        cls = EncodedTargetScale if isinstance(model, EncodeThenPredict) else TargetScale
        return cls(model, self.mean.tolist(), self.std.tolist())


@register_module
class TargetScale(nn.Module):
    """``y = mean + std * model(inputs, mask)``: the outputs of a model trained on standardized
    regression targets, mapped back to the targets' units. ``mean`` and ``std`` (one per target
    column) are buffers saved with the model.

    Shape:
        ``{m: (B, ...)} -> (B, T)``
    """

    def __init__(self, model: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean and std differ in length: {len(mean)} vs {len(std)}")
        self.model = model
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    @property
    def modalities(self) -> list[str]:
        return list(getattr(self.model, "modalities"))  # noqa: B009 (typed as Module attribute)

    @property
    def absent(self) -> str:
        return str(getattr(self.model, "absent", ""))

    @property
    def statistics(self) -> TargetStatistics:
        return TargetStatistics(self.mean, self.std)

    def scale(self, outputs: Tensor) -> Tensor:
        mean, std = self.mean.to(outputs.device), self.std.to(outputs.device)
        return outputs * std + mean

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.scale(self.model(inputs, mask))


@register_module
class EncodedTargetScale(TargetScale):
    """:class:`TargetScale` of a model that encodes each modality separately: ``encode`` is the
    model's, ``classify`` scales its outputs, so analyses that cache encodings (EMAP) work."""

    def encode(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        return self.model.encode(inputs, mask)  # type: ignore[operator]

    def classify(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.scale(self.model.classify(features, mask))  # type: ignore[operator]
