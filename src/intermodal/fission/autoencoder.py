"""Bimodal deep autoencoder (Ngiam et al., "Multimodal Deep Learning", ICML 2011)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.losses import task_loss
from intermodal.saving import register_module


def zero_absent_inputs(
    inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None
) -> dict[str, Tensor]:
    """``inputs`` with each modality zeroed in the samples where ``mask`` marks it absent."""
    if mask is None:
        return dict(inputs)
    out = {}
    for key, x in inputs.items():
        present = mask.get(key)
        out[key] = (
            x if present is None else x * present.to(x.dtype).reshape(-1, *[1] * (x.ndim - 1))
        )
    return out


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
    invariant, it cannot be met by shrinking the codes. With ``outputs`` (the outputs of
    ``task``: classes, labels or values) a linear head on the shared code makes it a predictor,
    trained on the task loss plus reconstruction.

    Args:
        modalities: the two modality names, A then B.
        encoders: modality -> encoder to ``(B, d_m)`` features.
        feature_dims: d_m of each encoder's output.
        raw_dims: number of values of each modality's raw input (reconstructed flattened).
        shared_dim: size of the shared code.

    Shape:
        ``shared(inputs) -> (B, shared_dim)``; ``reconstruct(inputs)`` -> ``{m: (B, *shape_m)}``
    """

    stackable_settings = ("noise", "alignment_weight")
    """Stacked models may differ in these (numbers; zero in all of them or in none)."""

    def __init__(
        self,
        modalities: list[str],
        encoders: Mapping[str, nn.Module],
        feature_dims: Mapping[str, int],
        raw_dims: Mapping[str, int],
        shared_dim: int = 64,
        noise: float = 0.0,
        alignment_weight: float = 0.0,
        outputs: int | None = None,
        task: str = "classification",
    ) -> None:
        super().__init__()
        self.task, self.task_loss = task, task_loss(task)
        if len(modalities) != 2:
            raise ValueError(f"a bimodal autoencoder has two modalities, got {modalities}")
        self.modalities = list(modalities)
        self.encoders = nn.ModuleDict(dict(encoders))
        total = sum(feature_dims[m] for m in modalities)
        self.to_shared = nn.Sequential(nn.Linear(total, shared_dim), nn.ReLU())
        self.decoders = nn.ModuleDict(
            {
                m: nn.Sequential(nn.Linear(shared_dim, 256), nn.ReLU(), nn.Linear(256, raw_dims[m]))
                for m in modalities
            }
        )
        self.noise, self.alignment_weight = noise, alignment_weight
        self.head = nn.Linear(shared_dim, outputs) if outputs else None

    def shared(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The shared code ``(B, shared_dim)`` inferred from the modalities present: an absent
        modality (``mask[m]`` False) enters as zeros, as in the augmented training data."""
        return self.to_shared(torch.cat(self._features(zero_absent_inputs(inputs, mask)), dim=1))

    def _features(self, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        return [self.encoders[m](inputs[m]) for m in self.modalities]

    def reconstruct(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        code = self.shared(inputs, mask)
        return {m: self.decoders[m](code).reshape(inputs[m].shape) for m in self.modalities}

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Class logits (with a head) or the shared code."""
        code = self.shared(inputs, mask)
        return self.head(code) if self.head is not None else code

    def augment(
        self, inputs: Mapping[str, Tensor], generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Zero modality A in a random third of the samples and B in another third."""
        batch = len(inputs[self.modalities[0]])
        order = torch.randperm(batch, generator=generator)
        third = batch // 3
        position = torch.argsort(order)  # sample j is at position[j] of the random order
        out = {}
        for i, m in enumerate(self.modalities):
            hidden = (position >= i * third) & (position < (i + 1) * third)
            keep = (~hidden).to(inputs[m].dtype)
            x = inputs[m] * keep.to(inputs[m].device).reshape(-1, *[1] * (inputs[m].ndim - 1))
            if torch.is_tensor(self.noise) or self.noise > 0:
                noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
                x = x + self.noise * noise.to(x.device)
            out[m] = x
        return out

    def _loss(
        self,
        inputs: Mapping[str, Tensor],
        codes: list[Tensor],
        target: Tensor,
        mask: Mapping[str, Tensor] | None = None,
    ) -> Tensor:
        """Reconstruction of the clean inputs from each code (of the modalities present in each
        sample), plus the head's task loss and the alignment term."""
        loss = sum(
            self._reconstruction(self.decoders[m](code), inputs[m], (mask or {}).get(m))
            for code in codes
            for m in self.modalities
        ) / len(codes)
        if self.head is not None:
            task = sum(self.task_loss(self.head(code), target) for code in codes)
            loss = loss + task / len(codes)
        if torch.is_tensor(self.alignment_weight) or self.alignment_weight > 0:
            a, b = self.modalities
            alone_a = self.shared({a: inputs[a], b: torch.zeros_like(inputs[b])})
            alone_b = self.shared({a: torch.zeros_like(inputs[a]), b: inputs[b]})
            loss = loss + self.alignment_weight * (1.0 - code_correlation(alone_a, alone_b))
        return torch.as_tensor(loss)

    @staticmethod
    def _reconstruction(output: Tensor, x: Tensor, present: Tensor | None) -> Tensor:
        """Mean squared error of a reconstruction over the samples where the modality is
        present (an absent one has nothing to reconstruct)."""
        error = (output.reshape(x.shape) - x).square()
        if present is None:
            return error.mean()
        rows = present.reshape(-1, *[1] * (x.ndim - 1)).to(error.dtype)
        return (error * rows).sum() / (rows.sum() * x[0].numel()).clamp_min(1)

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """The loss on randomly augmented inputs (a third without A, a third without B)."""
        inputs = zero_absent_inputs(inputs, mask)
        return self._loss(inputs, [self.shared(self.augment(inputs))], target, mask)

    @property
    def validation_objective(self) -> str:
        if self.head is not None:
            return "the task loss of the head on the shared code of both modalities"
        return "reconstruction from both, from A alone and from B alone, and alignment"

    absent = "the shared code is inferred from the present modality (trained to do so)"

    @property
    def monitor(self) -> str:
        """With a head, early stopping follows the task's metric (the reconstruction terms keep
        shrinking after it peaks); without one, the deterministic loss."""
        return "metric" if self.head is not None else "loss"

    def validation_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Deterministic: with a head, the task loss; without, the training loss averaged over
        the three versions of every sample (both modalities, A alone, B alone) instead of a
        random third each."""
        if self.head is not None:
            return self.task_loss(self(inputs, mask), target)
        inputs = zero_absent_inputs(inputs, mask)
        a, b = self.modalities
        versions = [
            dict(inputs),
            {a: inputs[a], b: torch.zeros_like(inputs[b])},
            {a: torch.zeros_like(inputs[a]), b: inputs[b]},
        ]
        return self._loss(inputs, [self.shared(v) for v in versions], target, mask)
