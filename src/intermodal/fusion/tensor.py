"""Tensor Fusion Network (TFN)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from torch import Tensor, nn

from intermodal.fusion.base import Fusion, append_one
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module

DEFAULT_MEMORY_LIMIT = 2**30
"""Bytes that TensorFusion may use for its weight or for one batch of fused tensors (1 GiB)."""


def fused_size(input_dims: Mapping[str, int]) -> int:
    """Number of entries of ``[x_1; 1] (x) ... (x) [x_M; 1]``: ``prod_m (d_m + 1)``."""
    return math.prod(dim + 1 for dim in input_dims.values())


@register_fusion(
    "tfn",
    "tensor fusion network (Zadeh 2017); encoders shrink so the tensor has <= 16,384 entries",
    searchable=False,
)
@register_module
class TensorFusion(Fusion):
    """Tensor fusion (Zadeh et al., EMNLP 2017, https://arxiv.org/abs/1707.07250).

    ``z = W vec([x_1; 1] (x) [x_2; 1] (x) ... (x) [x_M; 1]) + b``: the outer product of all
    modalities, each extended with a constant 1, holds every unimodal, bimodal, ..., M-modal
    product term; a linear layer maps it to ``output_dim``. The fused tensor has
    ``prod_m (d_m + 1)`` entries per sample, so this module refuses configurations whose weight
    or fused batch would exceed ``memory_limit`` bytes; ``LowRankFusion`` computes the same
    family of functions without forming the tensor.

    An absent modality's features are zero-filled: its ``[x_m; 1]`` becomes ``[0; 1]``, so the
    constant 1 keeps every term of the present modalities (their unimodal and lower-order
    products) and drops every term that involves the absent one.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "zero-filled features: the appended 1 keeps the present modalities' terms"

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

    def fuse(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The flattened outer product ``(B, prod_m (d_m + 1))`` in sorted modality order, with
        absent modalities zero-filled."""
        tensors = self.zero_absent(self.check(features), mask)
        batch = tensors[0].shape[0]
        self._refuse_above(batch * self.output.in_features * 4, f"a batch of {batch} fused tensors")
        # built from the last modality on, each earlier one prepended as the slower index: the
        # same vec() as ((z_1 (x) z_2) (x) ...) (x) z_M, but the backward pass reduces over the
        # small modality's axis of the large tensor, not over its contiguous last axis (half
        # the time of the forward order on a CPU, see benchmarks/costly_methods.py)
        fused = append_one(tensors[-1])
        for x in reversed(tensors[:-1]):
            fused = (append_one(x).unsqueeze(2) * fused.unsqueeze(1)).reshape(batch, -1)
        return fused

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.output(self.fuse(features, mask))

    def affine_split(self) -> tuple[Callable[..., Tensor], nn.Module]:
        """The fused tensor and the linear layer on it (see :meth:`Fusion.affine_split`)."""
        return self.fuse, self.output
