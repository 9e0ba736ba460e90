"""The built-in benchmark methods: unimodal baselines and every fusion family.

Every fusion method uses the same default encoders (``FEATURE_DIM`` features per modality) and a
linear head from ``FUSED_DIM`` features to the classes, so that methods differ only in fusion.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from intermodal.bench.registry import register_method
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, holdout_split
from intermodal.encoders import MLP, RawInput, TokenEncoder, default_encoder
from intermodal.fission import SharedPrivateModel
from intermodal.fusion import (
    AdditiveFusion,
    BilinearFusion,
    ConcatFusion,
    CrossModalAttentionFusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    ModalityShiftFusion,
    MultiplicativeFusion,
    MultiplicativeInteractions,
    NonlinearFusion,
    PolynomialFusion,
    TensorFusion,
    VeryEarlyFusion,
)
from intermodal.fusion.search import FusionSearch
from intermodal.models import FusionClassifier, ProbeClassifier, UnimodalClassifier

FEATURE_DIM = 64
"""Size of each modality's encoded features in the built-in methods."""
FUSED_DIM = 128
"""Size of the fused representation in the built-in methods."""
TFN_MAX_FUSED = 2**14
"""Largest TFN tensor (entries per sample) the benchmark builds; encoders shrink to fit it."""
TOKENS = 8
"""Tokens per modality for cross-modal attention on vector data."""


def encoders(dataset: MultimodalDataset, dim: int = FEATURE_DIM) -> dict[str, nn.Module]:
    """The default encoder of every modality, each to ``dim`` features."""
    return {
        key: default_encoder(dataset.kinds[key], dataset.shapes[key], dim)
        for key in dataset.modality_names
    }


def head(dataset: MultimodalDataset, input_dim: int = FUSED_DIM) -> nn.Module:
    """A linear classification head to the data set's classes."""
    return MLP(input_dim, dataset.n_classes)


def at_least_two(dataset: MultimodalDataset) -> str | None:
    return None if len(dataset.modality_names) >= 2 else "needs at least two modalities"


def exactly_two(dataset: MultimodalDataset) -> str | None:
    count = len(dataset.modality_names)
    if count == 2:
        return None
    return f"two-modal by definition, the data set has {count} (choose two with --modalities)"


def vectors_only(dataset: MultimodalDataset) -> str | None:
    if any(kind != "vector" for kind in dataset.kinds.values()):
        return "searches MLP encoders, so needs vector modalities"
    return at_least_two(dataset)


def signals_only(dataset: MultimodalDataset) -> str | None:
    if any(kind not in ("vector", "sequence") for kind in dataset.kinds.values()):
        return "merges 1-D signals: needs vector or sequence modalities"
    return at_least_two(dataset)


@register_method(
    "unimodal", "unimodal", "one modality: its encoder and a linear head", per_modality=True
)
def build_unimodal(dataset: MultimodalDataset) -> nn.Module:
    (key,) = dataset.modality_names
    return UnimodalClassifier(key, encoders(dataset)[key], head(dataset, FEATURE_DIM))


def fusion_method(
    name: str,
    description: str,
    make: Callable[[dict[str, int], int], nn.Module],
    applies: Callable[[MultimodalDataset], str | None] = at_least_two,
    fused_dim: int = FUSED_DIM,
) -> None:
    """Register ``encoders -> make(dims, fused_dim) -> linear head`` under ``name``."""

    def build(dataset: MultimodalDataset) -> nn.Module:
        dims = dict.fromkeys(dataset.modality_names, FEATURE_DIM)
        return FusionClassifier(encoders(dataset), make(dims, fused_dim), head(dataset, fused_dim))

    register_method(name, "fusion", description, applies=applies)(build)


fusion_method("early", "early fusion: concatenation and a linear projection", ConcatFusion)
fusion_method("additive", "additive fusion: sum of per-modality projections", AdditiveFusion)
fusion_method("multiplicative", "element-wise product of projections", MultiplicativeFusion)
fusion_method(
    "interactions",
    "multiplicative interactions (Jayakumar 2020), matrix hypernetwork",
    MultiplicativeInteractions,
    applies=exactly_two,
)
fusion_method("bilinear", "bilinear fusion", BilinearFusion, applies=exactly_two)
fusion_method("lmf", "low-rank multimodal fusion (Liu 2018), rank 4", LowRankFusion)
fusion_method("ptp", "polynomial tensor pooling (Hou 2019), order 2, rank 4", PolynomialFusion)
fusion_method("gmu", "gated multimodal unit (Arevalo 2017)", GatedFusion)
fusion_method(
    "mag",
    "modality shifting (MAG, Rahman 2020): first modality shifted by the others",
    ModalityShiftFusion,
    fused_dim=FEATURE_DIM,
)
fusion_method("nonlinear", "early fusion by an MLP over the concatenation", NonlinearFusion)


