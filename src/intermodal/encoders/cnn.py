"""A small convolutional encoder for image modalities."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from intermodal.saving import register_module


@register_module
class CNNEncoder(nn.Module):
    """``[Conv3x3 -> BatchNorm -> ReLU -> MaxPool2]`` per stage, global average pooling, ``Linear``.

    Args:
        in_channels: C, channels of the input images.
        output_dim: size of the output features.
        channels: output channels of each convolutional stage.

    Shape:
        ``(B, C, H, W) -> (B, output_dim)``; H and W of at least ``2 ** (len(channels) - 1)``.
    """

    def __init__(
        self, in_channels: int, output_dim: int, channels: Sequence[int] = (16, 32)
    ) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        previous = in_channels
        for i, width in enumerate(channels):
            stages += [
                nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            if i < len(channels) - 1:
                stages.append(nn.MaxPool2d(2))
            previous = width
        self.features = nn.Sequential(*stages)
        self.project = nn.Sequential(nn.Linear(previous, output_dim), nn.ReLU())
        self.in_channels, self.output_dim = in_channels, output_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"CNNEncoder expects images (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        return self.project(torch.flatten(self.features(x).mean(dim=(2, 3)), 1))
