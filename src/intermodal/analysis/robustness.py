"""Robustness to noisy and missing modalities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.errors import UnknownNameError
from intermodal.metrics import PRIMARY, SENTIMENT, Metric, metric_info, predict_outputs

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
    - ``missing``: mark the modality absent (presence mask False, values zeroed) in each sample
      with probability ``level``; what a model does with it is its own (see the ``missing``
      strategies of ``FusionClassifier``).

    Noise and dropout change only the samples where the modality is present (an absent one
    stays as it was). ``missing`` never hides the last present modality of a sample: a sample
    where ``modality`` is the only one present keeps it, so on incomplete data the fraction
    hidden at ``level`` 1 is that of :func:`hideable` samples.
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
    if modality not in data.modalities:
        raise UnknownNameError(
            f"unknown modality {modality!r}; the data set has {data.modality_names}"
        )
    generator = torch.Generator().manual_seed(seed)
    values = data.modalities[modality]
    present = data.masks[modality].reshape(-1, *[1] * (values.ndim - 1))
    if corruption == "noise":
        noisy = values + level * torch.randn(values.shape, generator=generator)
        return data.with_modalities({modality: torch.where(present, noisy, values)})
    if corruption == "dropout":
        keep = (torch.rand(values.shape, generator=generator) >= level) | ~present
        return data.with_modalities({modality: values * keep})
    absent = torch.rand(len(data), generator=generator) < level
    return data.with_masks({modality: data.masks[modality] & ~(absent & hideable(data, modality))})


def hideable(data: MultimodalDataset, modality: str) -> Tensor:
    """``(N,)`` bool: the samples where ``modality`` is present and so is another modality, so
    that hiding it leaves something to predict from."""
    others = [data.masks[m] for m in data.modality_names if m != modality]
    if not others:
        return torch.zeros(len(data), dtype=torch.bool)
    return data.masks[modality] & torch.stack(others).any(dim=0)


def robustness_curve(
    model: nn.Module,
    data: MultimodalDataset,
    modality: str,
    corruption: str,
    levels: Sequence[float] | None = None,
    seed: int = 0,
    metric: str | None = None,
) -> pd.DataFrame:
    """The score of ``model`` on ``data`` with ``modality`` corrupted at each level.

    Args:
        metric: a metric of the data set's task (default: its primary metric).

    Returns:
        A DataFrame with columns ``level``, ``score`` and ``absent`` (the fraction of samples
        in which ``modality`` is absent once corrupted: above ``level`` for ``missing`` on data
        where it was absent already, below it where it is the only modality present); ``attrs``
        holds the ``metric``, whether ``higher_is_better``, the number of ``samples`` and those
        in which ``modality`` is ``present`` and ``hideable`` (present with another).
    """
    levels = list(levels if levels is not None else DEFAULT_LEVELS.get(corruption, ()))
    if not levels:
        raise ValueError("give at least one corruption level")
    name = metric or PRIMARY[data.task]
    info = metric_info(data.task, name, sentiment=name in SENTIMENT)
    rows = []
    for level in levels:
        corrupted = corrupt(data, modality, corruption, level, seed)
        rows.append(
            {
                "level": level,
                "score": score_of(model, corrupted, info),
                "absent": float((~corrupted.masks[modality]).double().mean()),
            }
        )
    curve = pd.DataFrame(rows)
    curve.attrs.update(
        metric=info.name,
        higher_is_better=info.higher_is_better,
        samples=len(data),
        present=int(data.masks[modality].sum()),
        hideable=int(hideable(data, modality).sum()),
    )
    return curve


def score_of(model: nn.Module, data: MultimodalDataset, metric: Metric) -> float:
    """``metric`` of ``model``'s outputs on ``data``."""
    return float(metric.compute(predict_outputs(model, data).double(), data.targets))


def relative_robustness(curve: pd.DataFrame) -> float:
    """Area under the score-vs-level curve divided by the level range: the mean score over the
    corruption range (trapezoid rule). For accuracy, 1 is perfect; for an error (MAE), lower is
    better."""
    level, score = curve["level"].to_numpy(float), curve["score"].to_numpy(float)
    if len(level) == 1:
        return float(score[0])
    return float(np.trapezoid(score, level) / (level[-1] - level[0]))


def effective_robustness(curve: pd.DataFrame, baseline: pd.DataFrame) -> float:
    """How much less a model loses than a baseline (e.g. late fusion) measured on the same
    levels: mean over levels of ``(s(l) - s(l0)) - (base(l) - base(l0))``, negated for a metric
    where lower is better. Positive means more robust than the baseline beyond what its clean
    score explains."""
    if not np.allclose(curve["level"], baseline["level"]):
        raise ValueError("the curve and the baseline must be measured at the same levels")
    drop = curve["score"].to_numpy(float) - float(curve["score"].iloc[0])
    base = baseline["score"].to_numpy(float) - float(baseline["score"].iloc[0])
    sign = 1.0 if curve.attrs.get("higher_is_better", True) else -1.0
    return float(sign * np.mean(drop - base))
