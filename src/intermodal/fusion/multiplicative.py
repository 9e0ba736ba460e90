"""Multiplicative fusion: element-wise products and multiplicative interactions (hypernetworks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion, zero_where_absent
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion("multiplicative", "element-wise product of projections")
@register_module
class MultiplicativeFusion(Fusion):
    """Element-wise multiplicative fusion ``z = W (prod_m P_m x_m) + b``.

    Each modality is projected to a common size ``hidden_dim`` by ``P_m`` (no bias), the
    projections are multiplied element-wise, and ``W, b`` map the product to ``output_dim``.
    The output is linear in each modality when the others are fixed.

    The product runs over the present modalities only: an absent modality contributes the
    factor 1 (zero-filling would make every product 0 and erase the present modalities), so
    a sample with one present modality gets ``W P_m x_m + b`` and one with none ``W 1 + b``.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "left out of the product (factor 1)"

    def __init__(
        self, input_dims: Mapping[str, int], output_dim: int, hidden_dim: int | None = None
    ) -> None:
        super().__init__(input_dims, output_dim)
        hidden = hidden_dim or output_dim
        self.projections = nn.ModuleDict(
            {key: nn.Linear(dim, hidden, bias=False) for key, dim in self.input_dims.items()}
        )
        self.output = nn.Linear(hidden, output_dim)

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.output(self.product(features, mask))

    def affine_split(self) -> tuple[Callable[..., Tensor], nn.Module]:
        """The product and the linear layer on it (see :meth:`Fusion.affine_split`)."""
        return self.product, self.output

    def product(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """``prod_m P_m x_m`` over the present modalities: ``(B, hidden_dim)``."""
        tensors = self.check(features)
        present = self.check_mask(mask, tensors[0].shape[0], tensors[0].device)
        product = None
        for key, x in zip(self.input_dims, tensors, strict=True):
            if key in present:
                p = self.projections[key](zero_where_absent(x, present[key]))
                p = torch.where(present[key].unsqueeze(1), p, p.new_ones(()))
            else:
                p = self.projections[key](x)
            product = p if product is None else product * p
        assert product is not None
        return product


VARIANTS = ("matrix", "vector", "scalar")


@register_fusion(
    "interactions",
    "multiplicative interactions (Jayakumar 2020), matrix hypernetwork",
    two_modal=True,
)
@register_module
class MultiplicativeInteractions(Fusion):
    """Multiplicative interactions (Jayakumar et al., ICLR 2020, https://openreview.net/forum?id=rylnK6VtDH).

    Two-modal by definition: a context ``x_B`` generates, through a hypernetwork, the weights that
    are applied to ``x_A``:

    - ``matrix``: ``W' = x_B W + V`` (W: d_B x d_A x out, V: d_A x out),
      ``z = x_A W' + x_B U + b``;
    - ``vector``: ``w' = x_B W + v`` (W: d_B x d_A), ``z = w' * x_A + x_B U + b`` (a gating);
    - ``scalar``: ``s = x_B w + v`` (w: d_B), ``z = s x_A + x_B U + b``.

    The vector and scalar variants keep x_A's size, so ``output_dim`` must equal ``d_A``.
    An absent modality's features are zero-filled: without A, ``z = x_B U + b``; without B,
    only the hypernetwork's bias acts on x_A (``z = x_A V + b``, ``v * x_A + b``, ``v x_A + b``).

    Args:
        primary: the name of modality A (default: the first in sorted order); the other is B.
        variant: ``matrix``, ``vector`` or ``scalar``.

    Shape:
        ``{A: (B, d_A), B: (B, d_B)}, mask {m: (B,)} -> (B, output_dim)``
    """

    min_modalities = max_modalities = 2
    absent = "zero-filled features"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        variant: str = "matrix",
        primary: str | None = None,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        primary = primary or self.modalities[0]
        if primary not in self.input_dims:
            raise KeyError(f"primary modality {primary!r} is not one of {self.modalities}")
        self.primary = primary
        (self.context,) = (key for key in self.input_dims if key != primary)
        d_a, d_b = self.input_dims[primary], self.input_dims[self.context]
        if variant != "matrix" and output_dim != d_a:
            raise ValueError(
                f"the {variant} variant outputs d_A = {d_a} features of {primary!r}; "
                f"set output_dim={d_a} or use variant='matrix'"
            )
        self.variant = variant
        shape = {"matrix": (d_a, output_dim), "vector": (d_a,), "scalar": (1,)}[variant]
        self.weight = nn.Parameter(torch.empty(d_b, *shape))
        self.weight_bias = nn.Parameter(torch.empty(*shape))
        self.context_projection = nn.Linear(d_b, output_dim)
        bound = 1.0 / (d_a * d_b) ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.weight_bias, -(d_a**-0.5), d_a**-0.5)

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        x = dict(zip(self.input_dims, self.zero_absent(self.check(features), mask), strict=True))
        x_a, x_b = x[self.primary], x[self.context]
        generated = torch.tensordot(x_b, self.weight, dims=1) + self.weight_bias
        if self.variant == "matrix":
            z = torch.einsum("ba,bao->bo", x_a, generated)
        else:
            z = generated * x_a
        return z + self.context_projection(x_b)
