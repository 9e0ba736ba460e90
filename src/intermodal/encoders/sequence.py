"""Sequence encoders (GRU or Transformer) for modalities of shape (B, T, D)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from intermodal.saving import register_module


@register_module
class SequenceEncoder(nn.Module):
    """A GRU or a Transformer encoder over time, pooled to one vector.

    Args:
        input_dim: D, features per time step.
        output_dim: size of the output features.
        architecture: ``gru`` (last hidden state of a unidirectional GRU) or ``transformer``
            (mean over time of a Transformer encoder with learned positions).
        num_layers: stacked layers.
        num_heads: attention heads (Transformer; must divide ``output_dim``).
        max_length: longest sequence the Transformer's position table supports.

    Shape:
        ``(B, T, D) -> (B, output_dim)``
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        architecture: str = "gru",
        num_layers: int = 1,
        num_heads: int = 4,
        max_length: int = 512,
    ) -> None:
        super().__init__()
        if architecture not in ("gru", "transformer"):
            raise ValueError(f"architecture must be 'gru' or 'transformer', got {architecture!r}")
        self.architecture, self.input_dim, self.output_dim = architecture, input_dim, output_dim
        if architecture == "gru":
            self.rnn = nn.GRU(input_dim, output_dim, num_layers=num_layers, batch_first=True)
        else:
            self.embed = nn.Linear(input_dim, output_dim)
            self.position = nn.Parameter(torch.zeros(max_length, output_dim))
            nn.init.normal_(self.position, std=0.02)
            layer = nn.TransformerEncoderLayer(
                output_dim, num_heads, dim_feedforward=2 * output_dim, batch_first=True
            )
            self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(
                f"SequenceEncoder expects (B, T, {self.input_dim}), got {tuple(x.shape)}"
            )
        if self.architecture == "gru":
            _, hidden = self.rnn(x)
            return hidden[-1]
        if x.shape[1] > len(self.position):
            raise ValueError(
                f"sequence of length {x.shape[1]} exceeds max_length={len(self.position)}"
            )
        h = self.embed(x) + self.position[: x.shape[1]]
        return self.transformer(h).mean(dim=1)
