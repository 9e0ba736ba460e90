"""Metrics of the three task types, a registry of them, and batched prediction (plain PyTorch).

Every metric is a pure function ``metric(outputs, targets) -> float`` on model outputs (logits
for ``classification`` and ``multilabel``, values for ``regression``) and targets, given as torch
tensors or numpy arrays. Inputs are validated, computed in float64 on the CPU, and the result is
a Python float. A metric that is undefined on the given data (no sample left, a constant column)
is ``nan``; invalid inputs raise ``ValueError``.

Tasks and shapes:

- ``classification``: ``outputs`` logits ``(N, K)``, ``targets`` integer labels ``(N,)`` in
  ``0..K-1``. Metrics: ``accuracy``, ``macro_f1``, ``balanced_accuracy``, ``auroc``.
- ``multilabel``: ``outputs`` logits ``(N, K)``, ``targets`` ``(N, K)`` of 0/1. A label is
  predicted when its probability ``sigmoid(logit)`` is at least ``threshold`` (0.5 by default).
  Metrics: ``micro_f1``, ``macro_f1`` (:func:`multilabel_macro_f1`), ``subset_accuracy``,
  ``mean_average_precision``.
- ``regression``: ``targets`` ``(N,)`` or ``(N, T)``; ``outputs`` of the same shape, where
  ``(N, 1)`` and ``(N,)`` are interchangeable. Metrics: ``mae``, ``rmse``, ``pearson_r``, ``r2``.
- sentiment (regression scores in -3..3, the CMU-MOSI / CMU-MOSEI convention): ``acc2_nonneg``,
  ``f1_nonneg``, ``acc2_nonzero``, ``f1_nonzero``, ``acc7``, ``acc5``, reported beside ``mae`` and
  ``pearson_r``.

:data:`METRICS` lists them per task in display order, :data:`PRIMARY` names the one a benchmark
sorts by, and :func:`score` computes all of a task's metrics at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import torch
from torch import Tensor, nn

from intermodal.data.dataset import Batch, MultimodalDataset
from intermodal.errors import UnknownNameError

ArrayLike: TypeAlias = "Tensor | np.ndarray[Any, Any]"

TASKS: tuple[str, ...] = ("classification", "multilabel", "regression")


def confusion_matrix(pred: Tensor, target: Tensor, n_classes: int) -> Tensor:
    """``C[i, j]`` = number of samples of class i predicted as j. ``pred``, ``target``: ``(N,)``."""
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    flat = target.long() * n_classes + pred.long()
    return torch.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy_from_confusion(confusion: Tensor) -> float:
    total = int(confusion.sum())
    return int(confusion.diagonal().sum()) / total if total > 0 else float("nan")


def macro_f1_from_confusion(confusion: Tensor) -> float:
    """Unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN); classes absent from both
    targets and predictions are left out of the mean."""
    confusion = confusion.double()
    tp = confusion.diagonal()
    fp = confusion.sum(dim=0) - tp
    fn = confusion.sum(dim=1) - tp
    denominator = 2 * tp + fp + fn
    seen = denominator > 0
    if not seen.any():
        return float("nan")
    return float((2 * tp[seen] / denominator[seen]).mean())


def _weighted_f1_from_confusion(confusion: Tensor) -> float:
    """Mean over classes of F1 weighted by each class's number of targets (its support);
    ``nan`` when the confusion matrix is empty."""
    confusion = confusion.double()
    support = confusion.sum(dim=1)
    total = support.sum()
    if total == 0:
        return float("nan")
    tp = confusion.diagonal()
    fp = confusion.sum(dim=0) - tp
    present = support > 0  # for these, 2 TP + FP + FN >= support > 0
    f1 = 2 * tp[present] / (2 * tp[present] + fp[present] + (support - tp)[present])
    return float((support[present] * f1).sum() / total)


# ----------------------------------------------------------------------------------------------
# Input validation


def _as_float64(values: ArrayLike, what: str) -> Tensor:
    """``values`` as a float64 CPU tensor without autograd history."""
    if isinstance(values, Tensor):
        if values.is_complex():
            raise TypeError(f"{what} must be real numbers, got a complex tensor")
        return values.detach().to(device="cpu", dtype=torch.float64)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be a torch tensor or a numpy array of numbers, "
            f"got {type(values).__name__}"
        ) from error
    return torch.from_numpy(array.copy())


def _shape(values: Tensor) -> tuple[int, ...]:
    return tuple(values.shape)


def _check_outputs(outputs: Tensor) -> None:
    nan = torch.isnan(outputs)
    if nan.any():
        raise ValueError(
            f"the model produced NaN outputs ({int(nan.sum())} of {outputs.numel()} values); "
            "the training diverged or the inputs contain NaN: lower the learning rate, "
            "check the inputs and the loss"
        )
    infinite = torch.isinf(outputs)
    if infinite.any():
        raise ValueError(
            f"the model produced infinite outputs ({int(infinite.sum())} of "
            f"{outputs.numel()} values); lower the learning rate, check the inputs and the loss"
        )


def _check_targets(targets: Tensor) -> None:
    bad = ~torch.isfinite(targets)
    if bad.any():
        raise ValueError(
            f"targets contain NaN or infinite values ({int(bad.sum())} of {targets.numel()}); "
            "drop or impute those samples before scoring"
        )


def _check_samples(outputs: Tensor, targets: Tensor) -> None:
    if outputs.shape[0] == 0 or targets.shape[0] == 0:
        raise ValueError(
            f"no samples to score: outputs have shape {_shape(outputs)}, "
            f"targets have shape {_shape(targets)}"
        )


def _classification_inputs(outputs: ArrayLike, targets: ArrayLike) -> tuple[Tensor, Tensor]:
    """Logits ``(N, K)`` float64 and labels ``(N,)`` int64, validated."""
    logits, labels = _as_float64(outputs, "outputs"), _as_float64(targets, "targets")
    if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            "classification expects logits (N, K) and integer labels (N,); got outputs of "
            f"shape {_shape(logits)} and targets of shape {_shape(labels)}"
        )
    _check_samples(logits, labels)
    if logits.shape[1] < 2:
        raise ValueError(
            f"classification needs logits for at least 2 classes, got outputs of shape "
            f"{_shape(logits)}; a single score per sample is a regression output"
        )
    _check_outputs(logits)
    _check_targets(labels)
    n_classes = logits.shape[1]
    invalid = (labels != labels.round()) | (labels < 0) | (labels >= n_classes)
    if invalid.any():
        examples = sorted({float(v) for v in labels[invalid][:5]})
        raise ValueError(
            f"classification targets must be integers in 0..{n_classes - 1} (one per logit "
            f"column); found {examples}"
        )
    return logits, labels.long()


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold is a probability in (0, 1), got {threshold}")


def _multilabel_inputs(outputs: ArrayLike, targets: ArrayLike) -> tuple[Tensor, Tensor]:
    """Logits ``(N, K)`` float64 and targets ``(N, K)`` bool, validated."""
    logits, labels = _as_float64(outputs, "outputs"), _as_float64(targets, "targets")
    if logits.ndim != 2 or logits.shape != labels.shape:
        raise ValueError(
            "multilabel expects logits (N, K) and 0/1 targets (N, K) of the same shape; got "
            f"outputs of shape {_shape(logits)} and targets of shape {_shape(labels)}"
        )
    _check_samples(logits, labels)
    if logits.shape[1] == 0:
        raise ValueError(f"multilabel needs at least one label, got shape {_shape(logits)}")
    _check_outputs(logits)
    _check_targets(labels)
    invalid = (labels != 0) & (labels != 1)
    if invalid.any():
        examples = sorted({float(v) for v in labels[invalid][:5]})
        raise ValueError(
            f"multilabel targets must be 0 or 1 (one column per label); found {examples}"
        )
    return logits, labels == 1


def _multilabel_predictions(logits: Tensor, threshold: float) -> Tensor:
    """``sigmoid(logits) >= threshold``, computed as ``logits >= log(t / (1 - t))``."""
    _check_threshold(threshold)
    cut = math.log(threshold) - math.log1p(-threshold)
    return logits >= cut


def _regression_inputs(outputs: ArrayLike, targets: ArrayLike) -> tuple[Tensor, Tensor]:
    """Values and targets as ``(N, T)`` float64, validated; ``(N,)`` becomes ``(N, 1)``."""
    values, truth = _as_float64(outputs, "outputs"), _as_float64(targets, "targets")
    if values.ndim not in (1, 2) or truth.ndim not in (1, 2):
        raise ValueError(
            "regression expects targets (N,) or (N, T) and outputs of the same shape; got "
            f"outputs of shape {_shape(values)} and targets of shape {_shape(truth)}"
        )
    values_2d = values.unsqueeze(1) if values.ndim == 1 else values
    truth_2d = truth.unsqueeze(1) if truth.ndim == 1 else truth
    if values_2d.shape != truth_2d.shape:
        raise ValueError(
            "regression outputs and targets do not match: outputs have shape "
            f"{_shape(values)}, targets have shape {_shape(truth)} (expected the same shape; "
            "(N, 1) and (N,) are interchangeable)"
        )
    _check_samples(values_2d, truth_2d)
    if values_2d.shape[1] == 0:
        raise ValueError(f"regression needs at least one target column, got {_shape(truth)}")
    _check_outputs(values_2d)
    _check_targets(truth_2d)
    return values_2d, truth_2d


def _sentiment_inputs(outputs: ArrayLike, targets: ArrayLike) -> tuple[Tensor, Tensor]:
    """One sentiment score per sample: values and targets ``(N,)`` float64, validated."""
    values, truth = _regression_inputs(outputs, targets)
    if truth.shape[1] != 1:
        raise ValueError(
            "sentiment metrics need one score per sample (targets (N,) or (N, 1)); got "
            f"targets with {truth.shape[1]} columns"
        )
    return values[:, 0], truth[:, 0]


# ----------------------------------------------------------------------------------------------
# Rank statistics


def _midranks(values: Tensor) -> Tensor:
    """Ranks ``1..n`` of ``values`` ``(n,)`` in ascending order; tied values share the mean of
    the ranks they span."""
    order = torch.argsort(values, stable=True)
    _, counts = torch.unique_consecutive(values[order], return_counts=True)
    ends = torch.cumsum(counts, dim=0).double()
    mean_rank = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(values, dtype=torch.float64)
    ranks[order] = torch.repeat_interleave(mean_rank, counts)
    return ranks


def _binary_auroc(scores: Tensor, positive: Tensor) -> float:
    """Mann-Whitney AUROC of ``scores`` ``(n,)`` for the ``positive`` ``(n,)`` bool samples."""
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = float(_midranks(scores)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _average_precision(scores: Tensor, positive: Tensor) -> float:
    """Step-wise average precision of ``scores`` ``(n,)`` for ``positive`` ``(n,)`` bool."""
    n_pos = int(positive.sum())
    if n_pos == 0:
        return float("nan")
    order = torch.argsort(scores, descending=True, stable=True)
    hits = positive[order].double()
    _, counts = torch.unique_consecutive(scores[order], return_counts=True)
    last = torch.cumsum(counts, dim=0) - 1  # the last sample of each group of tied scores
    tp = torch.cumsum(hits, dim=0)[last]
    retrieved = (last + 1).double()
    new_tp = torch.diff(tp, prepend=tp.new_zeros(1))
    return float((new_tp * (tp / retrieved)).sum() / n_pos)


# ----------------------------------------------------------------------------------------------
# Classification


def accuracy(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Fraction of samples whose arg-max logit is the target class.

    ``accuracy = (1/N) sum_i [argmax_k outputs[i, k] == targets[i]]``; ties in the logits go to
    the lowest class index.

    Shape:
        outputs: ``(N, K)`` logits (or probabilities: only the arg-max matters).
        targets: ``(N,)`` integer labels in ``0..K-1``.
    """
    logits, labels = _classification_inputs(outputs, targets)
    confusion = confusion_matrix(logits.argmax(dim=1), labels, logits.shape[1])
    return accuracy_from_confusion(confusion)


