"""Two-tower models: one encoder per modality into a coordinated embedding space."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.saving import register_module


def paired(
    inputs: Mapping[str, Tensor], modalities: list[str], mask: Mapping[str, Tensor] | None
) -> dict[str, Tensor]:
    """The rows of ``inputs`` where every one of ``modalities`` is present (all rows without a
    mask): the pairs that a coordination loss may compare."""
    keep = None
    for key in modalities:
        if mask is not None and key in mask:
            keep = mask[key] if keep is None else keep & mask[key]
    if keep is None or bool(keep.all()):
        return {key: inputs[key] for key in modalities}
    return {key: inputs[key][keep] for key in modalities}


@register_module
class TwoTower(nn.Module):
    """Encoders for two modalities into one embedding space, trained with a pair loss.

    ``forward`` returns the two embeddings; ``training_loss(inputs, target, mask)`` applies
    ``loss`` (e.g. ``ClipLoss``, ``SigLipLoss``, ``HingeLoss``, ``NTXentLoss``, ``DCCALoss``) to
    them, which is what ``intermodal.training.fit`` minimizes and, being deterministic in
    evaluation mode, also monitors. Pairs with an absent side (``mask`` False) are left out of
    the loss: they are not pairs. A ``GatedCoordination`` module may mix the two encodings before
    the loss.

    Shape:
        ``{a: (B, ...), b: (B, ...)} -> ((B, D), (B, D))``
    """

    def __init__(
        self,
        modalities: list[str],
        encoders: Mapping[str, nn.Module],
        loss: nn.Module,
        coordination: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if len(modalities) != 2 or set(modalities) != set(encoders):
            raise ValueError(
                f"TwoTower needs two modalities, each with an encoder; got {modalities}"
            )
        self.modalities = list(modalities)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.loss = loss
        self.coordination = coordination

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        a, b = self.modalities
        missing = [k for k in self.modalities if k not in inputs]
        if missing:
            raise KeyError(
                f"TwoTower needs modalities {self.modalities}; the inputs lack {missing}"
            )
        z_a, z_b = self.encoders[a](inputs[a]), self.encoders[b](inputs[b])
        if self.coordination is not None:
            z_a, z_b = self.coordination(z_a, z_b)
        return z_a, z_b

    validation_objective = "the pair loss on validation pairs"
    monitor = "loss"

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.loss(*self(paired(inputs, self.modalities, mask)))

    validation_loss = training_loss


@register_module
class CCAProjection(nn.Module):
    """Fixed linear maps ``z_m = (x_m - mean_m) W_m`` of two modalities, e.g. fitted by ``CCA``
    (load them with :meth:`set`); the weights are buffers, saved with the model.

    Shape:
        ``{a: (B, d_a), b: (B, d_b)} -> ((B, k), (B, k))``
    """

    def __init__(self, modalities: list[str], input_dims: list[int], output_dim: int) -> None:
        super().__init__()
        self.modalities = list(modalities)
        for i, dim in enumerate(input_dims):
            self.register_buffer(f"mean{i}", torch.zeros(dim))
            self.register_buffer(f"weight{i}", torch.zeros(dim, output_dim))

    def set(self, means: list[Tensor], weights: list[Tensor]) -> CCAProjection:
        for i, (mean, weight) in enumerate(zip(means, weights, strict=True)):
            getattr(self, f"mean{i}").copy_(mean)
            getattr(self, f"weight{i}").copy_(weight)
        return self

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        a, b = (
            (inputs[key] - getattr(self, f"mean{i}")) @ getattr(self, f"weight{i}")
            for i, key in enumerate(self.modalities)
        )
        return a, b


@register_module
class ProbeClassifier(nn.Module):
    """A linear probe on frozen coordinated embeddings: ``head([z_a; z_b])`` where
    ``(z_a, z_b) = tower(inputs)`` comes from a trained ``TwoTower``, ``DCCA`` or
    ``CCAProjection`` (L2-normalized unless ``normalize=False``).

    Shape:
        ``{a: (B, ...), b: (B, ...)} -> (B, K)`` (the task's outputs)
    """

    absent = "cannot: the frozen tower encodes an absent modality's zero-filled input"

    def __init__(self, tower: nn.Module, head: nn.Module, normalize: bool = True) -> None:
        super().__init__()
        self.tower, self.head, self.normalize = tower, head, normalize
        for p in self.tower.parameters():
            p.requires_grad_(False)

    @property
    def modalities(self) -> list[str]:
        return list(getattr(self.tower, "modalities"))  # noqa: B009 (typed as Module attribute)

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        self.tower.eval()
        with torch.no_grad():
            z = self.tower(inputs)
        if self.normalize:
            z = tuple(F.normalize(v, dim=1) for v in z)
        return self.head(torch.cat(z, dim=1))
