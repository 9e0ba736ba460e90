"""Which differences on a leaderboard are real: confidence intervals and paired tests against the
best method, from every run's test outputs.

With at least five seeds the seeds are the samples: a Student t interval over the per-seed
scores and a paired t-test on the per-seed differences with the best method. With fewer seeds
the test samples are: a percentile bootstrap over test samples, the same resampled indices for
every method (so the comparison is paired), the score averaged over seeds in each replicate.

Under K-fold cross-validation (``--cv K``, see :mod:`intermodal.bench.crossval`) the replicates
are the J = K x seeds (fold, seed) runs, whose training sets overlap, so their scores are
correlated and the plain t-test's variance ``s^2 / J`` is too small. The corrected resampled
t-test of Nadeau & Bengio ("Inference for the Generalization Error", Machine Learning 52, 2003)
replaces it by ``(1/J + n_test/n_train) s^2`` and keeps J - 1 degrees of freedom (for repeated
K-fold cross-validation, Bouckaert & Frank, "Evaluating the Replicability of Significance Tests
for Comparing Learning Algorithms", PAKDD 2004): :func:`corrected_t`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from intermodal.metrics import Metric

REPLICATES = 1000
"""Bootstrap replicates (the p-value resolution is about 1 / REPLICATES)."""
MIN_SEEDS = 5
"""From this many seeds on, intervals and tests are over seeds instead of test samples."""
ALPHA = 0.05
"""Level of the intervals (95%) and of the test that marks a method as tied with the best."""

CORRECTED = "corrected resampled t over folds x seeds"
"""``Significance.method`` and ``Difference.method`` under K-fold cross-validation."""

PerSample = Callable[[Tensor, Tensor], Tensor]


def _accuracy(outputs: Tensor, targets: Tensor) -> Tensor:
    return (outputs.argmax(dim=1) == targets).double()


def _absolute_error(outputs: Tensor, targets: Tensor) -> Tensor:
    values = outputs.reshape(targets.shape).double() - targets.double()
    return values.abs().reshape(len(values), -1).mean(dim=1)


PER_SAMPLE: dict[str, PerSample] = {"accuracy": _accuracy, "mae": _absolute_error}
"""Metrics that are means of a per-sample quantity, bootstrapped by resampling that quantity
(much faster than recomputing the metric on each replicate)."""


@dataclass(frozen=True)
class Significance:
    """Per method: the interval ``(low, high)`` of its mean score, the p-value of a paired test
    against the best method (1 for the best itself) and whether it is tied with the best
    (p >= ``ALPHA``). ``method`` says how: ``t over seeds`` or ``bootstrap over test
    samples``, or :data:`CORRECTED` (folds x seeds under cross-validation)."""

    low: dict[str, float]
    high: dict[str, float]
    p_value: dict[str, float]
    tied: dict[str, bool]
    best: str
    method: str


def _replicate_scores(
    outputs: Mapping[str, Sequence[Tensor]],
    targets: Sequence[Tensor],
    metric: Metric,
    replicates: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """``{method: (replicates,)}`` scores averaged over seeds, on shared resampled indices."""
    rng = np.random.default_rng(seed)
    indices = [rng.integers(0, len(y), size=(replicates, len(y))) for y in targets]
    per_sample = PER_SAMPLE.get(metric.name)
    result = {}
    for name, runs in outputs.items():
        total = np.zeros(replicates)
        for out, y, index in zip(runs, targets, indices, strict=True):
            if per_sample is not None:
                values = per_sample(out, y).numpy()
                total += values[index].mean(axis=1)
            else:
                total += np.array(
                    [
                        metric.compute(out[torch.from_numpy(i)], y[torch.from_numpy(i)])
                        for i in index
                    ]
                )
        result[name] = total / len(runs)
    return result


@dataclass(frozen=True)
class CorrectedT:
    """The corrected resampled t statistics of J replicate values (scores, or paired
    differences): their ``mean``, the corrected variance of the mean
    ``(1/J + n_test/n_train) s^2`` (``variance``), the 95% interval ``(low, high)`` of the mean
    and the two-sided p-value of a zero mean, on a t distribution with J - 1 degrees of
    freedom."""

    mean: float
    variance: float
    low: float
    high: float
    p_value: float


def corrected_t(values: Sequence[float] | np.ndarray, test_train_ratio: float) -> CorrectedT:
    """The corrected resampled t-test of Nadeau & Bengio (2003) over J replicates whose training
    sets overlap (the folds x seeds of repeated K-fold cross-validation).

    With the replicate values ``x_j`` (a method's score on each (seed, fold), or the difference
    of two methods' scores), ``s^2`` their sample variance (ddof 1) and ``n_test / n_train`` the
    ratio of test to training samples of one replicate, the variance of the mean is
    ``(1/J + n_test/n_train) s^2`` instead of ``s^2 / J``; the statistic
    ``mean / sqrt(variance)`` is compared with Student's t with ``J - 1`` degrees of freedom.

    Args:
        values: ``(J,)`` replicate values, J >= 2.
        test_train_ratio: ``n_test / n_train`` of one replicate (about ``1 / (K - 1)`` for K
            folds; the training samples are those a model is given, its inner validation
            part included).

    A set of values with no spread is a point: its interval is the mean itself, and its
    p-value is 1 for a zero mean and 0 otherwise.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"the corrected t-test needs at least 2 replicates, got {x.shape}")
    if not test_train_ratio > 0:
        raise ValueError(f"n_test / n_train must be positive, got {test_train_ratio}")
    count = len(x)
    mean = float(x.mean())
    variance = (1.0 / count + test_train_ratio) * float(x.var(ddof=1))
    if variance == 0:
        return CorrectedT(mean, 0.0, mean, mean, 1.0 if mean == 0 else 0.0)
    scale = float(np.sqrt(variance))
    half = float(stats.t.ppf(1 - ALPHA / 2, df=count - 1)) * scale
    p_value = float(2 * stats.t.sf(abs(mean) / scale, df=count - 1))
    return CorrectedT(mean, variance, mean - half, mean + half, p_value)