def macro_f1(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Unweighted mean over classes of ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` of the
    arg-max predictions.

    Classes absent from both the targets and the predictions are left out of the mean, as
    scikit-learn's ``f1_score(average="macro")`` does by taking the labels present in either.

    Shape:
        outputs: ``(N, K)`` logits. targets: ``(N,)`` integer labels in ``0..K-1``.
    """
    logits, labels = _classification_inputs(outputs, targets)
    confusion = confusion_matrix(logits.argmax(dim=1), labels, logits.shape[1])
    return macro_f1_from_confusion(confusion)


def balanced_accuracy(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Mean per-class recall ``TP_c / (TP_c + FN_c)`` of the arg-max predictions, over the
    classes present in ``targets`` (a class that is only predicted has no recall and is left
    out, as in scikit-learn's ``balanced_accuracy_score``).

    Shape:
        outputs: ``(N, K)`` logits. targets: ``(N,)`` integer labels in ``0..K-1``.
    """
    logits, labels = _classification_inputs(outputs, targets)
    confusion = confusion_matrix(logits.argmax(dim=1), labels, logits.shape[1]).double()
    support = confusion.sum(dim=1)
    present = support > 0
    return float((confusion.diagonal()[present] / support[present]).mean())


def auroc(outputs: ArrayLike, targets: ArrayLike, *, from_logits: bool = True) -> float:
    """Area under the ROC curve, one-vs-rest and macro-averaged over classes.

    For a class c with ``P`` positive samples (target c) and ``Q`` negative ones, scored by the
    probability ``p_c`` of class c, the Mann-Whitney formulation is
    ``AUROC_c = (sum of the ranks of the positives - P (P + 1) / 2) / (P Q)``, where ranks are
    ``1..N`` in ascending order of ``p_c`` and tied scores share their mean rank: a tied
    positive-negative pair counts one half. The result is the unweighted mean of ``AUROC_c``
    over the classes that occur in ``targets`` and do not make up all of them; the other
    classes have no AUROC and are skipped (``nan`` when none is left). With ``K = 2`` it is the
    AUROC of class 1 (the same number as class 0's). This equals scikit-learn's
    ``roc_auc_score(targets, probabilities, multi_class="ovr", average="macro")`` when every
    class occurs.

    Args:
        outputs: ``(N, K)`` logits, turned into probabilities by a softmax over classes (the
            ranks of ``p_c`` are not those of the logit ``z_c`` for ``K > 2``); with
            ``from_logits=False``, scores used as they are (probabilities).
        targets: ``(N,)`` integer labels in ``0..K-1``.
    """
    scores, labels = _classification_inputs(outputs, targets)
    if from_logits:
        scores = torch.softmax(scores, dim=1)
    if scores.shape[1] == 2:
        return _binary_auroc(scores[:, 1], labels == 1)
    per_class = [_binary_auroc(scores[:, c], labels == c) for c in range(scores.shape[1])]
    defined = [value for value in per_class if not math.isnan(value)]
    return sum(defined) / len(defined) if defined else float("nan")


# ----------------------------------------------------------------------------------------------
# Multilabel


def micro_f1(outputs: ArrayLike, targets: ArrayLike, *, threshold: float = 0.5) -> float:
    """F1 over all (sample, label) pairs: ``2 TP / (2 TP + FP + FN)`` with counts summed over
    labels.

    A label is predicted when ``sigmoid(logit) >= threshold``. ``nan`` when neither targets nor
    predictions hold a single positive (scikit-learn's ``zero_division=np.nan``).

    Shape:
        outputs: ``(N, K)`` logits. targets: ``(N, K)`` of 0/1.
    """
    logits, truth = _multilabel_inputs(outputs, targets)
    pred = _multilabel_predictions(logits, threshold)
    tp = int((pred & truth).sum())
    wrong = int((pred ^ truth).sum())  # FP + FN
    return 2 * tp / (2 * tp + wrong) if 2 * tp + wrong > 0 else float("nan")


def multilabel_macro_f1(outputs: ArrayLike, targets: ArrayLike, *, threshold: float = 0.5) -> float:
    """Unweighted mean over labels of ``F1_k = 2 TP_k / (2 TP_k + FP_k + FN_k)``.

    A label is predicted when ``sigmoid(logit) >= threshold``. A label with no positive in
    either the targets or the predictions has no F1 and is left out of the mean; ``nan`` when no
    label is left. This is scikit-learn's ``f1_score(average="macro", zero_division=np.nan)``
    (its default, ``zero_division="warn"``, would count such labels as 0).

    Shape:
        outputs: ``(N, K)`` logits. targets: ``(N, K)`` of 0/1.
    """
    logits, truth = _multilabel_inputs(outputs, targets)
    pred = _multilabel_predictions(logits, threshold)
    tp = (pred & truth).sum(dim=0).double()
    wrong = (pred ^ truth).sum(dim=0).double()
    denominator = 2 * tp + wrong
    seen = denominator > 0
    if not seen.any():
        return float("nan")
    return float((2 * tp[seen] / denominator[seen]).mean())


def subset_accuracy(outputs: ArrayLike, targets: ArrayLike, *, threshold: float = 0.5) -> float:
    """Fraction of samples whose whole predicted label set equals the target set (exact match;
    scikit-learn's ``accuracy_score`` on indicator matrices).

    A label is predicted when ``sigmoid(logit) >= threshold``.

    Shape:
        outputs: ``(N, K)`` logits. targets: ``(N, K)`` of 0/1.
    """
    logits, truth = _multilabel_inputs(outputs, targets)
    pred = _multilabel_predictions(logits, threshold)
    return float((pred == truth).all(dim=1).double().mean())


def mean_average_precision(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Mean over labels of the average precision of the scores (no threshold).

    For label k, with samples in decreasing order of score and tied scores taken as one step,
    ``AP_k = sum_n (R_n - R_{n-1}) P_n``: precision ``P_n`` and recall ``R_n`` at the n-th
    distinct score, ``R_0 = 0``. This is scikit-learn's ``average_precision_score`` (no
    interpolation). The mean runs over labels with at least one positive target; ``nan`` when
    there is none.

    Shape:
        outputs: ``(N, K)`` logits (any increasing function of them gives the same value).
        targets: ``(N, K)`` of 0/1.
    """
    logits, truth = _multilabel_inputs(outputs, targets)
    values = [
        _average_precision(logits[:, k], truth[:, k])
        for k in range(truth.shape[1])
        if truth[:, k].any()
    ]
    return sum(values) / len(values) if values else float("nan")


# ----------------------------------------------------------------------------------------------
# Regression


def mae(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Mean absolute error ``(1 / (N T)) sum_{i,t} |outputs[i, t] - targets[i, t]|`` (for several
    targets, the uniform average of the per-column MAEs).

    Shape:
        outputs: ``(N,)``, ``(N, 1)`` or ``(N, T)``. targets: ``(N,)`` or ``(N, T)``.
    """
    values, truth = _regression_inputs(outputs, targets)
    return float((values - truth).abs().mean())


def rmse(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Root mean squared error per target column, ``sqrt((1/N) sum_i (outputs[i] -
    targets[i])^2)``, averaged uniformly over columns (scikit-learn's
    ``root_mean_squared_error``).

    Shape:
        outputs: ``(N,)``, ``(N, 1)`` or ``(N, T)``. targets: ``(N,)`` or ``(N, T)``.
    """
    values, truth = _regression_inputs(outputs, targets)
    return float((values - truth).square().mean(dim=0).sqrt().mean())


def _constant_columns(values: Tensor) -> Tensor:
    """``(T,)`` bool: the columns of ``values`` ``(N, T)`` whose entries are all equal."""
    return (values == values[:1]).all(dim=0)


def pearson_r(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Pearson correlation between outputs and targets, averaged uniformly over target columns.

    ``r = sum_i (x_i - mean x)(y_i - mean y) / sqrt(sum_i (x_i - mean x)^2 sum_i (y_i -
    mean y)^2)`` per column (``x`` outputs, ``y`` targets). A column where the outputs or the
    targets are constant has no correlation: ``nan``, and the mean is then ``nan`` too (as
    ``scipy.stats.pearsonr`` gives ``nan`` there). A model that predicts one value for every
    sample therefore scores ``nan``.

    Shape:
        outputs: ``(N,)``, ``(N, 1)`` or ``(N, T)``. targets: ``(N,)`` or ``(N, T)``.
    """
    values, truth = _regression_inputs(outputs, targets)
    x = values - values.mean(dim=0)
    y = truth - truth.mean(dim=0)
    x = x / torch.linalg.vector_norm(x, dim=0)
    y = y / torch.linalg.vector_norm(y, dim=0)
    r = (x * y).sum(dim=0).clamp(-1.0, 1.0)
    r[_constant_columns(values) | _constant_columns(truth)] = float("nan")
    return float(r.mean())


def r2(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Coefficient of determination ``R^2 = 1 - SS_res / SS_tot`` per target column, with
    ``SS_res = sum_i (y_i - outputs_i)^2`` and ``SS_tot = sum_i (y_i - mean y)^2``, averaged
    uniformly over columns (scikit-learn's ``r2_score`` default ``multioutput``).

    A column with constant targets has ``SS_tot = 0`` and no R^2: ``nan``, and the mean is then
    ``nan`` too (scikit-learn's default would report 1.0 or 0.0 there).

    Shape:
        outputs: ``(N,)``, ``(N, 1)`` or ``(N, T)``. targets: ``(N,)`` or ``(N, T)``.
    """
    values, truth = _regression_inputs(outputs, targets)
    ss_res = (truth - values).square().sum(dim=0)
    ss_tot = (truth - truth.mean(dim=0)).square().sum(dim=0)
    per_column = 1 - ss_res / ss_tot
    per_column[_constant_columns(truth)] = float("nan")
    return float(per_column.mean())


# ----------------------------------------------------------------------------------------------
# Sentiment (CMU-MOSI / CMU-MOSEI)
#
# The public evaluation code these papers share (thuiar/MMSA ``metricsTop.py``, declare-lab/MISA
# ``solver.py``, yaohungt/Multimodal-Transformer ``eval_metrics.py``) computes: binary accuracy
# and ``f1_score(average="weighted")`` on the sign, both with and without the samples whose true
# score is 0; and the accuracy of ``np.round(np.clip(score, -3, 3))`` (Acc-7) and of the clip to
# -2..2 (Acc-5). The functions below follow MMSA's "Has0" / "Non0" pair. (MulT's
# ``exclude_zero=False`` splits all samples at ``score > 0`` instead, a third variant not given
# here.)


def _sign_confusion(pred: Tensor, truth: Tensor) -> Tensor:
    return confusion_matrix(pred.long(), truth.long(), 2)


def _nonneg_confusion(outputs: ArrayLike, targets: ArrayLike) -> Tensor:
    values, truth = _sentiment_inputs(outputs, targets)
    return _sign_confusion(values >= 0, truth >= 0)


def _nonzero_confusion(outputs: ArrayLike, targets: ArrayLike) -> Tensor:
    values, truth = _sentiment_inputs(outputs, targets)
    keep = truth != 0
    return _sign_confusion(values[keep] > 0, truth[keep] > 0)


def acc2_nonneg(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Binary sentiment accuracy, negative vs non-negative, on every sample.

    Class = ``score >= 0`` for outputs and targets alike; the accuracy of the outputs' class
    against the targets' (MMSA's ``Has0_acc_2``, MISA's "non-neg/neg" accuracy).

    Shape:
        outputs: ``(N,)`` or ``(N, 1)`` predicted scores. targets: ``(N,)`` true scores.
    """
    return accuracy_from_confusion(_nonneg_confusion(outputs, targets))


def f1_nonneg(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Weighted F1, negative vs non-negative (class = ``score >= 0``), on every sample.

    ``F1_w = sum_c n_c F1_c / N`` over the two classes, with ``n_c`` the number of samples whose
    true class is c and ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``: scikit-learn's
    ``f1_score(truth, pred, average="weighted")``, as in MMSA's ``Has0_F1_score``.

    Shape:
        outputs: ``(N,)`` or ``(N, 1)`` predicted scores. targets: ``(N,)`` true scores.
    """
    return _weighted_f1_from_confusion(_nonneg_confusion(outputs, targets))


def acc2_nonzero(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Binary sentiment accuracy, negative vs positive: the samples whose true score is exactly
    0 are left out, and class = ``score > 0`` (MMSA's ``Non0_acc_2``, MISA's "pos/neg"
    accuracy, MulT's ``exclude_zero=True``). ``nan`` when every true score is 0.

    Shape:
        outputs: ``(N,)`` or ``(N, 1)`` predicted scores. targets: ``(N,)`` true scores.
    """
    return accuracy_from_confusion(_nonzero_confusion(outputs, targets))


def f1_nonzero(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Weighted F1, negative vs positive (true score 0 left out, class = ``score > 0``).

    The support-weighted mean of the two classes' F1, as :func:`f1_nonneg`: scikit-learn's
    ``f1_score(truth, pred, average="weighted")`` (MMSA's ``Non0_F1_score``). MulT's code passes
    the predictions as the first argument, which weights by the predicted classes instead; this
    function weights by the true classes. ``nan`` when every true score is 0.

    Shape:
        outputs: ``(N,)`` or ``(N, 1)`` predicted scores. targets: ``(N,)`` true scores.
    """
    return _weighted_f1_from_confusion(_nonzero_confusion(outputs, targets))


def _clipped_class_accuracy(outputs: ArrayLike, targets: ArrayLike, bound: float) -> float:
    values, truth = _sentiment_inputs(outputs, targets)
    pred = torch.round(values.clamp(-bound, bound))
    true = torch.round(truth.clamp(-bound, bound))
    return float((pred == true).double().mean())


def acc7(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Seven-class sentiment accuracy: ``round(clip(score, -3, 3))`` of the outputs against the
    same of the targets (classes -3..3).

    Rounding is to the nearest integer with halves to even (``numpy.round``, as in the public
    evaluation code): 2.5 and 1.5 both become 2.

    Shape:
        outputs: ``(N,)`` or ``(N, 1)`` predicted scores. targets: ``(N,)`` true scores.
    """
    return _clipped_class_accuracy(outputs, targets, 3.0)


def acc5(outputs: ArrayLike, targets: ArrayLike) -> float:
    """Five-class sentiment accuracy: ``round(clip(score, -2, 2))`` of outputs against targets
    (classes -2..2; halves rounded to even, as :func:`acc7`).

    Shape:
        outputs: ``(N,)`` or ``(N, 1)`` predicted scores. targets: ``(N,)`` true scores.
    """
    return _clipped_class_accuracy(outputs, targets, 2.0)


# ----------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Metric:
    """A metric as reports show it.

    ``compute(outputs, targets) -> float`` on model outputs (logits or values) and targets;
    when ``uses_threshold`` it also takes ``threshold=`` (the multilabel decision probability).
    """

    name: str
    task: str
    compute: Callable[..., float]
    higher_is_better: bool
    description: str
    uses_threshold: bool = False


METRICS: dict[str, dict[str, Metric]] = {
    "classification": {
        metric.name: metric
        for metric in (
            Metric("accuracy", "classification", accuracy, True, "fraction of correct arg-max"),
            Metric("macro_f1", "classification", macro_f1, True, "unweighted mean F1 over classes"),
            Metric(
                "balanced_accuracy",
                "classification",
                balanced_accuracy,
                True,
                "mean recall over the classes present in the targets",
            ),
            Metric(
                "auroc",
                "classification",
                auroc,
                True,
                "one-vs-rest macro AUROC of the softmax probabilities",
            ),
        )
    },
    "multilabel": {
        metric.name: metric
        for metric in (
            Metric(
                "micro_f1",
                "multilabel",
                micro_f1,
                True,
                "F1 over all (sample, label) pairs at the threshold",
                uses_threshold=True,
            ),
            Metric(
                "macro_f1",
                "multilabel",
                multilabel_macro_f1,
                True,
                "unweighted mean F1 over labels at the threshold",
                uses_threshold=True,
            ),
            Metric(
                "subset_accuracy",
                "multilabel",
                subset_accuracy,
                True,
                "fraction of samples with every label right",
                uses_threshold=True,
            ),
            Metric(
                "mean_average_precision",
                "multilabel",
                mean_average_precision,
                True,
                "mean average precision over labels with a positive",
            ),
        )
    },
    "regression": {
        metric.name: metric
        for metric in (
            Metric("mae", "regression", mae, False, "mean absolute error"),
            Metric("rmse", "regression", rmse, False, "root mean squared error"),
            Metric("pearson_r", "regression", pearson_r, True, "Pearson correlation"),
            Metric("r2", "regression", r2, True, "coefficient of determination R^2"),
        )
    },
}

PRIMARY: dict[str, str] = {
    "classification": "accuracy",
    "multilabel": "micro_f1",
    "regression": "mae",
}

SENTIMENT_METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric(
            "acc2_nonneg",
            "regression",
            acc2_nonneg,
            True,
            "Acc-2, negative vs non-negative (score >= 0), all samples",
        ),
        Metric(
            "f1_nonneg",
            "regression",
            f1_nonneg,
            True,
            "weighted F1, negative vs non-negative, all samples",
        ),
        Metric(
            "acc2_nonzero",
            "regression",
            acc2_nonzero,
            True,
            "Acc-2, negative vs positive, true score 0 excluded",
        ),
        Metric(
            "f1_nonzero",
            "regression",
            f1_nonzero,
            True,
            "weighted F1, negative vs positive, true score 0 excluded",
        ),
        Metric("acc7", "regression", acc7, True, "Acc-7 of round(clip(score, -3, 3))"),
        Metric("acc5", "regression", acc5, True, "Acc-5 of round(clip(score, -2, 2))"),
    )
}
"""Sentiment metrics of CMU-MOSI / CMU-MOSEI, regression metrics shown with the sentiment
option only (beside ``mae`` and ``pearson_r``)."""

SENTIMENT: tuple[str, ...] = tuple(SENTIMENT_METRICS)


def _task_metrics(task: str, sentiment: bool = False) -> dict[str, Metric]:
    if task not in METRICS:
        raise ValueError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")
    if not sentiment:
        return METRICS[task]
    if task != "regression":
        raise ValueError(
            f"the sentiment metrics score regression outputs, not the {task!r} task; "
            "use sentiment=True with task='regression' only"
        )
    return {**METRICS[task], **SENTIMENT_METRICS}


def metric_info(task: str, name: str, sentiment: bool = False) -> Metric:
    """The :class:`Metric` called ``name`` of ``task`` (the sentiment ones with ``sentiment``).

    Raises:
        ValueError: ``task`` is not one of :data:`TASKS`, or ``sentiment`` with a task other
            than regression.
        KeyError: ``name`` is not a metric of the task; the message lists the available names.
    """
    metrics = _task_metrics(task, sentiment)
    if name in metrics:
        return metrics[name]
    hint = ""
    if task == "regression" and name in SENTIMENT_METRICS:
        hint = f"; {name!r} is a sentiment metric: pass sentiment=True"
    raise UnknownNameError(f"unknown {task} metric {name!r}; available: {', '.join(metrics)}{hint}")


def score(
    task: str,
    outputs: ArrayLike,
    targets: ArrayLike,
    *,
    sentiment: bool = False,
    threshold: float = 0.5,
) -> dict[str, float]:
    """Every metric of the task (plus the sentiment ones when asked) on model outputs.

    Args:
        task: ``"classification"``, ``"multilabel"`` or ``"regression"``.
        outputs: model outputs: logits ``(N, K)`` (classification, multilabel) or values
            ``(N,)``, ``(N, 1)``, ``(N, T)`` (regression).
        targets: labels ``(N,)``, 0/1 ``(N, K)`` or values ``(N,)``, ``(N, T)``.
        sentiment: add :data:`SENTIMENT` (regression with one score per sample only).
        threshold: probability at which a multilabel label is predicted.

    Returns:
        ``{name: value}`` in display order (:data:`METRICS`, then :data:`SENTIMENT`).
    """
    metrics = _task_metrics(task, sentiment)
    _check_threshold(threshold)
    results: dict[str, float] = {}
    for name, metric in metrics.items():
        if metric.uses_threshold:
            results[name] = metric.compute(outputs, targets, threshold=threshold)
        else:
            results[name] = metric.compute(outputs, targets)
    return results


# ----------------------------------------------------------------------------------------------
# Prediction


def prepared(model: nn.Module, dataset: MultimodalDataset) -> MultimodalDataset:
    """``dataset`` as ``model`` reads it: matched to the schema of a model that knows it (a
    :class:`~intermodal.models.Pipeline`, see ``PreparesData``), else as it is."""
    from intermodal.models.protocols import PreparesData

    return model.prepare(dataset) if isinstance(model, PreparesData) else dataset


def predict_outputs(model: nn.Module, dataset: MultimodalDataset, batch_size: int = 1024) -> Tensor:
    """The model's outputs on every sample, on the CPU: logits ``(N, K)`` (classification,
    multilabel) or values ``(N, T)`` (regression). The model runs in evaluation mode and its
    mode is restored. A model that knows its schema (a ``Pipeline``) gets the data matched to
    it by name first."""
    return _outputs(model, prepared(model, dataset), batch_size)


def _outputs(model: nn.Module, dataset: MultimodalDataset, batch_size: int) -> Tensor:
    n = len(dataset)
    return batch_outputs(
        model,
        (dataset.__getitems__(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)),
    )


@torch.no_grad()
def batch_outputs(model: nn.Module, batches: Iterable[Batch]) -> Tensor:
    """The model's outputs on ``batches`` (inputs and presence masks of preprocessed data, as
    ``MultimodalDataset.__getitems__`` gives them), concatenated on the CPU, in evaluation
    mode; the model's mode is restored (a model already evaluating is left as it is, with no
    walk over its modules to set it)."""
    training = any(module.training for module in model.modules())
    was_training = model.training
    if training:
        model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    outputs = []
    try:
        for batch in batches:
            inputs = {k: v.to(device) for k, v in batch.inputs.items()}
            mask = {k: v.to(device) for k, v in batch.mask.items()}
            outputs.append(model(inputs, mask).cpu())
    finally:
        if training:
            model.train(was_training)
    return torch.cat(outputs)


def predictions(outputs: Tensor, task: str, threshold: float = 0.5) -> Tensor:
    """What the outputs predict: class indices ``(N,)``, label sets ``(N, K)`` bool (probability
    at least ``threshold``) or values ``(N,)`` / ``(N, T)``."""
    if task == "classification":
        return outputs.argmax(dim=1)
    if task == "multilabel":
        _check_threshold(threshold)
        return torch.sigmoid(outputs) >= threshold
    if task == "regression":
        return outputs[:, 0] if outputs.ndim == 2 and outputs.shape[1] == 1 else outputs
    raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")


def _check_classes(outputs: Tensor, dataset: MultimodalDataset) -> None:
    """Refuse outputs for another number of classes than the data set encodes (a model of all
    classes on data that hold some of them: only a model that knows its classes can tell)."""
    if dataset.task != "regression" and outputs.shape[1] != len(dataset.classes):
        raise ValueError(
            f"the model gives {outputs.shape[1]} outputs, but {dataset.name} encodes "
            f"{len(dataset.classes)} {'classes' if dataset.task == 'classification' else 'labels'}"
            f" ({dataset.classes[:10]}); the data hold other classes than the model's: use a "
            "model that carries its classes (a Pipeline: fit with preprocess=True, or one "
            "saved by intermodal bench or train)"
        )


def predict(
    model: nn.Module, dataset: MultimodalDataset, threshold: float = 0.5, batch_size: int = 1024
) -> Tensor:
    """The model's predictions for ``dataset``'s task: class labels ``(N,)`` (the original
    labels: the model's, for a ``Pipeline``), label sets ``(N, K)`` bool (threshold on the
    probability) or values ``(N,)`` / ``(N, T)`` in the targets' units."""
    dataset = prepared(model, dataset)
    outputs = _outputs(model, dataset, batch_size)
    _check_classes(outputs, dataset)
    predicted = predictions(outputs, dataset.task, threshold)
    if dataset.task == "classification":
        return torch.as_tensor(dataset.classes)[predicted]
    return predicted


def evaluate(
    model: nn.Module,
    dataset: MultimodalDataset,
    *,
    sentiment: bool = False,
    threshold: float = 0.5,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Every metric of ``dataset``'s task (see :data:`METRICS`) of ``model`` on ``dataset``
    (matched to the schema of a ``Pipeline`` first, so its targets are scored in the model's
    classes)."""
    dataset = prepared(model, dataset)
    outputs = _outputs(model, dataset, batch_size)
    _check_classes(outputs, dataset)
    return score(dataset.task, outputs, dataset.targets, sentiment=sentiment, threshold=threshold)
