"""Robust selection: tuning keeps the defaults unless a trial beats them by more than the standard
error of the difference (the one-standard-error rule, taken relative to the defaults).

The best of N trials on a small validation part is chosen partly for its noise: with 80
validation samples the standard error of an accuracy near 0.95 is about 0.024, and the
maximum over eight equally good settings lands a standard error or more above their mean.
Picking it can then lower the test score where the defaults were already good. The rule below
asks the best trial to beat the defaults by more than the noise of their *paired* difference
(the same folds, the same samples, the same initialization seed), so a trial that is only as
good as the defaults does not replace them, while a clear improvement does:

- with K >= 2 folds, the standard error of the mean of the K per-fold differences,
  ``sd(d_k) / sqrt(K)`` (the folds vary the training data, so this includes training noise);
- with one validation part, the jackknife standard error over validation samples of the
  difference of the metric (for a mean metric such as accuracy exactly ``sd(d_i) / sqrt(n)``
  of the per-sample differences; any metric, F1 and AUROC included, works the same way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from intermodal.metrics import Metric

MARGIN = 1.0
"""Standard errors by which the best trial must beat the defaults to replace them."""
MAX_BLOCKS = 1000
"""Leave-one-out blocks of the jackknife: one sample per block up to this many samples, and
this many interleaved blocks beyond."""


def fold_difference(
    best: Sequence[float], default: Sequence[float], higher_is_better: bool
) -> tuple[float, float]:
    """Mean and standard error of the paired per-fold improvements ``best - default`` (sign
    flipped where lower is better, so that positive means better): ``(mean(d), sd(d) /
    sqrt(K))`` with the sample standard deviation (K - 1 in the denominator)."""
    if len(best) != len(default) or len(best) < 2:
        raise ValueError(
            f"a paired difference over folds needs two or more folds of both, got "
            f"{len(best)} and {len(default)}"
        )
    sign = 1.0 if higher_is_better else -1.0
    d = sign * (np.asarray(best, dtype=np.float64) - np.asarray(default, dtype=np.float64))
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def _metric(metric: Metric, outputs: Tensor, targets: Tensor) -> float:
    if metric.uses_threshold:
        return float(metric.compute(outputs, targets, threshold=0.5))
    return float(metric.compute(outputs, targets))


def sample_difference(
    best: Tensor, default: Tensor, targets: Tensor, metric: Metric
) -> tuple[float, float]:
    """The improvement of ``metric`` from ``default`` to ``best`` outputs on one validation part
    (positive means better) and its jackknife standard error over samples.

    With n samples in G = min(n, ``MAX_BLOCKS``) interleaved blocks (sample i in block i mod G)
    and theta_g the difference computed without block g,
    ``se^2 = (G - 1) / G * sum_g (theta_g - mean(theta))^2``.

    Shape:
        best, default: ``(N, K)`` logits or ``(N,)`` / ``(N, T)`` values; targets ``(N, ...)``.
    """
    n = len(targets)
    if n < 2 or len(best) != n or len(default) != n:
        raise ValueError(f"needs two or more samples with both outputs, got {n}")
    sign = 1.0 if metric.higher_is_better else -1.0
    difference = sign * (_metric(metric, best, targets) - _metric(metric, default, targets))
    blocks = min(n, MAX_BLOCKS)
    block = np.arange(n) % blocks
    thetas = np.empty(blocks)
    for g in range(blocks):
        keep = np.flatnonzero(block != g)
        thetas[g] = sign * (
            _metric(metric, best[keep], targets[keep])
            - _metric(metric, default[keep], targets[keep])
        )
    spread = float(((thetas - thetas.mean()) ** 2).sum())
    return difference, math.sqrt((blocks - 1) / blocks * spread)


@dataclass(frozen=True)
class Selection:
    """The outcome of the rule: the ``chosen`` trial, the ``best`` one by mean score, the
    improvement of the best over the defaults (positive: better), its standard error, the
    margin in standard errors, and one sentence on why."""

    chosen: int
    best: int
    difference: float
    standard_error: float
    margin: float
    reason: str


def one_standard_error(
    default: int | None,
    best: int,
    difference: float,
    standard_error: float,
    margin: float = MARGIN,
) -> Selection:
    """Keep ``default`` unless ``best`` improves on it by more than ``margin`` standard errors of
    the paired difference (and by more than nothing); without a usable default trial (failed),
    take ``best``."""
    if margin < 0:
        raise ValueError(f"the margin must be non-negative, got {margin}")
    if default is None:
        return Selection(best, best, math.nan, math.nan, margin, "the default trial failed")
    if best == default:
        return Selection(default, best, 0.0, 0.0, margin, "the defaults scored best on validation")
    if difference > 0 and difference > margin * standard_error:
        reason = (
            f"trial {best} beats the defaults by {difference:.4g}, more than {margin:g} "
            f"standard error(s) of the difference ({standard_error:.4g})"
        )
        return Selection(best, best, difference, standard_error, margin, reason)
    reason = (
        f"the best trial ({best}) beats the defaults by {difference:.4g}, within {margin:g} "
        f"standard error(s) of the difference ({standard_error:.4g}): the defaults are kept"
    )
    return Selection(default, best, difference, standard_error, margin, reason)