def significance(
    outputs: Mapping[str, Sequence[Tensor]],
    targets: Sequence[Tensor],
    metric: Metric,
    replicates: int = REPLICATES,
    seed: int = 0,
    test_train_ratio: float | None = None,
) -> Significance:
    """Intervals and paired tests for methods evaluated on the same test splits.

    Args:
        outputs: method -> its test outputs per seed (``(N_s, K)`` logits or values), in seed
            order; every method has the same seeds. Under cross-validation, per (seed, fold)
            replicate.
        targets: the test targets of each seed's split (or of each replicate).
        metric: the leaderboard's metric (its direction decides which method is best).
        replicates: bootstrap replicates (fewer than ``MIN_SEEDS`` seeds).
        seed: seeds the bootstrap.
        test_train_ratio: under K-fold cross-validation, ``n_test / n_train`` of a replicate:
            the intervals and the paired tests are then the corrected resampled t over the
            replicates (:func:`corrected_t`), whatever their number.
    """
    seeds = len(targets)
    if any(len(runs) != seeds for runs in outputs.values()):
        raise ValueError("every method needs test outputs for every seed")
    per_seed = {
        name: np.array([metric.compute(out, y) for out, y in zip(runs, targets, strict=True)])
        for name, runs in outputs.items()
    }
    sign = 1.0 if metric.higher_is_better else -1.0
    best = max(per_seed, key=lambda name: sign * per_seed[name].mean())
    low, high, p_value = {}, {}, {}
    if test_train_ratio is not None:
        how = CORRECTED
        for name, values in per_seed.items():
            interval = corrected_t(values, test_train_ratio)
            low[name], high[name] = interval.low, interval.high
            paired = corrected_t(per_seed[best] - values, test_train_ratio)
            p_value[name] = 1.0 if name == best else paired.p_value
    elif seeds >= MIN_SEEDS:
        how = "t over seeds"
        quantile = stats.t.ppf(1 - ALPHA / 2, df=seeds - 1)
        for name, values in per_seed.items():
            half = quantile * values.std(ddof=1) / np.sqrt(seeds)
            low[name], high[name] = values.mean() - half, values.mean() + half
            difference = per_seed[best] - values
            if name == best or not np.any(difference != 0):
                p_value[name] = 1.0
            else:
                p_value[name] = float(stats.ttest_rel(per_seed[best], values).pvalue)
    else:
        how = "bootstrap over test samples"
        boot = _replicate_scores(outputs, targets, metric, replicates, seed)
        for name, values in boot.items():
            low[name] = float(np.quantile(values, ALPHA / 2))
            high[name] = float(np.quantile(values, 1 - ALPHA / 2))
            difference = sign * (boot[best] - values)
            if name == best:
                p_value[name] = 1.0
                continue
            at_most_zero = int(np.sum(difference <= 0))
            at_least_zero = int(np.sum(difference >= 0))
            tail = min(at_most_zero, at_least_zero)
            p_value[name] = min(1.0, 2 * (tail + 1) / (replicates + 1))
    tied = {name: p_value[name] >= ALPHA for name in per_seed}
    return Significance(
        {k: float(v) for k, v in low.items()},
        {k: float(v) for k, v in high.items()},
        p_value,
        tied,
        best,
        how,
    )


