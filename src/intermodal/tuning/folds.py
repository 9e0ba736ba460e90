"""Cross-validation folds: stratified K-fold splits, each with an inner validation part for early
stopping, standardized on its own training part.

Every fold is a :class:`~intermodal.data.splits.DataSplits` ``(train, val, test)``: ``test`` is
the fold's held-out part (each sample is held out by exactly one fold), ``val`` is drawn from
the rest for early stopping, ``train`` is what is left, and all three are standardized with the
statistics of ``train`` alone. Folds keep the class proportions (classification), the proportions
of 10 quantile bins of the target (regression), or are drawn at random (multi-label); where the
data set has a ``group`` metadata column, whole groups go to one side of every split.

The same folds serve two purposes: cross-validated tuning on small data (:func:`tuning_splits`)
and the outer ``K``-fold protocol of a benchmark (:func:`cv_splits`, every sample tested once
per seed).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, group_holdout, standardize, strata

SMALL_DATA = 1000
"""Below this many training + validation samples, tuning is cross-validated: a fixed validation
part of a 70/15/15 split then holds fewer than about 180 samples, where the standard error of an
accuracy near 0.9 is above 0.02, as large as the differences tuning chooses between."""
CV_FOLDS = 5
"""Folds of cross-validated tuning."""
INNER_VAL = 0.2
"""Fraction of each fold's training part held out for early stopping."""


def restrict(splits: DataSplits, modalities: Sequence[str] | None) -> DataSplits:
    """The splits as a method on ``modalities`` sees them: training and validation samples with
    none of them present are dropped; the scored part stays whole (a model reads only its
    modalities and says in its ``absent`` what it does without them)."""
    if modalities is None or list(modalities) == splits.train.modality_names:
        return splits
    train, val, test = splits
    return DataSplits(
        train.select(modalities, empty="drop"), val.select(modalities, empty="drop"), test
    )


def pooled(parts: Sequence[MultimodalDataset]) -> MultimodalDataset:
    """The samples of several parts of one data set (e.g. its training and validation parts)
    as one data set, in order."""
    if not parts:
        raise ValueError("pool at least one part")
    first = parts[0]
    for part in parts[1:]:
        if part.modality_names != first.modality_names or part.task != first.task:
            raise ValueError("the parts to pool must come from one data set")
        for key in first.modality_names:
            if part.shapes[key] != first.shapes[key]:
                raise ValueError(
                    f"modality {key!r} has shape {part.shapes[key]} in one part and "
                    f"{first.shapes[key]} in another; pool parts of one data set"
                )
    columns = set.intersection(*(set(part.metadata) for part in parts))
    return MultimodalDataset(
        {k: torch.cat([p.modalities[k] for p in parts]) for k in first.modality_names},
        torch.cat([p.targets for p in parts]),
        masks={k: torch.cat([p.masks[k] for p in parts]) for k in first.modality_names},
        kinds=first.kinds,
        metadata={c: np.concatenate([p.metadata[c] for p in parts]) for c in sorted(columns)},
        name=first.name,
        classes=first.classes,
        task=first.task,
    )


def _groups(dataset: MultimodalDataset) -> np.ndarray | None:
    if "group" not in dataset.metadata:
        return None
    return np.asarray(dataset.metadata["group"]).astype(str)


