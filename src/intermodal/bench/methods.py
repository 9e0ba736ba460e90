"""The built-in benchmark methods: unimodal and classical baselines, every fusion, coordination
and fission.

Every fusion method uses the same default encoders (``FEATURE_DIM`` features per modality) and a
linear head from ``FUSED_DIM`` features to the outputs, so that methods differ only in fusion.
Builders are module-level functions (or partials of them) so that worker processes can run them.

Each method declares its search space beside its builder (:func:`encoder_space` for the part
most share: AdamW's learning rate and weight decay, the encoders' dropout and width), and the
builder reads every setting with ``context.param(name, default)``, so a context without params
builds the default model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from torch import nn

from intermodal.baselines import build_gbdt, build_linear, feature_reason, gbdt_reason
from intermodal.bench.registry import register_method
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, holdout_split
from intermodal.encoders import MLP, RawInput, TokenEncoder, modality_encoder
from intermodal.fission import SharedPrivateModel
from intermodal.fusion import CrossModalAttentionFusion, VeryEarlyFusion
from intermodal.fusion.registry import FusionSpec, on_fusion_registered
from intermodal.models import FusionClassifier, ProbeClassifier, UnimodalClassifier
from intermodal.training.context import RunContext
from intermodal.tuning.space import Choice, Float, Int, Param, SearchSpace, training_space

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
DROPOUT = 0.1
"""Dropout of the default vector and text encoders."""
WIDTHS = (32, 64, 128)
"""Encoder widths a search may choose (``FEATURE_DIM`` the default)."""


def encoder_space(*, width: bool = True, dropout: bool = True, **own: Param) -> SearchSpace:
    """The search space most methods share, plus a method's ``own`` settings: ``lr``
    (log-uniform 1e-4 .. 1e-2, default 1e-3), ``weight_decay`` (log-uniform 1e-6 .. 1e-2,
    default 1e-4), the encoders' ``dropout`` (0 .. 0.5, default 0.1; vector and text encoders)
    and their ``width`` (features per modality, one of ``WIDTHS``, default ``FEATURE_DIM``)."""
    shared: dict[str, Param] = {}
    if dropout:
        shared["dropout"] = Float(0.0, 0.5, DROPOUT)
    if width:
        shared["width"] = Choice(WIDTHS, FEATURE_DIM)
    return training_space() | SearchSpace(shared) | SearchSpace(own)


def width(context: RunContext) -> int:
    """The encoders' output size of the context (``FEATURE_DIM`` by default)."""
    return int(context.param("width", FEATURE_DIM))


def encoders(
    dataset: MultimodalDataset, dim: int = FEATURE_DIM, dropout: float = DROPOUT
) -> dict[str, nn.Module]:
    """The default encoder of every modality, each to ``dim`` features."""
    return {key: modality_encoder(dataset, key, dim, dropout) for key in dataset.modality_names}


