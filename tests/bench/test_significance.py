"""Intervals and paired tests of the leaderboard, against references computed here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from intermodal.bench.significance import significance
from intermodal.metrics import macro_f1, metric_info

ACCURACY = metric_info("classification", "accuracy")


def logits_with_accuracy(targets: torch.Tensor, correct: np.ndarray) -> torch.Tensor:
    """Logits of 3 classes that predict the target where ``correct`` and the next class
    elsewhere."""
    predicted = torch.where(torch.from_numpy(correct), targets, (targets + 1) % 3)
    return torch.nn.functional.one_hot(predicted, 3).double()


def test_with_five_seeds_the_interval_and_test_are_over_seeds() -> None:
    rng = np.random.default_rng(0)
    targets = [torch.from_numpy(rng.integers(0, 3, 50)) for _ in range(5)]
    rates = {"good": 0.9, "close": 0.88, "poor": 0.5}
    outputs = {
        name: [logits_with_accuracy(y, rng.random(50) < rate) for y in targets]
        for name, rate in rates.items()
    }
    result = significance(outputs, targets, ACCURACY)
    assert result.method == "t over seeds"
    per_seed = {
        name: np.array(
            [float((o.argmax(1) == y).double().mean()) for o, y in zip(runs, targets, strict=True)]
        )
        for name, runs in outputs.items()
    }
    best = max(per_seed, key=lambda k: per_seed[k].mean())
    assert result.best == best
    for name, values in per_seed.items():
        low, high = stats.t.interval(
            0.95, df=4, loc=values.mean(), scale=values.std(ddof=1) / np.sqrt(5)
        )
        assert (result.low[name], result.high[name]) == pytest.approx((low, high))
        expected = 1.0 if name == best else stats.ttest_rel(per_seed[best], values).pvalue
        assert result.p_value[name] == pytest.approx(expected)
    assert result.tied["poor"] is False and result.tied[best] is True


def test_with_few_seeds_a_paired_bootstrap_over_test_samples() -> None:
    rng = np.random.default_rng(1)
    targets = [torch.from_numpy(rng.integers(0, 3, 80)) for _ in range(2)]
    correct = [rng.random(80) < 0.8 for _ in range(2)]
    outputs = {
        "a": [logits_with_accuracy(y, c) for y, c in zip(targets, correct, strict=True)],
        "same": [logits_with_accuracy(y, c) for y, c in zip(targets, correct, strict=True)],
        "worse": [logits_with_accuracy(y, rng.random(80) < 0.3) for y in targets],
    }
    replicates = 200
    result = significance(outputs, targets, ACCURACY, replicates=replicates, seed=7)
    assert result.method == "bootstrap over test samples"
    # the reference: the same generator draws one index matrix per seed, shared by the methods
    reference = np.random.default_rng(7)
    indices = [reference.integers(0, 80, size=(replicates, 80)) for _ in targets]
    boot = {}
    for name, runs in outputs.items():
        values = np.zeros(replicates)
        for b in range(replicates):
            values[b] = np.mean(
                [
                    float((runs[s].argmax(1)[i] == targets[s][i]).double().mean())
                    for s, i in enumerate(index[b] for index in indices)
                ]
            )
        boot[name] = values
    for name, values in boot.items():
        assert result.low[name] == pytest.approx(np.quantile(values, 0.025))
        assert result.high[name] == pytest.approx(np.quantile(values, 0.975))
    assert result.p_value["same"] == 1.0 and result.tied["same"]
    difference = boot[result.best] - boot["worse"]
    tail = min(np.sum(difference <= 0), np.sum(difference >= 0))
    assert result.p_value["worse"] == pytest.approx(min(1.0, 2 * (tail + 1) / (replicates + 1)))
    assert not result.tied["worse"]


def test_a_metric_without_a_per_sample_form_is_recomputed_on_each_replicate() -> None:
    rng = np.random.default_rng(2)
    targets = [torch.from_numpy(rng.integers(0, 3, 40))]
    outputs = {"a": [torch.randn(40, 3, dtype=torch.float64)], "b": [torch.randn(40, 3)]}
    metric = metric_info("classification", "macro_f1")
    result = significance(outputs, targets, metric, replicates=50, seed=3)
    reference = np.random.default_rng(3)
    index = reference.integers(0, 40, size=(50, 40))
    values = [macro_f1(outputs["a"][0][i], targets[0][i]) for i in index]
    assert result.low["a"] == pytest.approx(np.quantile(values, 0.025))


def test_lower_is_better_metrics_pick_the_smallest_error() -> None:
    targets = [torch.linspace(-1, 1, 30) for _ in range(2)]
    outputs = {
        "exact": [y[:, None] + 0.01 for y in targets],
        "off": [y[:, None] + 1.0 for y in targets],
    }
    result = significance(outputs, targets, metric_info("regression", "mae"), replicates=100)
    assert result.best == "exact" and not result.tied["off"]


def test_every_method_needs_every_seed() -> None:
    with pytest.raises(ValueError, match="every seed"):
        significance({"a": [torch.zeros(3, 2)]}, [torch.zeros(3), torch.zeros(3)], ACCURACY)
