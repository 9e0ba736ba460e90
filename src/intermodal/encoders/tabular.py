"""An encoder for tabular modalities: numeric columns as they are, each categorical column
one-hot encoded or embedded, into an MLP.

The choice per categorical column follows its number K of training categories (the categories
of the training split, see :class:`~intermodal.data.tabular.TabularEncoding`): one-hot over its
``K + 2`` codes (missing, unknown, the K categories) up to
:data:`~intermodal.data.tabular.ONEHOT_MAX` categories, a learned embedding of the codes above
(entity embeddings, Guo & Berkhahn 2016, https://arxiv.org/abs/1604.06737) of
``min(EMBEDDING_MAX, round(1.6 * (K + 2) ** 0.56))`` dimensions (the rule of thumb of fastai's
tabular models, Howard & Gugger 2020, https://arxiv.org/abs/2002.04688). A category unseen in
training arrives with the unknown code and reads the unknown slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional

from intermodal.data.tabular import FIRST, ONEHOT_MAX
from intermodal.encoders.mlp import MLP
from intermodal.saving import register_module

EMBEDDING_MAX = 32
"""The largest embedding of a categorical column."""


def embedding_dim(categories: int) -> int:
    """The embedding size of a column of ``categories`` training categories (``K + 2`` codes)."""
    return int(min(EMBEDDING_MAX, round(1.6 * (categories + FIRST) ** 0.56)))


def onehot_columns(layout: Mapping[int, int], onehot_max: int = ONEHOT_MAX) -> list[int]:
    """The categorical columns (positions) of ``layout`` (position -> K) that are one-hot
    encoded: those of at most ``onehot_max`` training categories."""
    return [i for i, k in sorted(layout.items()) if k <= onehot_max]


@register_module
class TabularEncoder(nn.Module):
    """``MLP([numeric columns, one-hot columns, embeddings])`` of a tabular modality.

    Args:
        input_dim: D, the columns of the encoded table.
        output_dim: the encoder's output size.
        categorical: the categorical columns as ``[position, K]`` pairs (K training categories;
            codes 0 .. K + 1); every other column is numeric (NaN read as 0).
        hidden_dims: the MLP's hidden layers (default ``(2 * output_dim,)``).
        dropout: the MLP's dropout.
        onehot_max: one-hot up to this many categories, an embedding above.

    Shape:
        ``(B, D) -> (B, output_dim)``
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        categorical: Sequence[Sequence[int]] = (),
        hidden_dims: Sequence[int] | None = None,
        dropout: float = 0.1,
        onehot_max: int = ONEHOT_MAX,
    ) -> None:
        super().__init__()
        layout = {int(i): int(k) for i, k in categorical}
        if any(not 0 <= i < input_dim for i in layout) or any(k < 0 for k in layout.values()):
            raise ValueError(f"categorical columns {layout} do not fit {input_dim} columns")
        self.input_dim = input_dim
        self.numeric: Tensor
        self.register_buffer(
            "numeric",
            torch.tensor([i for i in range(input_dim) if i not in layout], dtype=torch.long),
            persistent=False,
        )
        onehot = onehot_columns(layout, onehot_max)
        self.onehot = [(i, layout[i] + FIRST) for i in onehot]
        self.embedded = [i for i in sorted(layout) if i not in onehot]
        self.sizes = [layout[i] + FIRST for i in self.embedded]
        dims = [embedding_dim(size - FIRST) for size in self.sizes]
        self.embeddings = nn.ModuleList(
            nn.Embedding(size, dim) for size, dim in zip(self.sizes, dims, strict=True)
        )
        width = len(self.numeric) + sum(size for _, size in self.onehot) + sum(dims)
        self.mlp = MLP(
            width,
            output_dim,
            hidden_dims=(2 * output_dim,) if hidden_dims is None else tuple(hidden_dims),
            dropout=dropout,
            final_activation=True,
        )
        self.output_dim = output_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"TabularEncoder expects inputs (B, {self.input_dim}), got {tuple(x.shape)}"
            )
        parts = [torch.nan_to_num(x.index_select(1, self.numeric), nan=0.0)]
        for i, size in self.onehot:
            code = _codes(x[:, i], size)
            slots = torch.arange(size, device=x.device)
            parts.append((code[:, None] == slots).to(x.dtype))
        for i, size, embedding in zip(self.embedded, self.sizes, self.embeddings, strict=True):
            weight = embedding.weight
            assert isinstance(weight, Tensor)
            parts.append(functional.embedding(_codes(x[:, i], size), weight))
        return self.mlp(torch.cat(parts, dim=1))


def _codes(column: Tensor, size: int) -> Tensor:
    """Codes as indices: rounded (noise added by a robustness analysis), NaN as missing, and
    clamped to the column's ``size`` slots."""
    return torch.nan_to_num(column, nan=0.0).round().clamp(0, size - 1).long()


__all__ = ["EMBEDDING_MAX", "TabularEncoder", "embedding_dim", "onehot_columns"]