def context_encoders(
    dataset: MultimodalDataset, context: RunContext, dim: int | None = None
) -> dict[str, nn.Module]:
    """The default encoders with the context's ``width`` (or ``dim``) and ``dropout``."""
    dim = width(context) if dim is None else dim
    return encoders(dataset, dim, float(context.param("dropout", DROPOUT)))


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
    "unimodal",
    "unimodal",
    "one modality: its encoder and a linear head",
    per_modality=True,
    space=encoder_space(),
)
def build_unimodal(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    (key,) = dataset.modality_names
    return UnimodalClassifier(
        key, context_encoders(dataset, context)[key], head(dataset, width(context))
    )


GBDT_SPACE = SearchSpace(
    num_leaves=Int(7, 127, 31, log=True),
    learning_rate=Float(0.02, 0.3, 0.1, log=True),
    min_child_samples=Int(5, 50, 20, log=True),
    feature_fraction=Float(0.5, 1.0, 1.0),
)
"""The settings of gradient-boosted trees a tuner may change (LightGBM's defaults are the
defaults); the rounds are early-stopped on validation."""


def build_tuned_gbdt(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """:func:`~intermodal.baselines.build_gbdt` with the settings of :data:`GBDT_SPACE` from the
    context."""
    return build_gbdt(
        dataset,
        context,
        num_leaves=int(context.param("num_leaves", 31)),
        learning_rate=float(context.param("learning_rate", 0.1)),
        min_child_samples=int(context.param("min_child_samples", 20)),
        feature_fraction=float(context.param("feature_fraction", 1.0)),
    )


register_method(
    "linear",
    "classical",
    "logistic regression (one-vs-rest for labels) or ridge regression on the concatenated "
    "standardized features, the penalty chosen on validation",
    applies=feature_reason,
    views=True,
    # no setting for a tuner: it searches its penalty on validation itself (one trial)
    space=SearchSpace(),
)(build_linear)
register_method(
    "gbdt",
    "classical",
    "gradient-boosted trees (LightGBM) on the same features, early-stopped on validation",
    applies=gbdt_reason,
    views=True,
    space=GBDT_SPACE,
)(build_tuned_gbdt)


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


RANK = Int(2, 16, 4, log=True)
"""The rank of LMF and PTP (default 4, the registry's)."""
FUSION_OPTIONS: dict[str, tuple[str, ...]] = {"lmf": ("rank",), "ptp": ("order", "rank")}
"""Constructor options of a fusion that its benchmark method takes from the context."""


def fusion_options(spec: FusionSpec, context: RunContext) -> FusionSpec:
    """``spec`` with the options of :data:`FUSION_OPTIONS` read from the context's params."""
    names = FUSION_OPTIONS.get(spec.name, ())
    options = {name: context.param(name, spec.options[name]) for name in names}
    if not options:
        return spec
    return replace(spec, options={**spec.options, **options})


def build_fusion(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """The default encoders, the fusion of ``spec`` and a linear head (none for a fusion that
    outputs predictions itself; the head reads the encoders' features from a fusion that keeps
    its inputs' size)."""
    spec = fusion_options(spec, context)
    dim = width(context)
    dims = dict.fromkeys(dataset.modality_names, dim)
    if spec.outputs:
        fusion = spec.build(dims, dataset.output_dim, dataset.task)
        return fusion_model(context_encoders(dataset, context), fusion, None, context)
    size = dim if spec.keeps_size else FUSED_DIM
    return fusion_model(
        context_encoders(dataset, context), spec.build(dims, size), head(dataset, size), context
    )


def build_tfn(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """TFN with encoders of the context's width, shrunk so that the fused tensor has at most
    ``TFN_MAX_FUSED`` entries."""
    count = len(dataset.modality_names)
    dim = min(width(context), round(TFN_MAX_FUSED ** (1 / count)) - 1)
    while (dim + 1) ** count > TFN_MAX_FUSED:
        dim -= 1
    dims = dict.fromkeys(dataset.modality_names, dim)
    return fusion_model(
        context_encoders(dataset, context, dim), spec.build(dims, FUSED_DIM), head(dataset), context
    )


ATTENTION_SPACE = encoder_space(
    dropout=False, heads=Choice((1, 2, 4), 2), model_dim=Choice((16, 32, 64), 16)
)
"""Cross-modal attention's settings: its token encoders have no dropout."""


def build_attention(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """Cross-modal attention over ``TOKENS`` learned tokens per vector modality (sequences
    attend over their encoded steps), with the context's ``heads`` (default 2) and
    ``model_dim`` (default 16)."""
    dim = width(context)
    token_dim = dim // TOKENS
    tokenizers: dict[str, nn.Module] = {}
    dims = {}
    for key in dataset.modality_names:
        if dataset.kinds[key] == "vector":
            tokenizers[key] = TokenEncoder(dataset.shapes[key][0], TOKENS, token_dim, (dim,))
            dims[key] = token_dim
        else:
            tokenizers[key] = modality_encoder(dataset, key, dim)
            dims[key] = dim
    fusion = CrossModalAttentionFusion(
        dims,
        FUSED_DIM,
        model_dim=int(context.param("model_dim", 16)),
        num_heads=int(context.param("heads", 2)),
    )
    return fusion_model(tokenizers, fusion, head(dataset), context)


def build_very_early(
    spec: FusionSpec, dataset: MultimodalDataset, context: RunContext
) -> nn.Module:
    """Ordered raw signals on a common time grid and one shared encoder of the context's
    ``hidden`` channels (default 32): a vector signal and mono audio are one channel, a sequence
    ``(T, D)`` has D channels, audio ``(C, T)`` C."""
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
    hidden = int(context.param("hidden", 32))
    fusion = VeryEarlyFusion(
        channels, FUSED_DIM, time_steps=64, hidden_dim=hidden, channels_first=layout
    )
    if context.missing in ("mean", "learned"):  # a raw signal has no feature vector to stand in
        context = context.with_(missing="zero")
    return fusion_model(raw, fusion, head(dataset), context)


SIMBAMM_SPACE = encoder_space(
    model_dim=Choice(WIDTHS, FEATURE_DIM),
    heads=Choice((1, 2, 4), 4),
    layers=Int(1, 4, 2),
    attention_dropout=Float(0.0, 0.3, 0.1),
)
"""SimBaMM's settings: the encoders' (``width``, ``dropout``) and its Transformer's token width,
heads, layers and dropout."""


def build_simbamm(spec: FusionSpec, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """SimBaMM: the default encoders (the context's ``width``, default ``FEATURE_DIM``), one
    token of ``model_dim`` features per modality (default ``FEATURE_DIM``), a Transformer encoder
    of ``layers`` layers (default 2) with ``heads`` heads (default 4; feed-forward
    ``2 * model_dim``) and ``attention_dropout`` (default 0.1), and a linear head on the mean of
    the tokens."""
    dim, model_dim = width(context), int(context.param("model_dim", FEATURE_DIM))
    fusion = spec.cls(
        dict.fromkeys(dataset.modality_names, dim),
        model_dim,
        num_heads=int(context.param("heads", 4)),
        num_layers=int(context.param("layers", 2)),
        dropout=float(context.param("attention_dropout", 0.1)),
    )
    return fusion_model(
        context_encoders(dataset, context), fusion, head(dataset, model_dim), context
    )


CUSTOM_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "tfn": build_tfn,
    "attention": build_attention,
    "very-early": build_very_early,
    "simbamm": build_simbamm,
}
"""Fusions whose benchmark models need more than the default encoders."""
APPLIES: dict[str, Callable[[MultimodalDataset], str | None]] = {"very-early": signals_only}
FUSION_SPACES: dict[str, SearchSpace] = {
    "lmf": encoder_space(rank=RANK),
    "ptp": encoder_space(rank=RANK, order=Int(2, 3, 2)),
    "attention": ATTENTION_SPACE,
    "very-early": encoder_space(width=False, dropout=False, hidden=Choice((16, 32, 64), 32)),
    "simbamm": SIMBAMM_SPACE,
}
"""Search spaces of fusions with settings of their own (every other fusion:
:func:`encoder_space`)."""


def register_fusion_method(spec: FusionSpec) -> None:
    """Make a fusion of :data:`~intermodal.fusion.registry.FUSIONS` a benchmark method."""
    build = partial(CUSTOM_BUILDERS.get(spec.name, build_fusion), spec)
    applies = APPLIES.get(spec.name, exactly_two if spec.two_modal else at_least_two)
    space = FUSION_SPACES.get(spec.name) or encoder_space()
    register_method(spec.name, "fusion", spec.description, applies=applies, space=space)(build)


on_fusion_registered(register_fusion_method)


COORDINATED_DIM = 10
"""Dimensions of a coordinated space (at most the smallest vector modality's size)."""


def build_coordinated(method: str, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """Embeddings of two views (the context's ``dim``, default 10, at most the smallest vector
    modality's size) fitted on a holdout split of the training data (drawn with the context's
    seed, trained with its budget), frozen, and a linear probe on both."""
    from intermodal.bench.align import fit_coordinated  # trains, so imported when needed

    vectors = [s[0] for k, s in dataset.shapes.items() if dataset.kinds[k] == "vector"]
    dim = min([int(context.param("dim", COORDINATED_DIM)), *vectors])
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
        space=training_space() | SearchSpace(dim=Int(2, 32, COORDINATED_DIM, log=True)),
    )(partial(build_coordinated, _method))


def _settings(context: RunContext, space: SearchSpace, names: tuple[str, ...]) -> dict[str, Any]:
    """The context's values of ``names`` (each defaulting to its default in ``space``)."""
    return {name: context.param(name, space[name].default) for name in names}


MFM_OWN = ("shared_dim", "reconstruction_weight", "prior_weight")
MFM_SPACE = encoder_space(
    shared_dim=Choice((16, 32, 64), 32),
    reconstruction_weight=Float(0.1, 10.0, 1.0, log=True),
    prior_weight=Float(0.01, 1.0, 0.1, log=True),
)


@register_method(
    "mfm",
    "fission",
    "factorized multimodal model (Tsai 2019): shared factor + private factors; head on shared",
    applies=at_least_two,
    space=MFM_SPACE,
)
def build_mfm(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    from intermodal.bench.transfer import build_factorized

    return build_factorized(
        dataset,
        feature_dim=width(context),
        dropout=float(context.param("dropout", DROPOUT)),
        **_settings(context, MFM_SPACE, MFM_OWN),
    )


SHARED_PRIVATE_OWN = ("code_dim", "similarity_weight", "difference_weight")
SHARED_PRIVATE_SPACE = encoder_space(
    code_dim=Choice((16, 32, 64), 32),
    similarity_weight=Float(0.1, 10.0, 1.0, log=True),
    difference_weight=Float(0.03, 3.0, 0.3, log=True),
)


@register_method(
    "shared-private",
    "fission",
    "shared and private encoders with similarity and orthogonality losses",
    applies=at_least_two,
    space=SHARED_PRIVATE_SPACE,
)
def build_shared_private(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    return SharedPrivateModel(
        context_encoders(dataset, context),
        dict.fromkeys(dataset.modality_names, width(context)),
        dataset.output_dim,
        task=dataset.task,
        **_settings(context, SHARED_PRIVATE_SPACE, SHARED_PRIVATE_OWN),
    )


AUTOENCODER_OWN = ("shared_dim", "alignment_weight")
AUTOENCODER_SPACE = encoder_space(
    shared_dim=Choice((32, 64, 128), 64),
    alignment_weight=Float(0.1, 10.0, 1.0, log=True),
)


@register_method(
    "bimodal-ae",
    "fission",
    "bimodal autoencoder (Ngiam 2011) trained with a head on its shared code",
    applies=exactly_two,
    space=AUTOENCODER_SPACE,
)
def build_bimodal_autoencoder(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    from intermodal.bench.transfer import build_autoencoder

    return build_autoencoder(
        dataset,
        predict=True,
        feature_dim=width(context),
        dropout=float(context.param("dropout", DROPOUT)),
        **_settings(context, AUTOENCODER_SPACE, AUTOENCODER_OWN),
    )


@register_method(
    "search",
    "fusion",
    f"architecture search (MFAS-style random search, {SEARCH_TRIALS} trials) on a holdout of the "
    "training data",
    applies=vectors_only,
    space=training_space(),
)
def build_search(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    from intermodal.search import FusionSearch

    train, val = holdout_split(dataset, size=0.2, seed=context.seed)
    budget = context.with_(
        max_epochs=max(1, context.max_epochs // 5), patience=max(1, context.patience // 2)
    )
    search = FusionSearch(trials=SEARCH_TRIALS, context=budget).fit(train, val)
    return FusionSearch.build(search.best_config_, dataset)
