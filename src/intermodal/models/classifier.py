"""Classifiers composed of unimodal encoders, a fusion module and a head."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.saving import register_module


def _inputs(inputs: Mapping[str, Tensor], names: list[str], model: str) -> list[Tensor]:
    missing = [name for name in names if name not in inputs]
    if missing:
        raise KeyError(f"{model} needs modalities {names}; the inputs lack {missing}")
    return [inputs[name] for name in names]


@register_module
class FusionClassifier(nn.Module):
    """``head(fusion({m: encoder_m(x_m)}))``: encoders per modality, one fusion, one head.

    Args:
        encoders: modality name -> encoder producing ``(B, d_m)`` features.
        fusion: a fusion module built for those ``d_m`` (see ``intermodal.fusion``).
        head: maps the fused ``(B, output_dim)`` to class logits; ``None`` when the fusion
            already outputs logits (e.g. ``LateFusion``).

    A presence mask ``mask[m]`` of shape ``(B,)`` zeroes the features of absent modalities.

    Shape:
        ``{m: (B, *shape_m)} -> (B, n_classes)``
    """

    def __init__(
        self, encoders: Mapping[str, nn.Module], fusion: nn.Module, head: nn.Module | None = None
    ) -> None:
        super().__init__()
        if not encoders:
            raise ValueError("FusionClassifier needs at least one encoder")
        self.encoders = nn.ModuleDict({key: encoders[key] for key in sorted(encoders)})
        self.fusion = fusion
        self.head = head if head is not None else nn.Identity()

    @property
    def modalities(self) -> list[str]:
        return list(self.encoders)

    def encode(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        """Unimodal features ``{m: (B, ...)}``, zero where ``mask[m]`` is False."""
        tensors = _inputs(inputs, self.modalities, type(self).__name__)
        features = {}
        for (key, encoder), x in zip(self.encoders.items(), tensors, strict=True):
            h = encoder(x)
            if mask is not None and key in mask:
                h = h * mask[key].to(h.dtype).reshape(-1, *[1] * (h.ndim - 1))
            features[key] = h
        return features

    def classify(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Outputs ``(B, K)`` from unimodal features: fusion (told which modalities are
        present) then head."""
        if isinstance(self.fusion, Fusion):
            return self.head(self.fusion(features, mask))
        return self.head(self.fusion(features))

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.classify(self.encode(inputs, mask), mask)


@register_module
class UnimodalClassifier(nn.Module):
    """The unimodal baseline ``head(encoder(x_m))`` on one modality of a modality dict.

    Shape:
        ``{modality: (B, *shape)} -> (B, n_classes)``; other modalities are ignored.
    """

    def __init__(self, modality: str, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.modality, self.encoder, self.head = modality, encoder, head

    @property
    def modalities(self) -> list[str]:
        return [self.modality]

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        (x,) = _inputs(inputs, self.modalities, type(self).__name__)
        return self.head(self.encoder(x))
