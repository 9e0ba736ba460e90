"""Unimodal encoders: MLP for vectors, CNN for images, GRU or Transformer for sequences."""

from __future__ import annotations

from torch import Tensor, nn

from intermodal.encoders.cnn import CNNEncoder
from intermodal.encoders.dropout import Dropout
from intermodal.encoders.mlp import MLP, RawInput, TokenEncoder
from intermodal.encoders.sequence import SequenceEncoder
from intermodal.encoders.text import TextEncoder, load_tokenizer, text_encoder, train_tokenizer


def default_encoder(
    kind: str,
    shape: tuple[int, ...],
    output_dim: int,
    dropout: float = 0.1,
    data: Tensor | None = None,
) -> nn.Module:
    """The encoder this library uses for a modality of ``kind`` with per-sample ``shape``.

    A ``text`` modality gets a bag-of-embeddings :class:`TextEncoder` whose WordPiece vocabulary
    is trained on ``data``, the modality's training split (``(N, L)`` UTF-8 bytes).
    """
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
    if kind == "text":
        if data is None:
            raise ValueError("a text encoder learns its vocabulary: pass the training texts")
        return text_encoder(data, output_dim, dropout=dropout)
    raise ValueError(
        f"no default encoder for {kind!r} modalities of shape {shape}; turn raw audio into a "
        "spectrogram (a sequence) or pass your own encoder"
    )


__all__ = [
    "MLP",
    "CNNEncoder",
    "Dropout",
    "RawInput",
    "SequenceEncoder",
    "TextEncoder",
    "TokenEncoder",
    "default_encoder",
    "load_tokenizer",
    "text_encoder",
    "train_tokenizer",
]
