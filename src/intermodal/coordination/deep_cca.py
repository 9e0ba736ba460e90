"""Deep CCA (Andrew et al., ICML 2013) and the deep canonically correlated autoencoder
(DCCAE, Wang et al., ICML 2015)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.models.two_tower import paired
from intermodal.saving import register_module


class CorrelationResult(NamedTuple):
    """``loss`` = minus the total correlation; ``correlations``: the canonical correlations
    ``(o,)`` of the batch, largest first (detached)."""

    loss: Tensor
    correlations: Tensor


def _inverse_sqrt(matrix: Tensor, eps: float) -> Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(eps).rsqrt()) @ vectors.T


def dcca_loss(
    h1: Tensor,
    h2: Tensor,
    r1: float = 1e-3,
    r2: float = 1e-3,
    top_k: int | None = None,
    float64: bool = True,
    eps: float = 1e-9,
) -> CorrelationResult:
    """Negative total canonical correlation of two views' outputs (Andrew et al. 2013).

    With centered ``h1``, ``h2`` (m x o), ``S11 = h1^T h1 / (m - 1) + r1 I``,
    ``S22 = h2^T h2 / (m - 1) + r2 I``, ``S12 = h1^T h2 / (m - 1)`` and
    ``T = S11^-1/2 S12 S22^-1/2``, the total correlation is the trace norm of T (the sum of its
    singular values), or the sum of the top-k singular values when ``top_k`` is given.

    Args:
        float64: compute in float64 (recommended: the inverse square roots are ill-conditioned
            in float32 for small ridges); the loss is returned in the input's dtype.

    Shape:
        ``h1: (m, o1)``, ``h2: (m, o2)`` with m > max(o1, o2) -> scalar loss.
    """
    if h1.ndim != 2 or h2.ndim != 2 or len(h1) != len(h2):
        raise ValueError(
            f"expected paired (m, o) outputs, got {tuple(h1.shape)} and {tuple(h2.shape)}"
        )
    m, o = len(h1), max(h1.shape[1], h2.shape[1])
    if m <= o:
        raise ValueError(
            f"deep CCA needs a batch larger than the output dimension: batch {m}, output {o}; "
            "increase the batch size or reduce the output dimension"
        )
    dtype = h1.dtype
    if float64:
        h1, h2 = h1.double(), h2.double()
    h1, h2 = h1 - h1.mean(0), h2 - h2.mean(0)
    s11 = h1.T @ h1 / (m - 1) + r1 * torch.eye(h1.shape[1], dtype=h1.dtype, device=h1.device)
    s22 = h2.T @ h2 / (m - 1) + r2 * torch.eye(h2.shape[1], dtype=h2.dtype, device=h2.device)
    t = _inverse_sqrt(s11, eps) @ (h1.T @ h2 / (m - 1)) @ _inverse_sqrt(s22, eps)
    singular = torch.linalg.svdvals(t)
    total = singular.sum() if top_k is None else singular[:top_k].sum()
    return CorrelationResult(-total.to(dtype), singular.detach().to(dtype))


@register_module
class DCCALoss(nn.Module):
    """Module form of :func:`dcca_loss` (r1, r2 ridges; optional top-k; float64 by default)."""

    def __init__(
        self, r1: float = 1e-3, r2: float = 1e-3, top_k: int | None = None, float64: bool = True
    ) -> None:
        super().__init__()
        self.r1, self.r2, self.top_k, self.float64 = r1, r2, top_k, float64

    def forward(self, h1: Tensor, h2: Tensor) -> Tensor:
        """The loss (minus the total correlation); :func:`dcca_loss` also gives the
        correlations."""
        return dcca_loss(h1, h2, self.r1, self.r2, self.top_k, self.float64).loss


@register_module
class DCCA(nn.Module):
    """Deep CCA: two encoders trained so that their outputs are maximally correlated.

    ``forward(inputs)`` returns both views' embeddings; ``training_loss(inputs, target, mask)``
    is the DCCA loss on a batch, which is what ``intermodal.training.fit`` minimizes (and, being
    deterministic in evaluation mode, monitors). Pairs with an absent side are left out.

    Shape:
        ``{a: (B, ...), b: (B, ...)} -> ((B, o), (B, o))``
    """

    def __init__(
        self,
        modalities: list[str],
        encoders: Mapping[str, nn.Module],
        loss: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if len(modalities) != 2 or set(modalities) != set(encoders):
            raise ValueError(
                "DCCA needs two modalities, each with an encoder; "
                f"got {modalities}, {sorted(encoders)}"
            )
        self.modalities = list(modalities)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.loss = loss if loss is not None else DCCALoss()

    def forward(
        self, inputs: dict[str, Tensor], mask: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        a, b = self.modalities
        return self.encoders[a](inputs[a]), self.encoders[b](inputs[b])

    validation_objective = "the DCCA loss on validation pairs"
    monitor = "loss"

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.loss(*self(paired(inputs, self.modalities, mask)))

    def validation_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.training_loss(inputs, target, mask)


@register_module
class DCCAE(DCCA):
    """Deep canonically correlated autoencoder (Wang et al. 2015): DCCA plus decoders that
    reconstruct each view from its embedding; loss = -correlation + lambda * (MSE_a + MSE_b)."""

    def __init__(
        self,
        modalities: list[str],
        encoders: Mapping[str, nn.Module],
        decoders: Mapping[str, nn.Module],
        reconstruction_weight: float = 1e-3,
        loss: nn.Module | None = None,
    ) -> None:
        super().__init__(modalities, encoders, loss)
        if set(decoders) != set(modalities):
            raise ValueError(f"DCCAE needs a decoder for each of {modalities}")
        self.decoders = nn.ModuleDict(dict(decoders))
        self.reconstruction_weight = reconstruction_weight

    validation_objective = "the DCCAE loss (correlation and reconstruction) on validation pairs"
    monitor = "loss"

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        a, b = self.modalities
        inputs = paired(inputs, self.modalities, mask)
        h_a, h_b = self(inputs)
        reconstruction = F.mse_loss(self.decoders[a](h_a), inputs[a]) + F.mse_loss(
            self.decoders[b](h_b), inputs[b]
        )
        return self.loss(h_a, h_b) + self.reconstruction_weight * reconstruction