def check_folds(dataset: MultimodalDataset, k: int) -> None:
    """Raise a ``ValueError`` that says what to do when ``dataset`` cannot be cut into ``k``
    folds: ``k`` below 2 or above the number of samples, a class with fewer than ``k`` samples,
    or fewer than ``k`` groups."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(
            f"cross-validation needs at least 2 folds, got {k!r}; use --cv 2 or more "
            "(or leave --cv out for one train/validation/test split)"
        )
    if k > len(dataset):
        raise ValueError(f"{k} folds need at least {k} samples; the data set has {len(dataset)}")
    if dataset.task == "classification":
        counts = np.bincount(dataset.targets.numpy(), minlength=dataset.n_classes)
        present = np.flatnonzero(counts)
        smallest = int(present[np.argmin(counts[present])])
        if counts[smallest] < k:
            raise ValueError(
                f"class {dataset.classes[smallest]} has only {counts[smallest]} samples, fewer "
                f"than the {k} folds, so some folds would not hold it; use --cv "
                f"{max(2, int(counts[smallest]))} or fewer, or collect more samples of it"
            )
    groups = _groups(dataset)
    if groups is not None:
        count = len(np.unique(groups))
        if count < k:
            raise ValueError(
                f"the data set has {count} groups (metadata column 'group'), fewer than the {k} "
                f"folds, and a group stays in one fold; use --cv {count} or fewer"
            )


def fold_indices(dataset: MultimodalDataset, k: int, seed: int = 0) -> list[np.ndarray]:
    """The held-out indices of each of ``k`` folds (sorted; together a partition of the data
    set), drawn with ``seed``.

    Classification keeps every class's proportion in each fold (scikit-learn's
    ``StratifiedKFold``), regression the proportions of quantile bins of the target, multi-label
    data is cut at random (``KFold``); with a ``group`` metadata column, whole groups go to one
    fold, stratified as far as the groups allow (``StratifiedGroupKFold``).
    """
    from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

    check_folds(dataset, k)
    rows = np.zeros((len(dataset), 1))
    labels = strata(dataset)
    groups = _groups(dataset)
    with warnings.catch_warnings():  # a rare regression bin with fewer than k members
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        if groups is not None:
            cut = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
            parts = [held for _, held in cut.split(rows, labels, groups)]
        elif dataset.task == "multilabel":
            parts = [held for _, held in KFold(k, shuffle=True, random_state=seed).split(rows)]
        else:
            cut = StratifiedKFold(k, shuffle=True, random_state=seed)
            parts = [held for _, held in cut.split(rows, labels)]
    return [np.sort(held) for held in parts]


def inner_holdout(
    dataset: MultimodalDataset, size: float = INNER_VAL, seed: int = 0
) -> tuple[MultimodalDataset, MultimodalDataset]:
    """``(rest, held_out)`` for early stopping inside a fold: whole groups where the data set
    has two or more (see :func:`~intermodal.data.splits.group_holdout`), else ``round(n_s * size)``
    samples of each stratum s (:func:`~intermodal.data.splits.strata`), at least one and never
    all of it (a stratum of one sample stays in ``rest``)."""
    if not 0.0 < size < 1.0:
        raise ValueError(f"the inner validation size must be a fraction in (0, 1), got {size}")
    groups = _groups(dataset)
    if groups is not None and len(np.unique(groups)) >= 2:
        return group_holdout(dataset, size, seed)
    rng = np.random.default_rng(seed)
    labels = strata(dataset)
    held = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(len(members) - 1, max(1, round(len(members) * size)))
        held.append(members[:count])
    out = np.zeros(len(dataset), dtype=bool)
    out[np.concatenate(held)] = True
    if out.all() or not out.any():
        raise ValueError(f"{len(dataset)} samples are too few for an inner validation part")
    return dataset.subset(np.flatnonzero(~out)), dataset.subset(np.flatnonzero(out))


def cv_splits(
    dataset: MultimodalDataset,
    k: int,
    seed: int = 0,
    inner_val: float = INNER_VAL,
    standardized: bool = True,
) -> list[DataSplits]:
    """``k`` folds of ``dataset`` as ``(train, val, test)`` splits: fold i holds out ``test``
    (:func:`fold_indices`), draws ``val`` from the rest (:func:`inner_holdout`) and, with
    ``standardized``, standardizes all three on its ``train`` part only (without, the raw
    values, e.g. to tune on one outer fold with :func:`tuning_splits`).

    Raises:
        ValueError: ``k`` below 2, a class with fewer than ``k`` samples, fewer than ``k``
            groups (see :func:`check_folds`).
    """
    folds = []
    for held in fold_indices(dataset, k, seed):
        rest = np.setdiff1d(np.arange(len(dataset)), held)
        train, val = inner_holdout(dataset.subset(rest), inner_val, seed)
        fold = DataSplits(train, val, dataset.subset(held))
        folds.append(standardize(fold) if standardized else fold)
    return folds


def auto_folds(dataset: MultimodalDataset, folds: int = CV_FOLDS) -> int:
    """The folds cross-validated tuning uses on ``dataset``: ``folds``, fewer where a class or
    the groups are smaller (1 when not even 2 folds are possible)."""
    k = min(folds, len(dataset))
    if dataset.task == "classification":
        counts = np.bincount(dataset.targets.numpy(), minlength=dataset.n_classes)
        k = min(k, int(counts[counts > 0].min()))
    groups = _groups(dataset)
    if groups is not None:
        k = min(k, len(np.unique(groups)))
    return k if k >= 2 else 1


def tuning_splits(
    splits: DataSplits,
    seed: int = 0,
    folds: int | None = None,
    small: int = SMALL_DATA,
    inner_val: float = INNER_VAL,
) -> list[DataSplits]:
    """The data a tuner scores trials on, from one seed's unstandardized ``splits``; the test
    part is never read.

    On small data (fewer than ``small`` training + validation samples) or when ``folds`` is
    given, the pooled training and validation parts are cut into folds (:func:`cv_splits`;
    ``CV_FOLDS`` by default, fewer where a class or the groups are smaller), and a trial's score
    is the mean over the folds' held-out parts. Otherwise (or with ``folds=1``) there is one
    split: ``(train, val,
    val)`` standardized on ``train``, so the fixed validation part both stops training early and
    scores the trial.

    Raises:
        ValueError: an explicit ``folds`` that the data cannot give (see :func:`check_folds`).
    """
    train, val = splits.train, splits.val
    if folds == 1 or (folds is None and len(train) + len(val) >= small):
        return [standardize(DataSplits(train, val, val))]
    pool = pooled([train, val])
    if folds is None:
        k = auto_folds(pool)
        if k == 1:
            return [standardize(DataSplits(train, val, val))]
    else:
        k = folds
    return cv_splits(pool, k, seed, inner_val)
