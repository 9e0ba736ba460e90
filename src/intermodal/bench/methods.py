"""The built-in benchmark methods: unimodal baselines, early fusion and late fusion."""

from __future__ import annotations

from torch import nn

from intermodal.bench.registry import register_method
from intermodal.data.dataset import MultimodalDataset
from intermodal.encoders import MLP, default_encoder
from intermodal.fusion import ConcatFusion, LateFusion
from intermodal.models import FusionClassifier, UnimodalClassifier

FEATURE_DIM = 64
"""Size of each modality's encoded features in the built-in methods."""
FUSED_DIM = 128
"""Size of the fused representation in the built-in methods."""


def encoders(dataset: MultimodalDataset) -> dict[str, nn.Module]:
    """The default encoder of every modality, each to ``FEATURE_DIM`` features."""
    return {
        key: default_encoder(dataset.kinds[key], dataset.shapes[key], FEATURE_DIM)
        for key in dataset.modality_names
    }


def head(dataset: MultimodalDataset, input_dim: int = FUSED_DIM) -> nn.Module:
    """A linear classification head to the data set's classes."""
    return MLP(input_dim, dataset.n_classes)


def needs_two_modalities(dataset: MultimodalDataset) -> str | None:
    return None if len(dataset.modality_names) >= 2 else "needs at least two modalities"


@register_method(
    "unimodal", "unimodal", "one modality: its encoder and a linear head", per_modality=True
)
def build_unimodal(dataset: MultimodalDataset) -> nn.Module:
    (key,) = dataset.modality_names
    return UnimodalClassifier(key, encoders(dataset)[key], head(dataset, FEATURE_DIM))


@register_method(
    "early",
    "fusion",
    "early fusion: concatenated features, linear projection, head",
    applies=needs_two_modalities,
)
def build_early(dataset: MultimodalDataset) -> nn.Module:
    dims = dict.fromkeys(dataset.modality_names, FEATURE_DIM)
    return FusionClassifier(encoders(dataset), ConcatFusion(dims, FUSED_DIM), head(dataset))


def _late(combine: str) -> None:
    @register_method(
        f"late-{combine}",
        "fusion",
        f"late fusion: per-modality predictions combined by {combine}",
        applies=needs_two_modalities,
    )
    def build(dataset: MultimodalDataset) -> nn.Module:
        dims = dict.fromkeys(dataset.modality_names, FEATURE_DIM)
        return FusionClassifier(encoders(dataset), LateFusion(dims, dataset.n_classes, combine))


for _combine in ("mean", "weighted", "learned"):
    _late(_combine)
