"""What every fusion module shares: the input contract
``fusion({name: (B, d_m)}, mask=None) -> (B, output_dim)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn


class Fusion(nn.Module):
    """Base class of fusion modules.

    Subclasses are built as ``Cls(input_dims, output_dim, **options)`` and called as
    ``fusion(features, mask=None)`` on a modality dict of ``(B, d_m)`` features; they iterate
    modalities in sorted key order.

    Presence masks: ``mask`` is an optional ``{m: BoolTensor (B,)}``, True where modality m is
    present in a sample. A modality that ``mask`` does not name (or ``mask=None``) is present in
    every sample. The class attribute ``absent`` says in one line what the fusion does with an
    absent modality. A sample with no modality present is not an error here (callers reject such
    samples); the fusion returns what its formula gives.

    Shape:
        ``{m: (B, d_m)}, {m: (B,)} -> (B, output_dim)``
    """

    min_modalities = 2
    max_modalities: int | None = None
    absent: str = ""
    """What the fusion does with an absent modality (one line, used by reports)."""

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

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    @property
    def modalities(self) -> list[str]:
        return list(self.input_dims)

    def affine_split(self) -> tuple[Callable[..., Tensor], nn.Module] | None:
        """``(inner, output)`` for a fusion that ends in an affine map: ``forward(features,
        mask) == output(inner(features, mask))`` with ``output`` affine (a linear layer), else
        None. An analysis that averages the fusion's outputs over many inputs (EMAP) may
        average ``inner`` and apply ``output`` once to the means: the mean of an affine map is
        the map of the mean, and ``output`` is often the largest product of the fusion (TFN's
        weight reads the whole fused tensor)."""
        return None

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

    def check_mask(
        self, mask: Mapping[str, Tensor] | None, batch: int, device: torch.device | None = None
    ) -> dict[str, Tensor]:
        """Validate a presence mask and return it as ``{m: BoolTensor (B,)}``.

        Only the modalities that ``mask`` names are returned (in sorted order, on ``device``);
        the others are present everywhere. ``None`` gives ``{}``.
        """
        if mask is None:
            return {}
        name = type(self).__name__
        if not isinstance(mask, Mapping):
            raise TypeError(
                f"{name}: mask must be a dict from modality name to a bool tensor of shape (B,), "
                f"got a {type(mask).__name__}"
            )
        unknown = sorted(set(mask) - set(self.input_dims))
        if unknown:
            raise KeyError(
                f"{name}: the mask names unknown modalities {unknown}; it fuses {self.modalities}"
            )
        checked = {}
        for key in self.input_dims:
            if key not in mask:
                continue
            m = mask[key]
            if not isinstance(m, Tensor) or m.dtype != torch.bool:
                kind = m.dtype if isinstance(m, Tensor) else type(m).__name__
                raise TypeError(
                    f"{name}: mask[{key!r}] must be a bool tensor (True where present), got "
                    f"{kind}; convert it with `.bool()`"
                )
            if tuple(m.shape) != (batch,):
                raise ValueError(
                    f"{name}: mask[{key!r}] must have shape (B,) = ({batch},), got {tuple(m.shape)}"
                )
            checked[key] = m if device is None else m.to(device)
        return checked

    def presence(self, mask: Mapping[str, Tensor] | None, like: Tensor) -> Tensor:
        """The presence matrix ``(M, B)`` in sorted modality order: 1.0 where present, else 0.0.

        ``like`` is any feature tensor of the batch: it gives B, the dtype and the device.
        """
        checked = self.check_mask(mask, like.shape[0], like.device)
        rows = [
            checked[key].to(like.dtype) if key in checked else like.new_ones(like.shape[0])
            for key in self.input_dims
        ]
        return torch.stack(rows)

    def zero_absent(
        self, tensors: Sequence[Tensor], mask: Mapping[str, Tensor] | None
    ) -> list[Tensor]:
        """``tensors`` (in sorted modality order, batch first) with absent samples set to zero.

        A tensor whose modality the mask does not name is returned as is.
        """
        checked = self.check_mask(mask, tensors[0].shape[0], tensors[0].device)
        return [
            zero_where_absent(x, checked[key]) if key in checked else x
            for key, x in zip(self.input_dims, tensors, strict=True)
        ]


def zero_where_absent(x: Tensor, present: Tensor) -> Tensor:
    """``x`` (batch first, any shape) with the rows where ``present`` (B,) is False set to 0.

    A selection rather than a product, so non-finite values of absent rows do not leak.
    """
    keep = present.reshape(-1, *[1] * (x.ndim - 1))
    return torch.where(keep, x, x.new_zeros(()))


def append_one(x: Tensor) -> Tensor:
    """``[x; 1]``: append a constant 1 to the last dimension (the TFN / LMF bias trick)."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)
