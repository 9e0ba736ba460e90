"""``intermodal align``: learn a coordinated space of two views and evaluate it."""

from __future__ import annotations

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
from intermodal.encoders import MLP
from intermodal.models import CCAProjection, TwoTower
from intermodal.training import RunContext, seed_everything

ALIGN_METHODS = ("cca", "kcca", "dcca", "dccae", "clip", "siglip", "hinge")
PAIR_LOSSES = {"clip": ClipLoss, "siglip": SigLipLoss, "hinge": HingeLoss}


def _encoder(input_dim: int, output_dim: int) -> nn.Module:
    return MLP(input_dim, output_dim, hidden_dims=(256,), dropout=0.1)


def fit_coordinated(
    method: str, splits: DataSplits, context: RunContext | None = None, dim: int = 10
) -> nn.Module:
    """A trained coordinated model of the two (vector) modalities of ``splits``: a module whose
    ``forward(inputs)`` returns both views' embeddings ``((B, dim), (B, dim))``.

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
    dims = [train.shapes[a][0], train.shapes[b][0]]
    seed_everything(context.seed)
    if method == "cca":
        cca = CCA(dim, reg=1e-3).fit(train.modalities[a].numpy(), train.modalities[b].numpy())
        projection = CCAProjection([a, b], dims, dim)
        means = [torch.from_numpy(m).float() for m in (cca.mean1_, cca.mean2_)]
        return projection.set(
            means, [torch.from_numpy(w).float() for w in (cca.weights1_, cca.weights2_)]
        )
    encoders = {a: _encoder(dims[0], dim), b: _encoder(dims[1], dim)}
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
    DCCA and DCCAE outputs pass through their final linear CCA first)."""
    if len(views) != 2:
        raise ValueError(f"align needs exactly two views, got {list(views)}")
    if method not in ALIGN_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(ALIGN_METHODS)}")
    data = dataset.select(views)
    if any(kind != "vector" for kind in data.kinds.values()):
        raise ValueError("align works on vector modalities")
    context = context or RunContext()
    splits = standardize(split_dataset(data, seed=context.seed))
    a, b = data.modality_names
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
    return AlignResult(
        method,
        [a, b],
        [float(c) for c in np.asarray(correlations)],
        retrieval_metrics(z_a, z_b),
    )
