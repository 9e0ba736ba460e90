"""Bimodal deep autoencoder (Ngiam et al., "Multimodal Deep Learning", ICML 2011)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.saving import register_module


def code_correlation(x: Tensor, y: Tensor, eps: float = 1e-6) -> Tensor:
    """Mean over units of the Pearson correlation over the batch of ``x`` and ``y`` (B, D)."""
    x, y = x - x.mean(0), y - y.mean(0)
    return ((x * y).sum(0) / (x.norm(dim=0) * y.norm(dim=0) + eps)).mean()


@register_module
class BimodalAutoencoder(nn.Module):
    """Modality encoders -> one shared layer -> decoders that reconstruct both modalities.

    Trained on augmented data (Ngiam et al.): of each batch, a third has modality A zeroed, a
    third modality B, and a third keeps both; the target is always the clean pair, so the shared
    code must infer a missing modality from the other. ``noise`` > 0 adds Gaussian noise of that
    standard deviation to the inputs (a denoising autoencoder). ``alignment_weight`` > 0 adds
    ``1 - corr(h(A alone), h(B alone))`` (mean over code units of the correlation over the
    batch), the correlational-network objective (Chandar et al., Neural Computation 2016) that
    makes a classifier trained on codes of one modality transfer to the other; being scale
    invariant, it cannot be met by shrinking the codes. With ``n_classes`` a linear head on
    the shared code makes it a classifier, trained on cross-entropy plus reconstruction.

    Args:
        modalities: the two modality names, A then B.
        encoders: modality -> encoder to ``(B, d_m)`` features.
        feature_dims: d_m of each encoder's output.
        input_dims: number of values of each modality (reconstructed flattened).
        shared_dim: size of the shared code.

    Shape:
        ``shared(inputs) -> (B, shared_dim)``; ``reconstruct(inputs)`` -> ``{m: (B, *shape_m)}``
    """

    def __init__(
        self,
        modalities: list[str],
        encoders: Mapping[str, nn.Module],
        feature_dims: Mapping[str, int],
        input_dims: Mapping[str, int],
        shared_dim: int = 64,
        noise: float = 0.0,
        alignment_weight: float = 0.0,
        n_classes: int | None = None,
    ) -> None:
        super().__init__()
        if len(modalities) != 2:
            raise ValueError(f"a bimodal autoencoder has two modalities, got {modalities}")
        self.modalities = list(modalities)
        self.encoders = nn.ModuleDict(dict(encoders))
        total = sum(feature_dims[m] for m in modalities)
        self.to_shared = nn.Sequential(nn.Linear(total, shared_dim), nn.ReLU())
        self.decoders = nn.ModuleDict(
            {
                m: nn.Sequential(
                    nn.Linear(shared_dim, 256), nn.ReLU(), nn.Linear(256, input_dims[m])
                )
                for m in modalities
            }
        )
        self.noise, self.alignment_weight = noise, alignment_weight
        self.head = nn.Linear(shared_dim, n_classes) if n_classes else None

    def shared(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """The shared code of (possibly zeroed) inputs."""
        features = [self.encoders[m](inputs[m]) for m in self.modalities]
        return self.to_shared(torch.cat(features, dim=1))

    def reconstruct(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        code = self.shared(inputs)
        return {m: self.decoders[m](code).reshape(inputs[m].shape) for m in self.modalities}

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Class logits (with a head) or the shared code."""
        code = self.shared(inputs)
        return self.head(code) if self.head is not None else code

    def augment(
        self, inputs: Mapping[str, Tensor], generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Zero modality A in a random third of the samples and B in another third."""
        batch = len(inputs[self.modalities[0]])
        order = torch.randperm(batch, generator=generator)
        third = batch // 3
        out = {}
        for i, m in enumerate(self.modalities):
            keep = torch.ones(batch, dtype=inputs[m].dtype)
            keep[order[i * third : (i + 1) * third]] = 0.0
            x = inputs[m] * keep.reshape(-1, *[1] * (inputs[m].ndim - 1))
            if self.noise > 0:
                x = x + self.noise * torch.randn(x.shape, generator=generator)
            out[m] = x
        return out

    def training_loss(self, inputs: Mapping[str, Tensor], target: Tensor) -> Tensor:
        augmented = self.augment(inputs)
        code = self.shared(augmented)
        loss = sum(
            F.mse_loss(self.decoders[m](code).reshape(inputs[m].shape), inputs[m])
            for m in self.modalities
        )
        if self.head is not None:
            loss = loss + F.cross_entropy(self.head(code), target)
        if self.alignment_weight > 0:
            a, b = self.modalities
            alone_a = self.shared({a: inputs[a], b: torch.zeros_like(inputs[b])})
            alone_b = self.shared({a: torch.zeros_like(inputs[a]), b: inputs[b]})
            loss = loss + self.alignment_weight * (1.0 - code_correlation(alone_a, alone_b))
        return torch.as_tensor(loss)
