"""Unimodal encoders: MLP for vectors, CNN for images, GRU or Transformer for sequences."""

from __future__ import annotations

from torch import nn

from intermodal.encoders.cnn import CNNEncoder
from intermodal.encoders.mlp import MLP, RawInput, TokenEncoder
from intermodal.encoders.sequence import SequenceEncoder


def default_encoder(
    kind: str, shape: tuple[int, ...], output_dim: int, dropout: float = 0.1
) -> nn.Module:
    """The encoder this library uses for a modality of ``kind`` with per-sample ``shape``."""
    if kind == "vector":
        return MLP(
            shape[0],
            output_dim,
            hidden_dims=(2 * output_dim,),
            dropout=dropout,
            final_activation=True,
        )
    if kind == "image":
        return CNNEncoder(shape[0], output_dim)
    if kind == "sequence":
        return SequenceEncoder(shape[1], output_dim)
    raise ValueError(
        f"no default encoder for {kind!r} modalities of shape {shape}; turn raw audio into a "
        "spectrogram (a sequence) or pass your own encoder"
    )


__all__ = ["MLP", "CNNEncoder", "RawInput", "SequenceEncoder", "TokenEncoder", "default_encoder"]
