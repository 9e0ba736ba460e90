"""Factorized multimodal representations (MFM, Tsai et al., ICLR 2019) and shared-private
models (Bousmalis et al. 2016; Hazarika et al., MISA 2020)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.fusion.base import zero_where_absent
from intermodal.losses import task_loss
from intermodal.saving import register_module


def mmd(x: Tensor, y: Tensor, scales: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)) -> Tensor:
    """Maximum mean discrepancy between samples ``x`` (N, D) and ``y`` (M, D) with a sum of RBF
    kernels ``k(a, b) = sum_s exp(-|a - b|^2 / (2 s^2 D))`` (biased estimate, >= 0):
    ``mean k(x, x) + mean k(y, y) - 2 mean k(x, y)``.

    Each of the three blocks is computed on its own (the ``y``-``x`` block would repeat the
    ``x``-``y`` one, and a block of samples without gradients, such as prior draws, costs no
    backward pass), one scale at a time.

    Leading batch dimensions give one MMD per batch element, computed together.

    Shape:
        ``(..., N, D), (..., M, D) -> (...)``
    """
    dim = x.shape[-1]

    def mean_kernel(a: Tensor, b: Tensor) -> Tensor:
        squared = a.square().sum(-1).unsqueeze(-1) + b.square().sum(-1).unsqueeze(-2)
        squared = (squared - 2 * a @ b.transpose(-1, -2)).clamp_min(0) / dim
        total = torch.exp(squared * (-0.5 / scales[0] ** 2))
        for scale in scales[1:]:
            total = total + torch.exp(squared * (-0.5 / scale**2))
        return total.mean((-2, -1))

    return mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y)


def _decoder(input_dim: int, output_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(input_dim, 256), nn.ReLU(), nn.Linear(256, output_dim))


@register_module
class FactorizedModel(nn.Module):
    """Multimodal factorization model (MFM): one shared multimodal discriminative factor and one
    private generative factor per modality, so there are more representations than modalities.

    - shared factor ``F_y = W_y [e_1(x_1); ...; e_M(x_M)]`` from all modalities; class logits
      ``head(F_y)``;
    - private factors ``F_m = W_m e'_m(x_m)`` from each modality alone;
    - each modality is reconstructed from ``[F_y; F_m]``;
    - loss = cross-entropy + ``reconstruction_weight`` * sum_m MSE + ``prior_weight`` * sum of
      MMD(factor, N(0, I)) over all factors (MFM's Wasserstein-autoencoder prior matching)
      + ``alignment_weight`` * mean over pairs of ``|F_y(x_i alone) - F_y(x_j alone)|^2``, the
      shared factor computed from one modality at a time (the others' encodings zeroed): it
      keeps what is private to one modality (e.g. a speaker's voice) out of the shared factor.

    The task term follows ``task`` (cross-entropy, binary cross-entropy or squared error).
    Early stopping follows the task's validation metric (``monitor = "metric"``): the task term
    keeps shrinking while the prior and reconstruction terms shape the factors, long after the
    classifier has stopped improving.

    Args:
        encoders / private_encoders: modality -> encoder to ``feature_dims[m]`` features (for the
            shared and the private factors).
        raw_dims: number of values of each modality's raw input (reconstructed flattened).
        outputs: the outputs of ``task`` (classes, labels or target values).

    Shape:
        ``forward -> (B, outputs)``; ``factors(inputs)`` -> ``{"shared": (B, shared_dim),
        m: (B, private_dim)}``
    """

    stackable_settings = ("reconstruction_weight", "prior_weight", "alignment_weight")
    """Stacked models may differ in their loss weights (zero in all of them or in none)."""

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        private_encoders: Mapping[str, nn.Module],
        feature_dims: Mapping[str, int],
        raw_dims: Mapping[str, int],
        outputs: int,
        shared_dim: int = 32,
        private_dim: int = 16,
        reconstruction_weight: float = 1.0,
        prior_weight: float = 0.1,
        alignment_weight: float = 1.0,
        task: str = "classification",
    ) -> None:
        super().__init__()
        self.task, self.task_loss = task, task_loss(task)
        self.modalities = sorted(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.private_encoders = nn.ModuleDict(dict(private_encoders))
        self.to_shared = nn.Linear(sum(feature_dims[m] for m in self.modalities), shared_dim)
        self.to_private = nn.ModuleDict(
            {m: nn.Linear(feature_dims[m], private_dim) for m in self.modalities}
        )
        self.decoders = nn.ModuleDict(
            {m: _decoder(shared_dim + private_dim, raw_dims[m]) for m in self.modalities}
        )
        self.head = nn.Linear(shared_dim, outputs)
        self.reconstruction_weight, self.prior_weight = reconstruction_weight, prior_weight
        self.alignment_weight = alignment_weight

    def shared(
        self,
        inputs: Mapping[str, Tensor],
        present: list[str] | None = None,
        mask: Mapping[str, Tensor] | None = None,
    ) -> Tensor:
        """The shared factor ``(B, shared_dim)`` inferred from the modalities that are present:
        those in ``present`` (default all) and, per sample, where ``mask[m]`` is True. The
        encodings of the others are zeroed, as for an absent modality."""
        features = {m: self.encoders[m](inputs[m]) for m in self.modalities}
        return self._shared(features, present, mask)

    def _shared(
        self,
        features: Mapping[str, Tensor],
        present: list[str] | None = None,
        mask: Mapping[str, Tensor] | None = None,
    ) -> Tensor:
        kept = []
        for m in self.modalities:
            f = features[m]
            if present is not None and m not in present:
                f = torch.zeros_like(f)
            elif mask is not None and m in mask:
                f = f * mask[m].to(f.dtype).unsqueeze(1)
            kept.append(f)
        return self.to_shared(torch.cat(kept, dim=1))

    def factors(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        private = {
            m: self.to_private[m](self.private_encoders[m](inputs[m])) for m in self.modalities
        }
        return {"shared": self.shared(inputs), **private}

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.head(self.shared(inputs, mask=mask))

    validation_objective = "the task term of the loss on the shared factor's head"
    absent = "the shared factor is inferred from the present modalities"
    monitor = "metric"

    def validation_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The task term of the loss: deterministic, unlike the MMD against prior samples."""
        return self.task_loss(self(inputs, mask), target)

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        if mask is not None:  # absent rows are zeros, whatever the caller left in them
            inputs = {
                m: zero_where_absent(x, mask[m]) if m in mask else x for m, x in inputs.items()
            }
        features = {m: self.encoders[m](inputs[m]) for m in self.modalities}
        if mask is not None:
            features = {
                m: zero_where_absent(f, mask[m]) if m in mask else f for m, f in features.items()
            }
        # W [e_1; ...; e_M] + b = sum_m W_m e_m + b: the term of modality m alone is W_m e_m + b
        weight, offset = self.to_shared.weight, 0
        terms = []
        for m in self.modalities:
            size = features[m].shape[1]
            terms.append(F.linear(features[m], weight[:, offset : offset + size]))
            offset += size
        shared = torch.stack(terms).sum(0) + self.to_shared.bias
        private = [self.to_private[m](self.private_encoders[m](inputs[m])) for m in self.modalities]
        loss = self.task_loss(self.head(shared), target)
        for m, factor in zip(self.modalities, private, strict=True):
            reconstruction = self.decoders[m](torch.cat([shared, factor], dim=1))
            error = (reconstruction.reshape(inputs[m].shape) - inputs[m]).square()
            if mask is not None and m in mask:  # an absent modality has nothing to reconstruct
                rows = mask[m].reshape(-1, *[1] * (error.ndim - 1)).to(error.dtype)
                error = (error * rows).sum() / (rows.sum() * error[0].numel()).clamp_min(1)
            loss = loss + self.reconstruction_weight * error.mean()
        stacked = torch.stack(private)  # the private factors share a size: one batched MMD
        prior = (
            mmd(shared, torch.randn_like(shared)) + mmd(stacked, torch.randn_like(stacked)).sum()
        )
        loss = loss + self.prior_weight * prior
        count = len(terms)
        if (torch.is_tensor(self.alignment_weight) or self.alignment_weight > 0) and count > 1:
            # the bias cancels in F_y(x_i alone) - F_y(x_j alone) = W_i e_i - W_j e_j, and
            # sum_{i<j} |t_i - t_j|^2 = M sum_i |t_i|^2 - |sum_i t_i|^2
            t = torch.stack(terms)
            total = count * t.square().sum((0, 2)) - t.sum(0).square().sum(1)
            alignment = total.mean() / (count * (count - 1) / 2)
            loss = loss + self.alignment_weight * alignment
        return loss


def orthogonality_loss(shared: Tensor, private: Tensor) -> Tensor:
    """Difference loss ``|S^T P|_F^2 / B^2`` of mean-centered, row-L2-normalized codes (Bousmalis
    et al. 2016, divided by the squared batch size so that it does not grow with the batch):
    zero when the shared and private codes are orthogonal, at most 1.

    Shape: ``(B, D), (B, D) -> ()``.
    """
    s = F.normalize(shared - shared.mean(0), dim=1)
    p = F.normalize(private - private.mean(0), dim=1)
    return (s.T @ p).square().sum() / len(s) ** 2


@register_module
class SharedPrivateModel(nn.Module):
    """Shared and private encoders per modality (in the style of domain separation networks and
    MISA): each modality's features are projected to a common size, then a *shared* encoder
    (one network for all modalities) and a *private* encoder per modality give two codes.

    loss = cross-entropy of ``head([s_1; ...; s_M; p_1; ...; p_M])``
    + ``similarity_weight`` * mean over pairs and units of ``(s_i - s_j)^2`` (shared codes agree)
    + ``difference_weight`` * sum_m orthogonality_loss(s_m, p_m) (private codes hold the rest).

    Shape:
        ``forward -> (B, outputs)``; ``codes(inputs)`` -> ``{"shared:m": (B, code_dim),
        "private:m": (B, code_dim)}``
    """

    stackable_settings = ("similarity_weight", "difference_weight")
    """Stacked models may differ in their loss weights."""

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        feature_dims: Mapping[str, int],
        outputs: int,
        code_dim: int = 32,
        similarity_weight: float = 1.0,
        difference_weight: float = 0.3,
        task: str = "classification",
    ) -> None:
        super().__init__()
        self.task, self.task_loss = task, task_loss(task)
        self.modalities = sorted(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.project = nn.ModuleDict(
            {m: nn.Linear(feature_dims[m], code_dim) for m in self.modalities}
        )
        self.shared_encoder = nn.Sequential(nn.Linear(code_dim, code_dim), nn.Tanh())
        self.private_encoders = nn.ModuleDict(
            {m: nn.Sequential(nn.Linear(code_dim, code_dim), nn.Tanh()) for m in self.modalities}
        )
        self.head = nn.Linear(2 * len(self.modalities) * code_dim, outputs)
        self.similarity_weight, self.difference_weight = similarity_weight, difference_weight

    def codes(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        """The shared and private codes of each modality; both codes of an absent modality
        (``mask[m]`` False) are zero."""
        out = {}
        for m in self.modalities:
            h = self.project[m](self.encoders[m](inputs[m]))
            shared, private = self.shared_encoder(h), self.private_encoders[m](h)
            if mask is not None and m in mask:
                shared, private = (
                    zero_where_absent(shared, mask[m]),
                    zero_where_absent(private, mask[m]),
                )
            out[f"shared:{m}"], out[f"private:{m}"] = shared, private
        return out

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        codes = self.codes(inputs, mask)
        return self.head(torch.cat([codes[k] for k in sorted(codes)], dim=1))

    validation_objective = "the task term of the loss"
    monitor = "metric"
    absent = "both codes of an absent modality are zero"

    def validation_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The task term of the loss, without the similarity and difference terms."""
        return self.task_loss(self(inputs, mask), target)

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        codes = self.codes(inputs, mask)
        loss = self.task_loss(
            self.head(torch.cat([codes[k] for k in sorted(codes)], dim=1)), target
        )
        shared = [codes[f"shared:{m}"] for m in self.modalities]
        pairs = [(a, b) for i, a in enumerate(shared) for b in shared[i + 1 :]]
        similarity = sum((a - b).square().mean() for a, b in pairs) / max(len(pairs), 1)
        difference = sum(
            orthogonality_loss(codes[f"shared:{m}"], codes[f"private:{m}"]) for m in self.modalities
        )
        return loss + self.similarity_weight * similarity + self.difference_weight * difference
