"""Choosing a method on validation data: the test part only measures the chosen one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from intermodal.metrics import Metric

VALIDATION_PREFIX = "val_"
"""A run's validation score of metric ``m`` is the column ``val_m`` of its result row."""


@dataclass(frozen=True)
class Choice:
    """The method with the best mean validation score of ``metric`` over its seeds.

    ``scores``: each method's mean validation score; ``seeds``: how many seeds it was averaged
    over; methods without a validation score are left out (``unscored``)."""

    method: str
    metric: str
    higher_is_better: bool
    scores: dict[str, float]
    seeds: dict[str, int]
    unscored: list[str]

    @property
    def score(self) -> float:
        return self.scores[self.method]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chosen_on_validation(runs: pd.DataFrame, metric: Metric) -> Choice | None:
    """The method of ``runs`` (one row per (method, seed), with ``val_<metric>`` columns) whose
    mean validation score of ``metric`` is best, by the metric's direction; a tie goes to the
    method listed first. None when no run has a validation score (runs saved by an earlier
    version)."""
    column = VALIDATION_PREFIX + metric.name
    if column not in runs or "method" not in runs:
        return None
    scores: dict[str, float] = {}
    seeds: dict[str, int] = {}
    unscored: list[str] = []
    for method, group in runs.groupby("method", sort=False):
        values = pd.to_numeric(group[column], errors="coerce").dropna()
        values = values[values.map(math.isfinite)]
        if values.empty:
            unscored.append(str(method))
            continue
        scores[str(method)], seeds[str(method)] = float(values.mean()), len(values)
    if not scores:
        return None
    sign = 1.0 if metric.higher_is_better else -1.0
    best = max(scores, key=lambda name: sign * scores[name])  # max keeps the first of a tie
    return Choice(best, metric.name, metric.higher_is_better, scores, seeds, unscored)
