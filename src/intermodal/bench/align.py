"""``intermodal align``: learn a coordinated space of two views and evaluate it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from intermodal.coordination import (
    CCA,
    DCCA,
    DCCAE,
    ClipLoss,
    DCCALoss,
    HingeLoss,
    KernelCCA,
    SigLipLoss,
    canonical_correlations,
    retrieval_metrics,
)
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, split_dataset, standardize
from intermodal.encoders import MLP, modality_encoder
from intermodal.errors import UnknownNameError
from intermodal.models import CCAProjection, TwoTower
from intermodal.training import RunContext, seed_everything

ALIGN_METHODS = ("cca", "kcca", "dcca", "dccae", "clip", "siglip", "hinge")
PAIR_LOSSES = {"clip": ClipLoss, "siglip": SigLipLoss, "hinge": HingeLoss}


VECTOR_ONLY = ("cca", "kcca", "dccae")
"""Methods that read vectors: linear or kernel CCA of the features, and DCCAE, which
reconstructs them."""


def tower_encoder(data: MultimodalDataset, modality: str, dim: int) -> nn.Module:
    """A modality's encoder into the coordinated space: an MLP for vectors, the default encoder
    of its kind otherwise (a CNN for images, a text encoder whose vocabulary is learned from
    ``data``, the training split)."""
    kind, shape = data.kinds[modality], data.shapes[modality]
    if kind == "vector":
        return MLP(shape[0], dim, hidden_dims=(256,), dropout=0.1)
    return modality_encoder(data, modality, dim)


def fit_coordinated(
    method: str, splits: DataSplits, context: RunContext | None = None, dim: int = 10
) -> nn.Module:
    """A trained coordinated model of the two modalities of ``splits``: a module whose
    ``forward(inputs)`` returns both views' embeddings ``((B, dim), (B, dim))``. CCA and DCCAE
    need vector modalities; the other methods take any kind.

    ``cca`` fits exact CCA; ``dcca`` / ``dccae`` train two MLPs on the DCCA loss (DCCAE adds
    decoders, reconstruction weight 1e-3); ``clip`` / ``siglip`` / ``hinge`` train a two-tower
    model on that loss. Neural methods train with the context's seed and budget, in batches of
    at least 256 pairs (the losses compare a batch's pairs), and early-stop on the validation
    loss.
    """
    if method not in ALIGN_METHODS or method == "kcca":
        raise ValueError(
            f"method must be one of {[m for m in ALIGN_METHODS if m != 'kcca']}, got {method!r}"
        )
    context = context or RunContext()
    train = splits.train
    a, b = train.modality_names
    if method in VECTOR_ONLY and any(train.kinds[m] != "vector" for m in (a, b)):
        raise ValueError(f"{method} needs vector modalities; {a} and {b} are {train.kinds}")
    dims = [math.prod(train.shapes[a]), math.prod(train.shapes[b])]
    seed_everything(context.seed)
    if method == "cca":
        both = train.masks[a] & train.masks[b]  # pairs with both sides present
        cca = CCA(dim, reg=1e-3).fit(
            train.modalities[a][both].numpy(), train.modalities[b][both].numpy()
        )
        projection = CCAProjection([a, b], dims, dim)
        means = [torch.from_numpy(m).float() for m in (cca.mean1_, cca.mean2_)]
        return projection.set(
            means, [torch.from_numpy(w).float() for w in (cca.weights1_, cca.weights2_)]
        )
    encoders = {a: tower_encoder(train, a, dim), b: tower_encoder(train, b, dim)}
    model: nn.Module
    if method == "dcca":
        model = DCCA([a, b], encoders, DCCALoss())
    elif method == "dccae":
        decoders = {a: MLP(dim, dims[0], (256,)), b: MLP(dim, dims[1], (256,))}
        model = DCCAE([a, b], encoders, decoders)
    else:
        model = TwoTower([a, b], encoders, PAIR_LOSSES[method]())
    return context.fit(model, splits, batch_size=max(256, context.batch_size)).model.eval()


@dataclass
class AlignResult:
    """Canonical correlations of the test embeddings and cross-view retrieval on the test split."""

    method: str
    views: list[str]
    canonical_correlations: list[float]
    retrieval: dict[str, float] = field(default_factory=dict)


def align(
    dataset: MultimodalDataset,
    views: Sequence[str],
    method: str,
    dim: int = 10,
    context: RunContext | None = None,
) -> AlignResult:
    """Fit ``method`` on the training split of two views and evaluate it on the test split:
    canonical correlations of the test embeddings and cross-view retrieval (cosine similarity;
    DCCA and DCCAE outputs pass through their final linear CCA first; CCA gives at most as many
    dimensions as the smaller view has features): instance recall, and for
    a labelled data set mean average precision with category relevance, MAP@R and
    precision@k."""
    views = list(views)
    if len(views) != 2:
        raise ValueError(f"align needs exactly two views, got {views}")
    if views[0] == views[1]:
        raise ValueError(
            f"align needs two different views, got {views[0]!r} twice; the views of "
            f"{dataset.name} are {dataset.modality_names}"
        )
    unknown = [v for v in views if v not in dataset.modality_names]
    if unknown:
        raise UnknownNameError(
            f"unknown view{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the views of {dataset.name} are {dataset.modality_names}"
        )
    if method not in ALIGN_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(ALIGN_METHODS)}")
    data = dataset.select(views)
    if method in VECTOR_ONLY and any(kind != "vector" for kind in data.kinds.values()):
        raise ValueError(f"{method} works on vector modalities; {dict(data.kinds)}")
    context = context or RunContext()
    data = data.subset(torch.nonzero(data.masks[views[0]] & data.masks[views[1]]).flatten())
    splits = standardize(split_dataset(data, seed=context.seed))  # pairs with both sides
    a, b = data.modality_names
    if method == "cca":  # CCA has as many pairs of variates as the smaller view has features
        dim = min(dim, *(math.prod(data.shapes[m]) for m in (a, b)))
    test = splits.test
    if method == "kcca":
        kcca = KernelCCA(dim, kernel="rbf", reg=1e-3, seed=context.seed)
        kcca.fit(splits.train.modalities[a].numpy(), splits.train.modalities[b].numpy())
        z_a, z_b = (
            torch.from_numpy(z).float()
            for z in kcca.transform(test.modalities[a].numpy(), test.modalities[b].numpy())
        )
    else:
        model = fit_coordinated(method, splits, context, dim)
        with torch.no_grad():
            z_a, z_b = model({a: test.modalities[a], b: test.modalities[b]})
            if method in ("dcca", "dccae"):
                # DCCA's outputs are correlated, not aligned: the final linear CCA of Andrew et
                # al., fitted on the training outputs, maps them to matching canonical variates.
                h_a, h_b = (h.numpy() for h in model(splits.train.modalities))
                final = CCA(dim, reg=1e-3).fit(h_a, h_b)
                z_a, z_b = (
                    torch.from_numpy(z).float() for z in final.transform(z_a.numpy(), z_b.numpy())
                )
    correlations = canonical_correlations(z_a.numpy(), z_b.numpy(), n_components=min(5, dim))
    labels = test.targets if test.task == "classification" else None
    return AlignResult(
        method,
        [a, b],
        [float(c) for c in np.asarray(correlations)],
        retrieval_metrics(z_a, z_b, labels_a=labels, labels_b=labels),
    )
