"""Robustness to noisy and missing modalities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.metrics import evaluate

CORRUPTIONS = ("noise", "dropout", "missing")
DEFAULT_LEVELS = {
    "noise": (0.0, 0.25, 0.5, 1.0, 2.0),
    "dropout": (0.0, 0.25, 0.5, 0.75, 1.0),
    "missing": (0.0, 0.25, 0.5, 0.75, 1.0),
}


def corrupt(
    data: MultimodalDataset, modality: str, corruption: str, level: float, seed: int = 0
) -> MultimodalDataset:
    """A copy of ``data`` with one modality corrupted.

    - ``noise``: add Gaussian noise of standard deviation ``level`` (in the data's units; on
      standardized data, in standard deviations);
    - ``dropout``: set each feature value to 0 with probability ``level``;
    - ``missing``: mark the modality absent (presence mask False, values zeroed) in a random
      fraction ``level`` of the samples. Models zero the features of an absent modality
      (zero-imputation, see ``FusionClassifier``).
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
    if modality not in data.modalities:
        raise KeyError(f"unknown modality {modality!r}; the data set has {data.modality_names}")
    generator = torch.Generator().manual_seed(seed)
    values = data.modalities[modality]
    if corruption == "noise":
        return data.with_modalities(
            {modality: values + level * torch.randn(values.shape, generator=generator)}
        )
    if corruption == "dropout":
        keep = torch.rand(values.shape, generator=generator) >= level
        return data.with_modalities({modality: values * keep})
    absent = torch.rand(len(data), generator=generator) < level
    masks = {**data.masks, modality: data.masks[modality] & ~absent}
    zeroed = values * (~absent).reshape(-1, *[1] * (values.ndim - 1))
    return MultimodalDataset(
        {**data.modalities, modality: zeroed},
        data.targets,
        masks=masks,
        kinds=data.kinds,
        metadata=data.metadata,
        name=data.name,
        classes=data.classes,
    )


def robustness_curve(
    model: nn.Module,
    data: MultimodalDataset,
    modality: str,
    corruption: str,
    levels: Sequence[float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Accuracy of ``model`` on ``data`` with ``modality`` corrupted at each level.

    Returns:
        A DataFrame with columns ``level`` and ``accuracy``.
    """
    levels = list(levels if levels is not None else DEFAULT_LEVELS.get(corruption, ()))
    if not levels:
        raise ValueError("give at least one corruption level")
    rows = [
        {
            "level": level,
            "accuracy": evaluate(model, corrupt(data, modality, corruption, level, seed))[
                "accuracy"
            ],
        }
        for level in levels
    ]
    return pd.DataFrame(rows)


def relative_robustness(curve: pd.DataFrame) -> float:
    """Area under the accuracy-vs-level curve divided by the level range (mean accuracy over
    the corruption range, trapezoid rule); 1 is perfect."""
    level, accuracy = curve["level"].to_numpy(float), curve["accuracy"].to_numpy(float)
    if len(level) == 1:
        return float(accuracy[0])
    return float(np.trapezoid(accuracy, level) / (level[-1] - level[0]))


def effective_robustness(curve: pd.DataFrame, baseline: pd.DataFrame) -> float:
    """How much less accuracy a model loses than a baseline (e.g. late fusion) measured on the
    same levels: mean over levels of ``(acc(l) - acc(l0)) - (base(l) - base(l0))``. Positive
    means more robust than the baseline beyond what its clean accuracy explains."""
    if not np.allclose(curve["level"], baseline["level"]):
        raise ValueError("the curve and the baseline must be measured at the same levels")
    drop = curve["accuracy"].to_numpy(float) - float(curve["accuracy"].iloc[0])
    base = baseline["accuracy"].to_numpy(float) - float(baseline["accuracy"].iloc[0])
    return float(np.mean(drop - base))
