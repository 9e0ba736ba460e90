"""K-fold cross-validation as the benchmark's protocol for small data: ``intermodal bench --cv K``.

A 70/15/15 split of a few hundred samples tests each method on a few dozen of them: one sample
moves an accuracy by a few points, and the intervals are as wide as the differences between
methods. With ``--cv K`` the per-seed split is replaced by K folds of the whole data set:

- seed s shuffles the samples into K stratified folds (:func:`~intermodal.tuning.folds.
  fold_indices`: each class's proportion in each fold; quantile bins of the target for
  regression; at random for multi-label data; whole groups in one fold where the data set has a
  ``group`` metadata column), so each sample is tested exactly once per seed;
- fold k is tested on its held-out part, and trained on the other K - 1 folds, of which an inner
  validation part (:data:`~intermodal.tuning.folds.INNER_VAL`, 20%, stratified or of whole
  groups: :func:`~intermodal.tuning.folds.inner_holdout`) stops training early and chooses the
  method; the preprocessing (standardization) is fitted on the fold's training part alone;
- every (method, seed, fold) is a run, with a ``fold`` column in ``results.csv``; the
  leaderboard's mean, standard deviation and 95% interval are over the J = K x seeds
  replicates, and the paired tests between methods are the corrected resampled t-test of
  Nadeau & Bengio (2003), whose variance ``(1/J + n_test/n_train) s^2`` accounts for the
  overlap of the replicates' training sets (:func:`~intermodal.bench.significance.corrected_t`).

A data set's own ``split`` column is not used under ``--cv``: the folds cover all its samples.
The report's per-sample analyses (EMAP, the subset table, robustness, ...) use the models of the
first seed's first fold on that fold's test part, and the saved ``models/`` are those models
(the pooled test predictions of the K folds cover every sample once per seed, but come from K
different models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, check_learnable, split_dataset
from intermodal.tuning.folds import INNER_VAL, check_folds, fold_indices, inner_holdout

Replicate = tuple[int, int | None]
"""A replicate of a benchmark: ``(seed, fold)``; the fold is None without cross-validation."""


def fold_split(
    dataset: MultimodalDataset, folds: int, seed: int, fold: int, inner_val: float = INNER_VAL
) -> DataSplits:
    """The raw (not standardized) ``(train, val, test)`` of outer fold ``fold`` of ``folds``
    drawn with ``seed``: ``test`` is the fold's held-out part, ``val`` the inner validation part
    drawn from the other folds with ``seed``, ``train`` the rest (the same parts as fold
    ``fold`` of :func:`~intermodal.tuning.folds.cv_splits` without standardization).

    Raises:
        ValueError: ``folds`` that the data set cannot give (see
            :func:`~intermodal.tuning.folds.check_folds`), or ``fold`` not in ``0 .. folds-1``.
    """
    if not 0 <= fold < folds:
        raise ValueError(f"fold {fold} is not one of the {folds} folds (0 to {folds - 1})")
    held = fold_indices(dataset, folds, seed)[fold]
    rest = np.setdiff1d(np.arange(len(dataset)), held)
    train, val = inner_holdout(dataset.subset(rest), inner_val, seed)
    return DataSplits(train, val, dataset.subset(held))


def replicate_split(
    dataset: MultimodalDataset, seed: int, fold: int | None = None, folds: int | None = None
) -> DataSplits:
    """The raw split of one replicate: the benchmark's split of ``seed``
    (:func:`~intermodal.data.split_dataset`), or under ``--cv folds`` its fold ``fold``
    (:func:`fold_split`)."""
    if fold is None or folds is None:
        return split_dataset(dataset, seed=seed)
    return fold_split(dataset, folds, seed, fold)


def check_cv(dataset: MultimodalDataset, folds: int, seeds: Sequence[int]) -> None:
    """Refuse ``--cv folds`` on ``dataset`` before anything is written: fewer than 2 folds, more
    folds than the smallest class has samples or than there are groups, or a fold of a seed
    whose training part lacks a class that its validation or test part holds.

    Raises:
        ValueError: one line that says what was wrong and which ``--cv`` would work.
    """
    check_folds(dataset, folds)
    for seed in seeds:
        for fold in range(folds):
            try:
                check_learnable(fold_split(dataset, folds, seed, fold), given=False, seed=seed)
            except ValueError as error:
                raise ValueError(f"--cv {folds}, fold {fold} of seed {seed}: {error}") from None


def replicates(seeds: Sequence[int], folds: int | None) -> list[Replicate]:
    """The ``(seed, fold)`` replicates of a benchmark, in the order of its runs and tests: each
    seed's folds in turn (one ``(seed, None)`` per seed without cross-validation)."""
    if folds is None:
        return [(seed, None) for seed in seeds]
    return [(seed, fold) for seed in seeds for fold in range(folds)]


def run_key(method: str, seed: int, fold: int | None = None) -> tuple[str, int, int | None]:
    """The key of one run: ``(method, seed, fold)``."""
    return method, seed, fold


def tuning_key(method: str, fold: int | None = None) -> str:
    """The name of a method's tuning record: under K-fold cross-validation each fold tunes on
    its own training part (nested cross-validation), as ``METHOD__foldF``."""
    return method if fold is None else f"{method}__fold{fold}"


def with_fold(row: Mapping[str, Any], fold: int | None) -> dict[str, Any]:
    """``row`` with its ``fold`` right after ``seed`` (unchanged without a fold)."""
    if fold is None:
        return dict(row)
    out: dict[str, Any] = {}
    for name, value in row.items():
        out[name] = value
        if name == "seed":
            out["fold"] = fold
    out.setdefault("fold", fold)
    return out


def correction_ratio(folds: int) -> float:
    """``n_test / n_train`` of the corrected resampled t-test (Nadeau & Bengio 2003) under
    ``folds``-fold cross-validation: ``1 / (K - 1)``.

    A model's training data are the K - 1 folds it is given (its inner validation part
    included, which it learns from by stopping early). The K folds partition the N samples, so
    over a seed's folds the mean test part is N / K and the mean training data N (K - 1) / K,
    whatever the folds' sizes (groups make them unequal): their ratio is exactly 1 / (K - 1).
    """
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    return 1.0 / (folds - 1)


def describe(dataset: MultimodalDataset, folds: int) -> str:
    """How ``--cv folds`` splits ``dataset``, in words (the checklist's split)."""
    how = {
        "classification": "stratified by class",
        "regression": "stratified on 10 quantile bins of the target",
        "multilabel": "at random (multi-label)",
    }[dataset.task]
    if "group" in dataset.metadata:
        how += ", whole groups in one fold"
    own = "; the data set's own split column is not used" if "split" in dataset.metadata else ""
    return (
        f"{folds} folds of all samples {how}, drawn by each seed: each fold tested once, and "
        f"trained on the others less an inner validation part ({INNER_VAL:.0%}) that stops "
        f"training early{own}"
    )
