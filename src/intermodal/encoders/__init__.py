"""Unimodal encoders: MLP for vectors, CNN for images, GRU or Transformer for sequences,
embeddings and an MLP for tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from torch import Tensor, nn

from intermodal.encoders.cnn import CNNEncoder
from intermodal.encoders.dropout import Dropout
from intermodal.encoders.mlp import MLP, RawInput, TokenEncoder
from intermodal.encoders.sequence import SequenceEncoder
from intermodal.encoders.tabular import TabularEncoder
from intermodal.encoders.text import TextEncoder, load_tokenizer, text_encoder, train_tokenizer

if TYPE_CHECKING:
    from intermodal.data.dataset import MultimodalDataset


def default_encoder(
    kind: str,
    shape: tuple[int, ...],
    output_dim: int,
    dropout: float = 0.1,
    data: Tensor | None = None,
    categorical: Mapping[int, int] | None = None,
) -> nn.Module:
    """The encoder this library uses for a modality of ``kind`` with per-sample ``shape``.

    A ``text`` modality gets a bag-of-embeddings :class:`TextEncoder` whose WordPiece vocabulary
    is trained on ``data``, the modality's training split (``(N, L)`` UTF-8 bytes). A
    ``tabular`` one gets a :class:`TabularEncoder` of its ``categorical`` columns (position ->
    number of training categories; see :func:`modality_encoder`).
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
    if kind == "tabular":
        return TabularEncoder(
            shape[0], output_dim, sorted((categorical or {}).items()), dropout=dropout
        )
    if kind == "text":
        if data is None:
            raise ValueError("a text encoder learns its vocabulary: pass the training texts")
        return text_encoder(data, output_dim, dropout=dropout)
    raise ValueError(
        f"no default encoder for {kind!r} modalities of shape {shape}; turn raw audio into a "
        "spectrogram (a sequence) or pass your own encoder"
    )


def modality_encoder(
    dataset: MultimodalDataset, key: str, output_dim: int, dropout: float = 0.1
) -> nn.Module:
    """:func:`default_encoder` of modality ``key`` of ``dataset`` (its training split): a text
    encoder learns its vocabulary from it, a tabular encoder its categorical columns."""
    from intermodal.data.tabular import categorical_layout

    kind = dataset.kinds[key]
    return default_encoder(
        kind,
        dataset.shapes[key],
        output_dim,
        dropout=dropout,
        data=dataset.modalities[key],
        categorical=categorical_layout(dataset, key) if kind == "tabular" else None,
    )


__all__ = [
    "MLP",
    "CNNEncoder",
    "Dropout",
    "RawInput",
    "SequenceEncoder",
    "TabularEncoder",
    "TextEncoder",
    "TokenEncoder",
    "default_encoder",
    "load_tokenizer",
    "modality_encoder",
    "text_encoder",
    "train_tokenizer",
]
