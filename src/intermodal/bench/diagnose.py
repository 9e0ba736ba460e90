"""``intermodal diagnose``: what a fusion model and the data do with two modalities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from intermodal.analysis import (
    complexity,
    effective_robustness,
    emap,
    interaction_types,
    pid,
    profile,
    relative_robustness,
    robustness_curve,
)
from intermodal.analysis.robustness import CORRUPTIONS
from intermodal.bench.registry import METHODS
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, split_dataset, standardize
from intermodal.metrics import evaluate, predict
from intermodal.training import fit

FUSION_METHOD = "nonlinear"
"""The diagnosed fusion: an MLP over the concatenated encodings, so it can model interactions."""
BASELINE_METHOD = "late-mean"
"""The baseline of effective robustness: late fusion by averaging."""


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


def diagnose(
    dataset: MultimodalDataset,
    modalities: Sequence[str] | None = None,
    epochs: int = 100,
    patience: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a fusion model, one model per modality and a late-fusion baseline on two modalities,
    then measure EMAP, PID (of the data and of the fusion model's predictions), interaction
    types, robustness, complexity and the data profile, all on the test split.

    Returns:
        A JSON-serializable dict with one entry per analysis.
    """
    data = dataset.select(modalities) if modalities else dataset
    if len(data.modality_names) != 2:
        raise ValueError(
            f"diagnose compares two modalities; the data set has {data.modality_names}: "
            "choose two with --modalities"
        )
    first, second = data.modality_names
    splits = standardize(split_dataset(data, seed=seed))

    def train(method: str, part: DataSplits) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = METHODS[method].build(part.train)
        return fit(
            model, part, max_epochs=epochs, patience=patience, seed=seed, accelerator="cpu"
        ).model

    fusion = train(FUSION_METHOD, splits)
    baseline = train(BASELINE_METHOD, splits)
    unimodal = {
        key: train("unimodal", DataSplits(*(part.select([key]) for part in splits)))
        for key in (first, second)
    }
    test = splits.test
    probabilities = {
        name: torch.softmax(predict(model, test), dim=1).numpy()
        for name, model in {
            "fusion": fusion,
            first: unimodal[first],
            second: unimodal[second],
        }.items()
    }
    emap_result = emap(fusion, test, seed=seed)
    flat = {k: v.reshape(len(v), -1).numpy() for k, v in splits.test.modalities.items()}
    all_flat = {k: v.reshape(len(v), -1).numpy() for k, v in data.modalities.items()}
    types = interaction_types(
        probabilities[first], probabilities[second], probabilities["fusion"], test.targets.numpy()
    )
    robustness = []
    for key in (first, second):
        for corruption in CORRUPTIONS:
            curve = robustness_curve(fusion, test, key, corruption, seed=seed)
            base = robustness_curve(baseline, test, key, corruption, seed=seed)
            robustness.append(
                {
                    "modality": key,
                    "corruption": corruption,
                    "levels": curve["level"].tolist(),
                    "accuracy": curve["accuracy"].tolist(),
                    "baseline_accuracy": base["accuracy"].tolist(),
                    "relative_robustness": relative_robustness(curve),
                    "baseline_relative_robustness": relative_robustness(base),
                    "effective_robustness": effective_robustness(curve, base),
                }
            )
    data_profile = profile(data, seed=seed)
    return {
        "dataset": dataset.name,
        "modalities": [first, second],
        "fusion_method": FUSION_METHOD,
        "accuracy": {
            "fusion": evaluate(fusion, test)["accuracy"],
            BASELINE_METHOD: evaluate(baseline, test)["accuracy"],
            **{f"unimodal[{k}]": evaluate(m, test)["accuracy"] for k, m in unimodal.items()},
        },
        "emap": {
            "model_accuracy": emap_result.model_accuracy,
            "emap_accuracy": emap_result.emap_accuracy,
            "gap": emap_result.gap,
            "partial_response_accuracy": emap_result.unimodal_accuracy,
        },
        "pid_bits": {
            "data": pid(
                all_flat[first], all_flat[second], data.targets.numpy(), seed=seed
            ).as_dict(),
            "fusion_predictions": pid(
                flat[first], flat[second], probabilities["fusion"].argmax(1), seed=seed
            ).as_dict(),
        },
        "interaction_types": _records(types.summary),
        "robustness": robustness,
        "complexity": complexity(fusion, {k: v[:64] for k, v in test.modalities.items()}),
        "profile": {
            "modalities": _records(data_profile.modalities),
            "pairs": _records(data_profile.pairs),
        },
    }
