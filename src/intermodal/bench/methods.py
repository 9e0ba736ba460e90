"""The built-in benchmark methods: unimodal and classical baselines, every fusion, coordination
and fission.

Every fusion method uses the same default encoders (``FEATURE_DIM`` features per modality) and a
linear head from ``FUSED_DIM`` features to the outputs, so that methods differ only in fusion.
Builders are module-level functions (or partials of them) so that worker processes can run them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from torch import nn

from intermodal.baselines import build_gbdt, build_linear, feature_reason, gbdt_reason
from intermodal.bench.registry import register_method
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, holdout_split
from intermodal.encoders import MLP, RawInput, TokenEncoder, default_encoder
from intermodal.fission import SharedPrivateModel
from intermodal.fusion import CrossModalAttentionFusion, VeryEarlyFusion
from intermodal.fusion.registry import FusionSpec, on_fusion_registered
from intermodal.models import FusionClassifier, ProbeClassifier, UnimodalClassifier
from intermodal.training.context import RunContext

FEATURE_DIM = 64
"""Size of each modality's encoded features in the built-in methods."""
FUSED_DIM = 128
"""Size of the fused representation in the built-in methods."""
TFN_MAX_FUSED = 2**14
"""Largest TFN tensor (entries per sample) the benchmark builds; encoders shrink to fit it."""
TOKENS = 8
"""Tokens per modality for cross-modal attention on vector data."""
SEARCH_TRIALS = 4
"""Configurations the ``search`` method trains (each for at most a fifth of the epochs)."""


def encoders(dataset: MultimodalDataset, dim: int = FEATURE_DIM) -> dict[str, nn.Module]:
    """The default encoder of every modality, each to ``dim`` features."""
    return {
        key: default_encoder(
            dataset.kinds[key], dataset.shapes[key], dim, data=dataset.modalities[key]
        )
        for key in dataset.modality_names
    }


def head(dataset: MultimodalDataset, input_dim: int = FUSED_DIM) -> nn.Module:
    """A linear head to the data set's outputs (class logits, label logits or values)."""
    return MLP(input_dim, dataset.output_dim)


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


def two_vectors(dataset: MultimodalDataset) -> str | None:
    return exactly_two(dataset) or vectors_only(dataset)


def signals_only(dataset: MultimodalDataset) -> str | None:
    """Very early fusion reads every modality as an ordered 1-D signal: sequences, audio and
    the vector modalities declared as signals (``MultimodalDataset(signals=...)``,
    ``--signals``); a vector of unordered features is not one."""
    unordered = [k for k in dataset.modality_names if k not in dataset.ordered]
    if unordered and len(dataset.modality_names) > 1:
        kinds = ", ".join(f"{k} ({dataset.kinds[k]})" for k in unordered)
        return (
            f"reads every modality as an ordered 1-D signal, and {kinds} "
            f"{'is' if len(unordered) == 1 else 'are'} not one: declare the vector modalities "
            "that are signals with --signals, or choose ordered ones with --modalities"
        )
    return at_least_two(dataset)


