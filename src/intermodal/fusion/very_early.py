"""Very early fusion: raw, time-aligned signals merged before any modality-specific layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion(
    "very-early",
    "very early fusion: ordered raw signals on a common time grid, one shared encoder",
    searchable=False,
)
@register_module
class VeryEarlyFusion(Fusion):
    """Very early fusion (the idea of Barnum, Talukder & Yue, 2022, "On the Benefits of Early
    Fusion in Multimodal Representation Learning", https://arxiv.org/abs/2011.07191).

    Each modality's raw signal ``(B, T_m, C_m)`` (or ``(B, T_m)``, one channel; ``(B, C_m, T_m)``
    for the modalities named in ``channels_first``, such as multi-channel audio) is resampled by
    linear interpolation to a common grid of ``time_steps`` points, the channels of all
    modalities are concatenated, and one shared encoder reads the merged signal: two 1-D
    convolutions (kernel 5, ReLU), a mean over time and a linear map to ``output_dim``. No layer
    sees one modality alone. The method assumes ordered signals (time series, waveforms): on a
    vector of unordered features the "time" axis, and the convolutions along it, mean nothing.

    An absent modality's raw signal is zero-filled (all channels, all time steps).

    Args:
        input_dims: C_m, the number of channels of each modality.
        time_steps: length of the common time grid.
        hidden_dim: channels of the shared convolutional encoder.
        channels_first: modalities given as ``(B, C_m, T_m)`` (audio's layout).

    Shape:
        ``{m: (B, T_m, C_m) or (B, T_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "zero-filled signal"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        time_steps: int = 64,
        hidden_dim: int = 32,
        channels_first: Sequence[str] = (),
    ) -> None:
        super().__init__(input_dims, output_dim)
        if time_steps < 2:
            raise ValueError(f"time_steps must be at least 2, got {time_steps}")
        unknown = sorted(set(channels_first) - set(self.input_dims))
        if unknown:
            raise ValueError(f"channels_first names {unknown}, which are not in input_dims")
        self.time_steps = time_steps
        self.channels_first = sorted(channels_first)
        channels = sum(self.input_dims.values())
        self.encoder = nn.Sequential(
            nn.Conv1d(channels, hidden_dim, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.Conv1d(hidden_dim, hidden_dim, kernel_size=5, padding=2),
            nn.ReLU(),
        )
        self.output = nn.Linear(hidden_dim, output_dim)

    def merge(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The merged signal ``(B, sum_m C_m, time_steps)``: resampled, channels concatenated,
        absent modalities zero-filled."""
        signals = {
            key: x.unsqueeze(-1)
            if x.ndim == 2 and self.input_dims[key] == 1
            else x.transpose(1, 2)
            if key in self.channels_first and x.ndim == 3
            else x
            for key, x in features.items()
            if key in self.input_dims
        }
        tensors = self.zero_absent(self.check({**features, **signals}, ndims=(3,)), mask)
        resampled = [
            F.interpolate(
                x.transpose(1, 2), size=self.time_steps, mode="linear", align_corners=True
            )
            for x in tensors
        ]
        return torch.cat(resampled, dim=1)

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.output(self.encoder(self.merge(features, mask)).mean(dim=2))
