"""Dropout whose rate may differ between models trained as one stack."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class Dropout(nn.Module):
    """Dropout (Srivastava et al., JMLR 2014): in training, each value is zeroed with
    probability ``p`` and the others are scaled by ``1 / (1 - p)``; the identity in evaluation.

    Alone it is ``torch.nn.functional.dropout`` (the draws of ``torch.nn.Dropout``). ``p`` is a
    stackable setting (``stackable_settings``): in a stack of models (see
    :mod:`intermodal.training.stacked`) it is a tensor holding each model's own rate, and a
    value is kept where a uniform draw is at least its model's rate.

    Shape:
        ``(*) -> (*)``
    """

    stackable_settings = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p: float | Tensor = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        if isinstance(self.p, Tensor):  # one rate per stacked model
            keep = torch.rand_like(x) >= self.p
            return x * keep / (1 - self.p)
        return F.dropout(x, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}"