@register_method(
    "unimodal", "unimodal", "one modality: its encoder and a linear head", per_modality=True
)
def build_unimodal(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    (key,) = dataset.modality_names
    return UnimodalClassifier(key, encoders(dataset)[key], head(dataset, FEATURE_DIM))


register_method(
    "linear",
    "classical",
    "logistic regression (one-vs-rest for labels) or ridge regression on the concatenated "
    "standardized features, the penalty chosen on validation",
    applies=feature_reason,
    views=True,
)(build_linear)
register_method(
    "gbdt",
    "classical",
    "gradient-boosted trees (LightGBM) on the same features, early-stopped on validation",
    applies=gbdt_reason,
    views=True,
)(build_gbdt)


def fusion_model(
    encoders: Mapping[str, nn.Module],
    fusion: nn.Module,
    head: nn.Module | None,
    context: RunContext,
) -> FusionClassifier:
    """A fusion model with the context's strategy for absent modalities."""
    return FusionClassifier(
        encoders, fusion, head, missing=context.missing, dropout=context.modality_dropout
    )


def build_fusion(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """The default encoders, the fusion of ``spec`` and a linear head (none for a fusion that
    outputs predictions itself; the head reads ``FEATURE_DIM`` features from a fusion that keeps
    its inputs' size)."""
    dims = dict.fromkeys(dataset.modality_names, FEATURE_DIM)
    if spec.outputs:
        fusion = spec.build(dims, dataset.output_dim, dataset.task)
        return fusion_model(encoders(dataset), fusion, None, context)
    size = FEATURE_DIM if spec.keeps_size else FUSED_DIM
    return fusion_model(encoders(dataset), spec.build(dims, size), head(dataset, size), context)


def build_tfn(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """TFN with encoders shrunk so that the fused tensor has at most ``TFN_MAX_FUSED``
    entries."""
    count = len(dataset.modality_names)
    dim = min(FEATURE_DIM, round(TFN_MAX_FUSED ** (1 / count)) - 1)
    while (dim + 1) ** count > TFN_MAX_FUSED:
        dim -= 1
    dims = dict.fromkeys(dataset.modality_names, dim)
    return fusion_model(encoders(dataset, dim), spec.build(dims, FUSED_DIM), head(dataset), context)


def build_attention(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """Cross-modal attention over ``TOKENS`` learned tokens per vector modality (sequences
    attend over their encoded steps)."""
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
    return fusion_model(tokenizers, fusion, head(dataset), context)


def build_very_early(
    spec: FusionSpec, dataset: MultimodalDataset, context: RunContext
) -> nn.Module:
    """Ordered raw signals on a common time grid and one shared encoder: a vector signal and
    mono audio are one channel, a sequence ``(T, D)`` has D channels, audio ``(C, T)`` C."""
    shapes, kinds = dataset.shapes, dataset.kinds
    channels = {}
    for key in dataset.modality_names:
        if kinds[key] == "sequence":  # (T, D)
            channels[key] = shapes[key][1]
        elif kinds[key] == "audio" and len(shapes[key]) == 2:  # (C, T)
            channels[key] = shapes[key][0]
        else:  # a vector signal (T,), mono audio (T,)
            channels[key] = 1
    layout = [k for k in dataset.modality_names if kinds[k] == "audio" and len(shapes[k]) == 2]
    raw = {key: RawInput() for key in dataset.modality_names}
    fusion = VeryEarlyFusion(
        channels, FUSED_DIM, time_steps=64, hidden_dim=32, channels_first=layout
    )
    if context.missing in ("mean", "learned"):  # a raw signal has no feature vector to stand in
        context = context.with_(missing="zero")
    return fusion_model(raw, fusion, head(dataset), context)


def build_simbamm(
    spec: FusionSpec,
    dataset: MultimodalDataset,
    context: RunContext,
    feature_dim: int = FEATURE_DIM,
    width: int = FEATURE_DIM,
    num_heads: int = 4,
    num_layers: int = 2,
    dropout: float = 0.1,
) -> nn.Module:
    """SimBaMM: the default encoders (to ``feature_dim`` features), one token of ``width``
    features per modality, a Transformer encoder of ``num_layers`` layers with ``num_heads``
    heads (feed-forward ``2 * width``), and a linear head on the mean of the tokens."""
    dims = dict.fromkeys(dataset.modality_names, feature_dim)
    fusion = spec.cls(dims, width, num_heads=num_heads, num_layers=num_layers, dropout=dropout)
    return fusion_model(encoders(dataset, feature_dim), fusion, head(dataset, width), context)


CUSTOM_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "tfn": build_tfn,
    "attention": build_attention,
    "very-early": build_very_early,
    "simbamm": build_simbamm,
}
"""Fusions whose benchmark models need more than the default encoders."""
APPLIES: dict[str, Callable[[MultimodalDataset], str | None]] = {"very-early": signals_only}


def register_fusion_method(spec: FusionSpec) -> None:
    """Make a fusion of :data:`~intermodal.fusion.registry.FUSIONS` a benchmark method."""
    build = partial(CUSTOM_BUILDERS.get(spec.name, build_fusion), spec)
    applies = APPLIES.get(spec.name, exactly_two if spec.two_modal else at_least_two)
    register_method(spec.name, "fusion", spec.description, applies=applies)(build)


on_fusion_registered(register_fusion_method)


def build_coordinated(method: str, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """Embeddings of two views fitted on a holdout split of the training data (drawn with the
    context's seed, trained with its budget), frozen, and a linear probe on both."""
    from intermodal.bench.align import fit_coordinated  # trains, so imported when needed

    vectors = [s[0] for k, s in dataset.shapes.items() if dataset.kinds[k] == "vector"]
    dim = min([10, *vectors])
    train, val = holdout_split(dataset, size=0.2, seed=context.seed)
    tower = fit_coordinated(method, DataSplits(train, val, val), context, dim=dim)
    return ProbeClassifier(tower, MLP(2 * dim, dataset.output_dim))


for _method in ("cca", "dcca", "clip"):
    register_method(
        f"coord-{_method}",
        "coordination",
        f"{_method.upper()} embeddings of two views (up to 10-d, fitted on a holdout of the "
        "training data) and a linear probe on both",
        applies=two_vectors if _method == "cca" else exactly_two,
    )(partial(build_coordinated, _method))


@register_method(
    "mfm",
    "fission",
    "factorized multimodal model (Tsai 2019): shared factor + private factors; head on shared",
    applies=at_least_two,
)
def build_mfm(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    from intermodal.bench.transfer import build_factorized

    return build_factorized(dataset)


@register_method(
    "shared-private",
    "fission",
    "shared and private encoders with similarity and orthogonality losses",
    applies=at_least_two,
)
def build_shared_private(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    return SharedPrivateModel(
        encoders(dataset),
        dict.fromkeys(dataset.modality_names, FEATURE_DIM),
        dataset.output_dim,
        task=dataset.task,
    )


@register_method(
    "bimodal-ae",
    "fission",
    "bimodal autoencoder (Ngiam 2011) trained with a head on its shared code",
    applies=exactly_two,
)
def build_bimodal_autoencoder(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    from intermodal.bench.transfer import build_autoencoder

    return build_autoencoder(dataset, predict=True)


@register_method(
    "search",
    "fusion",
    f"architecture search (MFAS-style random search, {SEARCH_TRIALS} trials) on a holdout of the "
    "training data",
    applies=vectors_only,
)
def build_search(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    from intermodal.search import FusionSearch

    train, val = holdout_split(dataset, size=0.2, seed=context.seed)
    budget = context.with_(
        max_epochs=max(1, context.max_epochs // 5), patience=max(1, context.patience // 2)
    )
    search = FusionSearch(trials=SEARCH_TRIALS, context=budget).fit(train, val)
    return FusionSearch.build(search.best_config_, dataset)
