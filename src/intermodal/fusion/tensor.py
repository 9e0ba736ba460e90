"""Tensor Fusion Network (TFN)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion, append_one
from intermodal.saving import register_module

DEFAULT_MEMORY_LIMIT = 2**30
"""Bytes that TensorFusion may use for its weight or for one batch of fused tensors (1 GiB)."""


def fused_size(input_dims: Mapping[str, int]) -> int:
    """Number of entries of ``[x_1; 1] (x) ... (x) [x_M; 1]``: ``prod_m (d_m + 1)``."""
    return math.prod(dim + 1 for dim in input_dims.values())


@register_module
class TensorFusion(Fusion):
    """Tensor fusion (Zadeh et al., EMNLP 2017, https://arxiv.org/abs/1707.07250).

    ``z = W vec([x_1; 1] (x) [x_2; 1] (x) ... (x) [x_M; 1]) + b``: the outer product of all
    modalities, each extended with a constant 1, holds every unimodal, bimodal, ..., M-modal
    product term; a linear layer maps it to ``output_dim``. The fused tensor has
    ``prod_m (d_m + 1)`` entries per sample, so this module refuses configurations whose weight
    or fused batch would exceed ``memory_limit`` bytes; ``LowRankFusion`` computes the same
    family of functions without forming the tensor.

    Shape:
        ``{m: (B, d_m)} -> (B, output_dim)``
    """

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        super().__init__(input_dims, output_dim)
        self.memory_limit = memory_limit
        size = fused_size(self.input_dims)
        self._refuse_above(size * output_dim * 4, f"a weight of {size} x {output_dim} floats")
        self.output = nn.Linear(size, output_dim)

    def _refuse_above(self, needed: int, what: str) -> None:
        if needed > self.memory_limit:
            dims = " x ".join(f"({d} + 1)" for d in self.input_dims.values())
            raise MemoryError(
                f"TensorFusion needs {what} ({needed / 2**30:.2f} GiB, the fused tensor has "
                f"{dims} entries per sample), above memory_limit = "
                f"{self.memory_limit / 2**30:.2f} GiB. Use LowRankFusion (LMF), which never forms "
                "the tensor, reduce the input dims, or raise memory_limit."
            )

    def fuse(self, features: Mapping[str, Tensor]) -> Tensor:
        """The flattened outer product ``(B, prod_m (d_m + 1))`` in sorted modality order."""
        tensors = self.check(features)
        batch = tensors[0].shape[0]
        self._refuse_above(batch * self.output.in_features * 4, f"a batch of {batch} fused tensors")
        fused = append_one(tensors[0])
        for x in tensors[1:]:
            fused = torch.einsum("bi,bj->bij", fused, append_one(x)).reshape(batch, -1)
        return fused

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        return self.output(self.fuse(features))