@dataclass(frozen=True)
class Difference:
    """The paired difference ``a - b`` between two methods' mean test scores on the same test
    samples and seeds: ``estimate`` (the mean over seeds of the per-seed differences), the 95%
    interval ``(low, high)`` of it, the two-sided p-value of no difference, and ``method``
    (``t over seeds``, ``bootstrap over test samples`` or :data:`CORRECTED`, as
    :func:`significance` decides)."""

    estimate: float
    low: float
    high: float
    p_value: float
    method: str


def paired_difference(
    a: Sequence[Tensor],
    b: Sequence[Tensor],
    targets: Sequence[Tensor],
    metric: Metric,
    replicates: int = REPLICATES,
    seed: int = 0,
    test_train_ratio: float | None = None,
) -> Difference:
    """The paired test between two specific methods (``p_vs_best`` tests each against the best
    only), with :func:`significance`'s rule and resampling: from ``MIN_SEEDS`` seeds on, a t
    interval of the per-seed differences and a paired t-test; with fewer, the percentile
    bootstrap over test samples on the same resampled indices as :func:`significance` with
    this ``seed`` (so against the best method its p-value is ``p_vs_best``).

    Args:
        a, b: each method's test outputs per seed (``(N_s, K)`` logits or values), in the order
            of ``targets``.
        targets: the test targets of each seed's split.
        metric: the metric compared (the difference is in its units, ``a - b``: positive means
            ``a`` scores higher, whatever the metric's direction).
        test_train_ratio: under K-fold cross-validation (the outputs and targets are then per
            (seed, fold) replicate), ``n_test / n_train`` of a replicate: the interval and the
            p-value are the corrected resampled t-test (:func:`corrected_t`) on the
            per-replicate differences.
    """
    seeds = len(targets)
    if len(a) != seeds or len(b) != seeds:
        raise ValueError("both methods need test outputs for every seed")
    score_a = np.array([metric.compute(out, y) for out, y in zip(a, targets, strict=True)])
    score_b = np.array([metric.compute(out, y) for out, y in zip(b, targets, strict=True)])
    estimate = float(score_a.mean() - score_b.mean())
    if test_train_ratio is not None:
        paired = corrected_t(score_a - score_b, test_train_ratio)
        return Difference(estimate, paired.low, paired.high, paired.p_value, CORRECTED)
    if seeds >= MIN_SEEDS:
        difference = score_a - score_b
        spread = difference.std(ddof=1)
        if spread == 0:  # the same difference on every seed: a point, and no doubt unless zero
            p_value = 1.0 if estimate == 0 else 0.0
            return Difference(estimate, estimate, estimate, p_value, "t over seeds")
        half = stats.t.ppf(1 - ALPHA / 2, df=seeds - 1) * spread / np.sqrt(seeds)
        p_value = float(stats.ttest_rel(score_a, score_b).pvalue)
        return Difference(estimate, estimate - half, estimate + half, p_value, "t over seeds")
    boot = _replicate_scores({"a": a, "b": b}, targets, metric, replicates, seed)
    difference = boot["a"] - boot["b"]
    tail = min(int(np.sum(difference <= 0)), int(np.sum(difference >= 0)))
    return Difference(
        estimate,
        float(np.quantile(difference, ALPHA / 2)),
        float(np.quantile(difference, 1 - ALPHA / 2)),
        min(1.0, 2 * (tail + 1) / (replicates + 1)),
        "bootstrap over test samples",
    )
