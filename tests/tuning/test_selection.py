"""The selection rule: the paired standard errors it uses and its decisions, against references
computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from intermodal.metrics import metric_info
from intermodal.tuning import fold_difference, one_standard_error
from intermodal.tuning import selection as selection_module
from intermodal.tuning.selection import sample_difference


def reference_fold_rule(best: list[float], default: list[float], higher: bool) -> tuple:
    """Mean and standard error of the paired differences, written out."""
    k = len(best)
    d = [(b - a) if higher else (a - b) for a, b in zip(default, best, strict=True)]
    mean = sum(d) / k
    variance = sum((x - mean) ** 2 for x in d) / (k - 1)
    return mean, math.sqrt(variance / k)


@pytest.mark.parametrize("higher", [True, False])
def test_fold_difference_matches_the_paired_standard_error(higher: bool) -> None:
    rng = np.random.default_rng(0)
    default = rng.uniform(0.7, 0.9, size=5).tolist()
    best = (np.asarray(default) + rng.normal(0.01, 0.02, size=5)).tolist()
    got = fold_difference(best, default, higher)
    assert got == pytest.approx(reference_fold_rule(best, default, higher), rel=1e-12)


def test_the_rule_keeps_the_defaults_within_one_standard_error() -> None:
    # best is ahead on average but not consistently: mean 0.01, standard error 0.0126
    default = [0.80, 0.82, 0.78, 0.81, 0.79]
    best = [0.83, 0.80, 0.81, 0.84, 0.77]
    difference, se = fold_difference(best, default, True)
    assert (difference, se) == pytest.approx(reference_fold_rule(best, default, True))
    assert 0 < difference < se
    kept = one_standard_error(0, 3, difference, se)
    assert kept.chosen == 0 and kept.best == 3 and "defaults are kept" in kept.reason


def test_the_rule_takes_a_consistent_improvement() -> None:
    default = [0.80, 0.82, 0.78, 0.81, 0.79]
    best = [0.84, 0.85, 0.83, 0.84, 0.82]  # +0.036 on average, every fold ahead
    difference, se = fold_difference(best, default, True)
    assert difference > se > 0
    assert one_standard_error(0, 2, difference, se).chosen == 2
    # d = (0.04, 0.03, 0.05, 0.03, 0.03): mean 0.036, sd sqrt(8e-5), se 0.004 (9 of them)
    assert (difference, se) == pytest.approx((0.036, 0.004))
    assert one_standard_error(0, 2, difference, se, margin=8.9).chosen == 2
    assert one_standard_error(0, 2, difference, se, margin=9.1).chosen == 0


def test_lower_is_better_metrics_flip_the_sign() -> None:
    default = [1.0, 1.1, 0.9, 1.05]
    best = [0.8, 0.85, 0.7, 0.8]  # a lower error: an improvement
    difference, se = fold_difference(best, default, higher_is_better=False)
    assert difference > 0
    assert one_standard_error(0, 1, difference, se).chosen == 1
    worse, se = fold_difference(default, best, higher_is_better=False)
    assert worse < 0 and one_standard_error(0, 1, worse, se).chosen == 0


def test_defaults_that_failed_or_won_are_handled() -> None:
    assert one_standard_error(None, 4, math.nan, math.nan).chosen == 4
    assert one_standard_error(0, 0, 0.0, 0.0).chosen == 0
    assert one_standard_error(0, 1, 0.01, 0.0).chosen == 1  # identical on every fold but better
    assert one_standard_error(0, 1, 0.0, 0.0).chosen == 0
    with pytest.raises(ValueError, match="margin"):
        one_standard_error(0, 1, 0.1, 0.01, margin=-1)
    with pytest.raises(ValueError, match="two or more folds"):
        fold_difference([0.5], [0.4], True)


def outputs(correct: np.ndarray, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that predict the target where ``correct`` and another class elsewhere."""
    rng = np.random.default_rng(seed)
    targets = torch.as_tensor(rng.integers(0, classes, size=len(correct)))
    predicted = torch.where(torch.as_tensor(correct), targets, (targets + 1) % classes)
    return torch.nn.functional.one_hot(predicted, classes).double() * 5.0, targets


def test_single_split_standard_error_of_accuracy_is_the_per_sample_one() -> None:
    rng = np.random.default_rng(1)
    n = 80
    best_right = rng.random(n) < 0.9
    default_right = rng.random(n) < 0.85
    best, targets = outputs(best_right, 3, seed=2)
    default, same = outputs(default_right, 3, seed=2)
    assert torch.equal(targets, same)
    accuracy = metric_info("classification", "accuracy")
    difference, se = sample_difference(best, default, targets, accuracy)
    d = best_right.astype(float) - default_right.astype(float)
    assert difference == pytest.approx(d.mean(), abs=1e-12)
    assert se == pytest.approx(d.std(ddof=1) / math.sqrt(n), rel=1e-9)


def reference_jackknife(best, default, targets, compute, blocks: int) -> float:  # type: ignore[no-untyped-def]
    n = len(targets)
    thetas = []
    for g in range(blocks):
        keep = [i for i in range(n) if i % blocks != g]
        thetas.append(compute(best[keep], targets[keep]) - compute(default[keep], targets[keep]))
    mean = sum(thetas) / blocks
    return math.sqrt((blocks - 1) / blocks * sum((t - mean) ** 2 for t in thetas))


def test_single_split_standard_error_of_macro_f1_is_the_jackknife() -> None:
    rng = np.random.default_rng(3)
    best, targets = outputs(rng.random(40) < 0.8, 4, seed=5)
    default, _ = outputs(rng.random(40) < 0.7, 4, seed=5)
    metric = metric_info("classification", "macro_f1")
    difference, se = sample_difference(best, default, targets, metric)
    expected = reference_jackknife(best, default, targets, metric.compute, blocks=40)
    assert se == pytest.approx(expected, rel=1e-9)
    assert difference == pytest.approx(
        metric.compute(best, targets) - metric.compute(default, targets), abs=1e-12
    )


def test_large_validation_parts_use_interleaved_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection_module, "MAX_BLOCKS", 7)
    rng = np.random.default_rng(4)
    values = torch.as_tensor(rng.normal(size=50))
    best = values + torch.as_tensor(rng.normal(0, 0.3, size=50))
    default = values + torch.as_tensor(rng.normal(0, 0.5, size=50))
    metric = metric_info("regression", "rmse")
    difference, se = sample_difference(best, default, values, metric)
    # lower is better: the improvement is default - best
    expected = reference_jackknife(default, best, values, metric.compute, blocks=7)
    assert se == pytest.approx(expected, rel=1e-9)
    assert difference == pytest.approx(
        metric.compute(default, values) - metric.compute(best, values), abs=1e-12
    )