for _combine in ("mean", "weighted", "learned"):

    def _build_late(dataset: MultimodalDataset, combine: str = _combine) -> nn.Module:
        dims = dict.fromkeys(dataset.modality_names, FEATURE_DIM)
        return FusionClassifier(encoders(dataset), LateFusion(dims, dataset.n_classes, combine))

    register_method(
        f"late-{_combine}",
        "fusion",
        f"late fusion: per-modality predictions combined by {_combine}",
        applies=at_least_two,
    )(_build_late)


@register_method(
    "tfn",
    "fusion",
    "tensor fusion network (Zadeh 2017); encoders shrink so the tensor has <= 16,384 entries",
    applies=at_least_two,
)
def build_tfn(dataset: MultimodalDataset) -> nn.Module:
    count = len(dataset.modality_names)
    dim = min(FEATURE_DIM, round(TFN_MAX_FUSED ** (1 / count)) - 1)
    while (dim + 1) ** count > TFN_MAX_FUSED:
        dim -= 1
    dims = dict.fromkeys(dataset.modality_names, dim)
    return FusionClassifier(encoders(dataset, dim), TensorFusion(dims, FUSED_DIM), head(dataset))


@register_method(
    "attention",
    "fusion",
    f"cross-modal attention (MulT-style) over {TOKENS} learned tokens per vector modality",
    applies=at_least_two,
)
def build_attention(dataset: MultimodalDataset) -> nn.Module:
    token_dim = FEATURE_DIM // TOKENS
    tokenizers: dict[str, nn.Module] = {}
    dims = {}
    for key in dataset.modality_names:
        if dataset.kinds[key] == "vector":
            tokenizers[key] = TokenEncoder(
                dataset.shapes[key][0], TOKENS, token_dim, (FEATURE_DIM,)
            )
            dims[key] = token_dim
        else:
            tokenizers[key] = default_encoder(dataset.kinds[key], dataset.shapes[key], FEATURE_DIM)
            dims[key] = FEATURE_DIM
    fusion = CrossModalAttentionFusion(dims, FUSED_DIM, model_dim=16, num_heads=2)
    return FusionClassifier(tokenizers, fusion, head(dataset))


@register_method(
    "very-early",
    "fusion",
    "very early fusion: raw features as 1-D signals on a common grid, one shared encoder",
    applies=signals_only,
)
def build_very_early(dataset: MultimodalDataset) -> nn.Module:
    channels = {
        key: 1 if dataset.kinds[key] == "vector" else dataset.shapes[key][-1]
        for key in dataset.modality_names
    }
    raw = {key: RawInput() for key in dataset.modality_names}
    fusion = VeryEarlyFusion(channels, FUSED_DIM, time_steps=64, hidden_dim=32)
    return FusionClassifier(raw, fusion, head(dataset))


def _coordinated(method: str) -> None:
    @register_method(
        f"coord-{method}",
        "coordination",
        f"{method.upper()} embeddings of two views (up to 10-d, fitted on a holdout of the "
        "training data) and a linear probe on both",
        applies=lambda d: exactly_two(d) or vectors_only(d),
    )
    def build(dataset: MultimodalDataset) -> nn.Module:
        from intermodal.bench.align import fit_coordinated  # needs the training engine

        dim = min([10, *(shape[0] for shape in dataset.shapes.values())])
        train, val = holdout_split(dataset, size=0.2, seed=0)
        tower = fit_coordinated(method, DataSplits(train, val, val), dim=dim, epochs=50)
        return ProbeClassifier(tower, MLP(2 * dim, dataset.n_classes))


for _method in ("cca", "dcca", "clip"):
    _coordinated(_method)


@register_method(
    "mfm",
    "fission",
    "factorized multimodal model (Tsai 2019): shared factor + private factors; head on shared",
    applies=at_least_two,
)
def build_mfm(dataset: MultimodalDataset) -> nn.Module:
    from intermodal.bench.fission import build_factorized

    return build_factorized(dataset)


@register_method(
    "shared-private",
    "fission",
    "shared and private encoders with similarity and orthogonality losses",
    applies=at_least_two,
)
def build_shared_private(dataset: MultimodalDataset) -> nn.Module:
    return SharedPrivateModel(
        encoders(dataset), dict.fromkeys(dataset.modality_names, FEATURE_DIM), dataset.n_classes
    )


@register_method(
    "bimodal-ae",
    "fission",
    "bimodal autoencoder (Ngiam 2011) trained with a head on its shared code",
    applies=exactly_two,
)
def build_bimodal_autoencoder(dataset: MultimodalDataset) -> nn.Module:
    from intermodal.bench.fission import build_autoencoder

    return build_autoencoder(dataset, n_classes=dataset.n_classes)


@register_method(
    "search",
    "fusion",
    "architecture search (MFAS-style random search, 4 trials) on a holdout of the training data",
    applies=vectors_only,
)
def build_search(dataset: MultimodalDataset) -> nn.Module:
    train, val = holdout_split(dataset, size=0.2, seed=0)
    search = FusionSearch(trials=4, max_epochs=20, patience=5, seed=0).fit(train, val)
    return FusionSearch.build(search.best_config_, dataset)
