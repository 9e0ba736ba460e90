"""What every fusion module shares: the input contract ``{name: (B, d_m)} -> (B, output_dim)``."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn


class Fusion(nn.Module):
    """Base class of fusion modules.

    Subclasses are built as ``Cls(input_dims, output_dim, **options)`` and called on a modality
    dict of ``(B, d_m)`` features; they iterate modalities in sorted key order.
    """

    min_modalities = 2
    max_modalities: int | None = None

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(input_dims, Mapping) or not input_dims:
            raise ValueError(f"{name} needs input_dims, a dict from modality name to feature size")
        count = len(input_dims)
        if count < self.min_modalities or (self.max_modalities and count > self.max_modalities):
            allowed = (
                f"exactly {self.min_modalities}"
                if self.min_modalities == self.max_modalities
                else f"at least {self.min_modalities}"
            )
            raise ValueError(
                f"{name} fuses {allowed} modalities, got {count}: {sorted(input_dims)}"
            )
        for key, dim in input_dims.items():
            if not isinstance(dim, int) or dim < 1:
                raise ValueError(
                    f"{name}: input dim of {key!r} must be a positive int, got {dim!r}"
                )
        if not isinstance(output_dim, int) or output_dim < 1:
            raise ValueError(f"{name}: output_dim must be a positive int, got {output_dim!r}")
        self.input_dims = {key: input_dims[key] for key in sorted(input_dims)}
        self.output_dim = output_dim

    @property
    def modalities(self) -> list[str]:
        return list(self.input_dims)

    def check(self, features: Mapping[str, Tensor], ndims: tuple[int, ...] = (2,)) -> list[Tensor]:
        """Validate ``features`` and return them as a list in sorted modality order.

        Each tensor must have one of ``ndims`` dimensions, the batch first and the feature size
        ``input_dims[m]`` last (``(B, d_m)``, or ``(B, T_m, d_m)`` where sequences are allowed).
        """
        name = type(self).__name__
        missing = [key for key in self.input_dims if key not in features]
        if missing:
            raise KeyError(f"{name} is missing modalities {missing}; it fuses {self.modalities}")
        tensors = [features[key] for key in self.input_dims]
        batch = tensors[0].shape[0]
        shapes = " or ".join("(B, " + "T, " * (n - 2) + "{dim})" for n in ndims)
        for key, x in zip(self.input_dims, tensors, strict=True):
            if x.ndim not in ndims or x.shape[-1] != self.input_dims[key]:
                expected = shapes.format(dim=self.input_dims[key])
                raise ValueError(f"{name}: {key!r} must be {expected}, got {tuple(x.shape)}")
            if x.shape[0] != batch:
                raise ValueError(
                    f"{name}: batch sizes differ across modalities: {key!r} has {x.shape[0]} "
                    f"rows, the first modality {batch}"
                )
        return tensors


def append_one(x: Tensor) -> Tensor:
    """``[x; 1]``: append a constant 1 to the last dimension (the TFN / LMF bias trick)."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)
