"""Cross-modal transfer through a bimodal autoencoder and the disentanglement check of a
factorized model (the ``transfer`` and ``fission`` commands)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from intermodal.analysis import probe_accuracy
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, split_dataset, standardize
from intermodal.encoders import modality_encoder
from intermodal.errors import UnknownNameError
from intermodal.fission import BimodalAutoencoder, FactorizedModel
from intermodal.training import RunContext, seed_everything

FEATURE_DIM = 64


def _encoders(
    data: MultimodalDataset, dim: int = FEATURE_DIM, dropout: float = 0.1
) -> dict[str, nn.Module]:
    return {m: modality_encoder(data, m, dim, dropout) for m in data.modality_names}


def _sizes(data: MultimodalDataset) -> dict[str, int]:
    return {m: math.prod(data.shapes[m]) for m in data.modality_names}


def build_autoencoder(
    data: MultimodalDataset,
    predict: bool = False,
    feature_dim: int = FEATURE_DIM,
    dropout: float = 0.1,
    shared_dim: int = 64,
    alignment_weight: float = 1.0,
) -> BimodalAutoencoder:
    """A bimodal autoencoder with the default encoder of each of the two modalities (to
    ``feature_dim`` features); with ``predict``, a head on its shared code for the data set's
    task."""
    return BimodalAutoencoder(
        data.modality_names,
        _encoders(data, feature_dim, dropout),
        dict.fromkeys(data.modality_names, feature_dim),
        _sizes(data),
        shared_dim=shared_dim,
        alignment_weight=alignment_weight,
        outputs=data.output_dim if predict else None,
        task=data.task,
    )


def build_factorized(
    data: MultimodalDataset,
    feature_dim: int = FEATURE_DIM,
    dropout: float = 0.1,
    **options: Any,
) -> FactorizedModel:
    """MFM with the default encoders (one set for the shared factor, one for the private ones,
    each to ``feature_dim`` features); ``options`` go to
    :class:`~intermodal.fission.FactorizedModel` (``shared_dim``, loss weights)."""
    return FactorizedModel(
        _encoders(data, feature_dim, dropout),
        _encoders(data, feature_dim, dropout),
        dict.fromkeys(data.modality_names, feature_dim),
        _sizes(data),
        data.output_dim,
        task=data.task,
        **options,
    )


def _alone(inputs: Mapping[str, Tensor], modality: str) -> dict[str, Tensor]:
    """The inputs with every modality but ``modality`` zeroed (absent)."""
    return {m: x if m == modality else torch.zeros_like(x) for m, x in inputs.items()}


def _prepare(dataset: MultimodalDataset, seed: int) -> DataSplits:
    if len(dataset.modality_names) != 2:
        raise ValueError(f"needs two modalities, the data set has {dataset.modality_names}")
    if dataset.task != "classification":
        raise ValueError(
            f"the linear probes of transfer and fission predict classes; {dataset.name} is a "
            f"{dataset.task} data set"
        )
    return standardize(split_dataset(dataset, seed=seed))


def cross_modal_transfer(
    dataset: MultimodalDataset,
    train_modality: str,
    test_modality: str,
    context: RunContext | None = None,
) -> dict[str, float]:
    """Cross-modal transfer, "hearing to see" (Ngiam et al. 2011).

    An unsupervised bimodal autoencoder (with the correlational alignment term) is trained on
    the training split; a linear classifier learns the class from shared codes computed from
    ``train_modality`` alone and is tested on codes computed from ``test_modality`` alone. Each
    modality's codes are standardized with their own training-split statistics (no labels).

    Returns:
        ``transfer_accuracy``; ``train_modality_accuracy`` and ``test_modality_accuracy`` (each
        modality's codes, classifier trained and tested on the same modality); ``chance``.
    """
    context = context or RunContext(max_epochs=60)
    splits = _prepare(dataset, context.seed)
    for modality in (train_modality, test_modality):
        if modality not in splits.train.modality_names:
            raise UnknownNameError(
                f"unknown modality {modality!r}; the data set has {splits.train.modality_names}"
            )
    seed_everything(context.seed)
    model = build_autoencoder(splits.train)
    context.fit(model, splits)
    train, test = splits.train, splits.test

    @torch.no_grad()
    def raw_codes(part: MultimodalDataset, modality: str) -> Tensor:
        return model.shared(_alone(part.modalities, modality))

    reference = {m: raw_codes(train, m) for m in (train_modality, test_modality)}

    def codes(part: MultimodalDataset, modality: str) -> Tensor:
        """Codes standardized with their modality's statistics on the training split (each
        modality's codes centered and scaled on their own, as CCA projects each view)."""
        mean, std = reference[modality].mean(0), reference[modality].std(0).clamp_min(1e-8)
        return (raw_codes(part, modality) - mean) / std

    def probe(source: str, target: str) -> float:
        return probe_accuracy(
            codes(train, source), train.targets, codes(test, target), test.targets
        )

    return {
        "transfer_accuracy": probe(train_modality, test_modality),
        "train_modality_accuracy": probe(train_modality, train_modality),
        "test_modality_accuracy": probe(test_modality, test_modality),
        "chance": 1.0 / dataset.n_classes,
    }


def disentanglement(
    dataset: MultimodalDataset, nuisance: str = "speaker", context: RunContext | None = None
) -> list[dict[str, Any]]:
    """Linear probes of each representation of a trained MFM (``FactorizedModel``): how well the
    shared factor (from both modalities, and from each alone) and each private factor predict
    the class and the ``nuisance`` metadata column (e.g. the speaker), on the test split."""
    context = context or RunContext(max_epochs=60)
    splits = _prepare(dataset, context.seed)
    if nuisance not in splits.train.metadata:
        raise UnknownNameError(f"the data set has no metadata column {nuisance!r}")
    seed_everything(context.seed)
    model = build_factorized(splits.train)
    context.fit(model, splits)
    names = np.unique(
        np.concatenate([splits.train.metadata[nuisance], splits.test.metadata[nuisance]])
    )

    def nuisance_labels(part: MultimodalDataset) -> Tensor:
        return torch.from_numpy(np.searchsorted(names, part.metadata[nuisance]))

    @torch.no_grad()
    def representations(part: MultimodalDataset) -> dict[str, Tensor]:
        factors = model.factors(part.modalities)
        out = {"shared": factors["shared"]}
        for m in model.modalities:
            out[f"shared ({m} only)"] = model.shared(part.modalities, present=[m])
        for m in model.modalities:
            out[f"private ({m})"] = factors[m]
        return out

    train_reps, test_reps = representations(splits.train), representations(splits.test)
    rows = []
    for name in train_reps:
        rows.append(
            {
                "representation": name,
                "class_accuracy": probe_accuracy(
                    train_reps[name], splits.train.targets, test_reps[name], splits.test.targets
                ),
                f"{nuisance}_accuracy": probe_accuracy(
                    train_reps[name],
                    nuisance_labels(splits.train),
                    test_reps[name],
                    nuisance_labels(splits.test),
                ),
            }
        )
    return rows
