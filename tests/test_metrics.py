from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from intermodal.metrics import (
    METRICS,
    PRIMARY,
    SENTIMENT,
    Metric,
    acc2_nonneg,
    acc2_nonzero,
    acc5,
    acc7,
    accuracy,
    accuracy_from_confusion,
    auroc,
    balanced_accuracy,
    confusion_matrix,
    f1_nonneg,
    f1_nonzero,
    macro_f1,
    macro_f1_from_confusion,
    mae,
    mean_average_precision,
    metric_info,
    micro_f1,
    multilabel_macro_f1,
    pearson_r,
    r2,
    rmse,
    score,
    subset_accuracy,
)

RTOL = 1e-12


def close(value: float, reference: float) -> bool:
    return math.isclose(value, float(reference), rel_tol=RTOL, abs_tol=1e-15)


def test_metrics_match_a_loop_reference() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (200,), generator=generator)
    pred = torch.where(
        torch.rand(200, generator=generator) < 0.6,
        target,
        torch.randint(0, 4, (200,), generator=generator),
    )
    pred[pred == 3] = 2  # class 3 is never predicted
    confusion = confusion_matrix(pred, target, 4)
    for i in range(4):
        for j in range(4):
            assert confusion[i, j] == sum(
                int(t == i and p == j) for t, p in zip(target, pred, strict=True)
            )
    assert (
        accuracy_from_confusion(confusion)
        == sum(int(t == p) for t, p in zip(target, pred, strict=True)) / 200
    )
    f1s = []
    for c in range(4):
        tp = sum(int(t == c and p == c) for t, p in zip(target, pred, strict=True))
        fp = sum(int(t != c and p == c) for t, p in zip(target, pred, strict=True))
        fn = sum(int(t == c and p != c) for t, p in zip(target, pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    assert abs(macro_f1_from_confusion(confusion) - sum(f1s) / 4) < 1e-12


# ----------------------------------------------------------------------------------------------
# Classification


def _classification_data(seed: int, n: int = 300, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits on a coarse grid (many ties) that agree with the labels more often than chance."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, (n,), generator=generator)
    logits = torch.randint(0, 3, (n, k), generator=generator).double()
    logits[torch.arange(n), labels] += torch.randint(0, 2, (n,), generator=generator).double()
    return logits, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_scikit_learn(seed: int) -> None:
    logits, labels = _classification_data(seed)
    logits[:, 4] -= 10  # class 4 is never predicted, but occurs in the targets
    pred = logits.argmax(dim=1).numpy()
    y = labels.numpy()
    assert close(accuracy(logits, labels), accuracy_score(y, pred))
    assert close(macro_f1(logits, labels), f1_score(y, pred, average="macro"))
    assert close(balanced_accuracy(logits, labels), balanced_accuracy_score(y, pred))


def test_classification_metrics_skip_classes_absent_from_the_targets() -> None:
    logits, labels = _classification_data(3)
    labels[labels == 2] = 0  # class 2 may be predicted but never occurs in the targets
    pred = logits.argmax(dim=1).numpy()
    y = labels.numpy()
    assert (pred == 2).any()
    assert close(macro_f1(logits, labels), f1_score(y, pred, average="macro"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        reference = balanced_accuracy_score(y, pred)
    assert close(balanced_accuracy(logits, labels), reference)
    probabilities = torch.softmax(logits, dim=1).numpy()
    per_class = [roc_auc_score(y == c, probabilities[:, c]) for c in (0, 1, 3, 4)]
    assert close(auroc(logits, labels), np.mean(per_class))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_matches_scikit_learn_with_ties(seed: int) -> None:
    logits, labels = _classification_data(seed)
    probabilities = torch.softmax(logits, dim=1)
    assert len(np.unique(probabilities[:, 0].numpy())) < len(labels) // 3  # many tied scores
    reference = roc_auc_score(labels.numpy(), probabilities.numpy(), multi_class="ovr")
    assert close(auroc(logits, labels), reference)
    assert close(auroc(probabilities.numpy(), labels.numpy(), from_logits=False), reference)


def test_auroc_binary_is_the_auroc_of_class_one() -> None:
    logits, labels = _classification_data(4, k=2)
    probabilities = torch.softmax(logits, dim=1)
    reference = roc_auc_score(labels.numpy(), probabilities[:, 1].numpy())
    assert close(auroc(logits, labels), reference)
    # the mean of the two one-vs-rest AUROCs is the same number
    ovr = [roc_auc_score(labels.numpy() == c, probabilities[:, c].numpy()) for c in (0, 1)]
    assert close(reference, np.mean(ovr))
    only_class_zero = torch.zeros_like(labels)
    assert math.isnan(auroc(logits, only_class_zero))


def test_auroc_counts_a_tie_as_one_half() -> None:
    scores = torch.tensor([[0.0, 0.2], [0.0, 0.2], [0.0, 0.9], [0.0, 0.1]])
    labels = torch.tensor([1, 0, 1, 0])
    # positive pairs: (0.2 vs 0.2) = 1/2, (0.2 vs 0.1) = 1, (0.9 vs 0.2) = 1, (0.9 vs 0.1) = 1
    assert close(auroc(scores, labels, from_logits=False), 3.5 / 4)


# ----------------------------------------------------------------------------------------------
# Multilabel


def _multilabel_data(seed: int, n: int = 200, k: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    targets = (torch.rand(n, k, generator=generator) < 0.3).long()
    logits = torch.randint(-4, 4, (n, k), generator=generator).double() / 2
    logits += targets * torch.randint(0, 3, (n, k), generator=generator).double() / 2
    targets[:, 5] = 0  # a label with no positive target
    logits[:, 5] = -3.0  # ... and no positive prediction
    targets[:, 4] = 0  # a label with predicted positives but no positive target
    return logits, targets


@pytest.mark.parametrize(("seed", "threshold"), [(0, 0.5), (1, 0.5), (2, 0.7), (3, 0.3)])
def test_multilabel_f1_and_subset_accuracy_match_scikit_learn(seed: int, threshold: float) -> None:
    logits, targets = _multilabel_data(seed)
    pred = (torch.sigmoid(logits) >= threshold).numpy()
    y = targets.numpy()
    assert close(
        micro_f1(logits, targets, threshold=threshold),
        f1_score(y, pred, average="micro", zero_division=np.nan),
    )
    assert close(
        multilabel_macro_f1(logits, targets, threshold=threshold),
        f1_score(y, pred, average="macro", zero_division=np.nan),
    )
    assert close(subset_accuracy(logits, targets, threshold=threshold), accuracy_score(y, pred))


def test_multilabel_default_threshold_is_one_half() -> None:
    logits, targets = _multilabel_data(5)
    logits[0, 0] = 0.0  # probability exactly 0.5 counts as predicted
    pred = (logits >= 0).numpy()
    y = targets.numpy()
    assert close(micro_f1(logits, targets), f1_score(y, pred, average="micro"))
    assert close(subset_accuracy(logits, targets), accuracy_score(y, pred))


def test_multilabel_f1_is_nan_without_any_positive() -> None:
    logits = -torch.ones(4, 3)
    targets = torch.zeros(4, 3)
    assert math.isnan(micro_f1(logits, targets))
    assert math.isnan(multilabel_macro_f1(logits, targets))
    assert subset_accuracy(logits, targets) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_average_precision_matches_scikit_learn_with_ties(seed: int) -> None:
    logits, targets = _multilabel_data(seed)
    assert len(np.unique(logits[:, 0].numpy())) < 15  # many tied scores
    with_positives = targets.any(dim=0).numpy()
    assert not with_positives.all()
    reference = average_precision_score(
        targets.numpy()[:, with_positives], logits.numpy()[:, with_positives], average="macro"
    )
    assert close(mean_average_precision(logits, targets), reference)
    # bool targets and float32 logits agree with the float64 computation on the same values
    assert close(mean_average_precision(logits.float(), targets.bool()), reference)


def test_average_precision_by_hand() -> None:
    scores = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
    targets = torch.tensor([[1], [0], [1], [0]])
    # steps: score 0.9 -> P = 1, R = 1/2; score 0.5 (two tied samples) -> P = 2/3, R = 1
    assert close(mean_average_precision(scores, targets), 0.5 * 1 + 0.5 * 2 / 3)


# ----------------------------------------------------------------------------------------------
# Regression


def _regression_data(seed: int, n: int = 150, t: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(n, t)) * np.array([1.0, 10.0, 0.1])[:t]
    outputs = targets + rng.normal(size=(n, t))
    return outputs, targets


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_match_scikit_learn_and_scipy_on_several_targets(seed: int) -> None:
    outputs, targets = _regression_data(seed)
    assert close(mae(outputs, targets), mean_absolute_error(targets, outputs))
    per_column_mse = mean_squared_error(targets, outputs, multioutput="raw_values")
    assert close(rmse(outputs, targets), np.mean(np.sqrt(per_column_mse)))
    correlations = [pearsonr(outputs[:, j], targets[:, j]).statistic for j in range(3)]
    assert close(pearson_r(outputs, targets), np.mean(correlations))
    assert close(r2(outputs, targets), r2_score(targets, outputs))
    assert close(
        r2(torch.from_numpy(outputs), torch.from_numpy(targets)), r2_score(targets, outputs)
    )


@pytest.mark.parametrize("output_shape", ["(N,)", "(N, 1)"])
def test_regression_metrics_on_one_target(output_shape: str) -> None:
    outputs, targets = _regression_data(2, t=1)
    y, y_hat = targets[:, 0], outputs[:, 0]
    model_outputs = torch.from_numpy(y_hat if output_shape == "(N,)" else outputs)
    true = torch.from_numpy(y)
    assert close(mae(model_outputs, true), mean_absolute_error(y, y_hat))
    assert close(rmse(model_outputs, true), np.sqrt(mean_squared_error(y, y_hat)))
    assert close(pearson_r(model_outputs, true), pearsonr(y_hat, y).statistic)
    assert close(r2(model_outputs, true), r2_score(y, y_hat))


def test_pearson_r_and_r2_are_nan_on_a_constant_column() -> None:
    outputs, targets = _regression_data(3)
    constant_outputs = outputs.copy()
    constant_outputs[:, 1] = 0.1
    assert math.isnan(pearson_r(constant_outputs, targets))
    assert not math.isnan(r2(constant_outputs, targets))
    constant_targets = targets.copy()
    constant_targets[:, 0] = 0.1
    assert math.isnan(pearson_r(outputs, constant_targets))
    assert math.isnan(r2(outputs, constant_targets))


# ----------------------------------------------------------------------------------------------
# Sentiment


def test_sentiment_metrics_by_hand() -> None:
    targets = torch.tensor([-2.2, -0.3, 0.0, 0.0, 1.2, 2.6, 1.5, 2.5])
    outputs = torch.tensor([[-1.6], [-0.1], [-0.2], [0.0], [1.6], [3.4], [-0.5], [2.2]])
    # negative vs non-negative (>= 0), all 8 samples:
    #   true [-, -, +, +, +, +, +, +], pred [-, -, -, +, +, +, -, +]: 6 of 8 right;
    #   class + (6 samples): TP 4, FP 0, FN 2 -> F1 4/5; class - (2): TP 2, FP 2, FN 0 -> 2/3
    assert close(acc2_nonneg(outputs, targets), 6 / 8)
    assert close(f1_nonneg(outputs, targets), (6 * 4 / 5 + 2 * 2 / 3) / 8)
    # negative vs positive (> 0), the two samples with true score 0 left out:
    #   true [-, -, +, +, +, +], pred [-, -, +, +, -, +]: 5 of 6 right;
    #   class + (4): TP 3, FP 0, FN 1 -> 6/7; class - (2): TP 2, FP 1, FN 0 -> 4/5
    assert close(acc2_nonzero(outputs, targets), 5 / 6)
    assert close(f1_nonzero(outputs, targets), (4 * 6 / 7 + 2 * 4 / 5) / 6)
    # Acc-7: true [-2, 0, 0, 0, 1, 3, 2, 2] (1.5 and 2.5 round to 2), pred [-2, 0, 0, 0, 2, 3, 0,
    # 2] (3.4 clipped to 3, -0.5 rounds to 0): 6 of 8 right
    assert close(acc7(outputs, targets), 6 / 8)
    # Acc-5: true [-2, 0, 0, 0, 1, 2, 2, 2], pred [-2, 0, 0, 0, 2, 2, 0, 2]
    assert close(acc5(outputs, targets), 6 / 8)

    y, y_hat = targets.numpy(), outputs[:, 0].numpy()
    assert close(f1_nonneg(outputs, targets), f1_score(y >= 0, y_hat >= 0, average="weighted"))
    keep = y != 0
    assert close(
        f1_nonzero(outputs, targets), f1_score(y[keep] > 0, y_hat[keep] > 0, average="weighted")
    )


def test_acc2_nonzero_is_nan_when_every_true_score_is_zero() -> None:
    assert math.isnan(acc2_nonzero(torch.tensor([0.3, -0.2]), torch.zeros(2)))
    assert math.isnan(f1_nonzero(torch.tensor([0.3, -0.2]), torch.zeros(2)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sentiment_metrics_match_scikit_learn_on_random_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    targets = np.round(rng.uniform(-3.4, 3.4, size=400) * 3) / 3  # annotator means, zeros too
    outputs = np.clip(targets + rng.normal(scale=1.0, size=400), -3.5, 3.5)
    outputs[:5] = 0.0
    assert (targets == 0).sum() > 5
    assert close(acc2_nonneg(outputs, targets), accuracy_score(targets >= 0, outputs >= 0))
    assert close(
        f1_nonneg(outputs, targets), f1_score(targets >= 0, outputs >= 0, average="weighted")
    )
    keep = targets != 0
    true_sign, pred_sign = targets[keep] > 0, outputs[keep] > 0
    assert close(acc2_nonzero(outputs, targets), accuracy_score(true_sign, pred_sign))
    assert close(f1_nonzero(outputs, targets), f1_score(true_sign, pred_sign, average="weighted"))
    for metric, bound in ((acc7, 3.0), (acc5, 2.0)):
        reference = np.mean(
            np.round(np.clip(outputs, -bound, bound)) == np.round(np.clip(targets, -bound, bound))
        )
        assert close(metric(outputs, targets), reference)


# ----------------------------------------------------------------------------------------------
# Validation


def test_shapes_that_do_not_match_name_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4,\)"):
        accuracy(torch.zeros(5, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(5, 2\)"):
        micro_f1(torch.zeros(5, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"\(5, 2\).*\(5,\)"):
        mae(torch.zeros(5, 2), torch.zeros(5))
    with pytest.raises(ValueError, match="one score per sample"):
        acc7(torch.zeros(5, 2), torch.zeros(5, 2))


def test_empty_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="no samples"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="no samples"):
        mae(np.zeros(0), np.zeros(0))


@pytest.mark.parametrize("task", ["classification", "multilabel", "regression"])
def test_nan_outputs_are_reported(task: str) -> None:
    outputs = torch.zeros(4, 3)
    outputs[1, 2] = float("nan")
    targets = {
        "classification": torch.tensor([0, 1, 2, 0]),
        "multilabel": torch.zeros(4, 3),
        "regression": torch.zeros(4, 3),
    }[task]
    with pytest.raises(ValueError, match="the model produced NaN outputs"):
        score(task, outputs, targets)


def test_invalid_targets_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be 0 or 1"):
        micro_f1(torch.zeros(3, 2), torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"integers in 0\.\.2"):
        accuracy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="targets contain NaN"):
        mae(torch.zeros(2), torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="threshold"):
        micro_f1(torch.zeros(2, 2), torch.zeros(2, 2), threshold=1.0)


def test_unknown_task_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown task 'ranking'.*classification"):
        score("ranking", torch.zeros(2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="unknown task"):
        metric_info("ranking", "accuracy")
    with pytest.raises(ValueError, match="regression"):
        score("classification", torch.zeros(2, 2), torch.zeros(2), sentiment=True)


def test_numpy_and_torch_inputs_agree() -> None:
    logits, labels = _classification_data(6)
    for name in METRICS["classification"]:
        by_torch = metric_info("classification", name).compute(logits.float(), labels)
        by_numpy = metric_info("classification", name).compute(logits.numpy(), labels.numpy())
        assert by_torch == by_numpy
    outputs = torch.randn(10, 1, requires_grad=True)
    assert isinstance(mae(outputs, torch.zeros(10)), float)


# ----------------------------------------------------------------------------------------------
# Registry


def test_registry_lists_every_metric_with_its_direction() -> None:
    assert list(METRICS) == ["classification", "multilabel", "regression"]
    assert list(METRICS["classification"]) == [
        "accuracy",
        "macro_f1",
        "balanced_accuracy",
        "auroc",
    ]
    assert list(METRICS["multilabel"]) == [
        "micro_f1",
        "macro_f1",
        "subset_accuracy",
        "mean_average_precision",
    ]
    assert list(METRICS["regression"]) == ["mae", "rmse", "pearson_r", "r2"]
    assert SENTIMENT == ("acc2_nonneg", "f1_nonneg", "acc2_nonzero", "f1_nonzero", "acc7", "acc5")
    for task, name in PRIMARY.items():
        assert name in METRICS[task]
    assert PRIMARY == {"classification": "accuracy", "multilabel": "micro_f1", "regression": "mae"}
    lower_is_better = {"mae", "rmse"}
    for task, metrics in METRICS.items():
        for name, metric in metrics.items():
            assert isinstance(metric, Metric)
            assert metric.name == name and metric.task == task
            assert metric.higher_is_better == (name not in lower_is_better)
            assert metric.description and "\n" not in metric.description
    for name in SENTIMENT:
        metric = metric_info("regression", name, sentiment=True)
        assert metric.task == "regression" and metric.higher_is_better


def test_metric_info_unknown_name_lists_available_names() -> None:
    assert metric_info("multilabel", "macro_f1").compute is multilabel_macro_f1
    assert metric_info("classification", "macro_f1").compute is macro_f1
    with pytest.raises(KeyError, match="available: accuracy, macro_f1, balanced_accuracy, auroc"):
        metric_info("classification", "precision")
    with pytest.raises(KeyError, match="sentiment=True"):
        metric_info("regression", "acc7")


def test_score_computes_every_metric_of_the_task() -> None:
    logits, labels = _classification_data(7)
    results = score("classification", logits, labels)
    assert list(results) == list(METRICS["classification"])
    assert results["auroc"] == auroc(logits, labels)

    ml_logits, ml_targets = _multilabel_data(7)
    results = score("multilabel", ml_logits, ml_targets, threshold=0.7)
    assert list(results) == list(METRICS["multilabel"])
    assert results["micro_f1"] == micro_f1(ml_logits, ml_targets, threshold=0.7)
    assert results["micro_f1"] != micro_f1(ml_logits, ml_targets)

    targets = torch.linspace(-3, 3, 50)
    outputs = (targets + 0.5 * torch.sin(7 * targets)).unsqueeze(1)
    results = score("regression", outputs, targets, sentiment=True)
    assert list(results) == [*METRICS["regression"], *SENTIMENT]
    assert results["acc7"] == acc7(outputs, targets)
    assert list(score("regression", outputs, targets)) == list(METRICS["regression"])
