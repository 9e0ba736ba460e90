"""Cross-validation folds: partitions, stratification, groups, per-fold standardization, bad
input, and the data a tuner scores on."""

from __future__ import annotations

import numpy as np
import pytest

from intermodal.data import MultimodalDataset
from intermodal.data.splits import DataSplits, split_dataset
from intermodal.tuning import SMALL_DATA, check_folds, cv_splits, fold_indices, tuning_splits
from intermodal.tuning.folds import auto_folds, inner_holdout, pooled


def labelled(counts: list[int], seed: int = 0, groups: int | None = None) -> MultimodalDataset:
    """Two vector modalities with class c repeated ``counts[c]`` times, a ``row`` column
    holding each sample's position, and optionally ``groups`` groups."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    metadata: dict[str, np.ndarray] = {"row": np.arange(n)}
    if groups is not None:
        metadata["group"] = rng.integers(0, groups, size=n).astype(str)
    return MultimodalDataset(
        {"a": rng.normal(3.0, 2.0, size=(n, 4)) + y[:, None], "b": rng.normal(size=(n, 2))},
        y,
        metadata=metadata,
    )


def rows(part: MultimodalDataset) -> np.ndarray:
    return np.asarray(part.metadata["row"])


def test_folds_partition_the_data_and_each_fold_partitions_it_again() -> None:
    data = labelled([30, 20, 13])
    folds = cv_splits(data, 4, seed=1)
    held = np.concatenate([rows(f.test) for f in folds])
    assert sorted(held) == list(range(len(data)))  # every sample held out exactly once
    for fold in folds:
        parts = [set(rows(p)) for p in fold]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2])
        assert not (parts[1] & parts[2])
        assert set().union(*parts) == set(range(len(data)))
        assert 0.15 < len(fold.val) / (len(fold.train) + len(fold.val)) < 0.25


def test_folds_are_stratified_by_class() -> None:
    data = labelled([30, 20, 13])
    indices = fold_indices(data, 4, seed=0)
    y = data.targets.numpy()
    for c, n_c in enumerate([30, 20, 13]):
        per_fold = [int((y[held] == c).sum()) for held in indices]
        assert sum(per_fold) == n_c
        assert max(per_fold) - min(per_fold) <= 1  # floor or ceil of n_c / K


def test_regression_folds_keep_quantile_bins() -> None:
    rng = np.random.default_rng(0)
    values = rng.exponential(size=200)
    data = MultimodalDataset({"a": rng.normal(size=(200, 3))}, values, task="regression")
    edges = np.quantile(values, np.linspace(0, 1, 11)[1:-1])
    bins = np.searchsorted(edges, values, side="right")
    for held in fold_indices(data, 5, seed=0):
        counts = np.bincount(bins[held], minlength=10)
        assert counts.min() >= 3 and counts.max() <= 5  # 20 per bin, 4 per fold


def test_multilabel_folds_partition_at_random() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 3)) < 0.4).astype(int)
    data = MultimodalDataset({"a": rng.normal(size=(60, 3))}, labels, task="multilabel")
    indices = fold_indices(data, 3, seed=2)
    assert sorted(np.concatenate(indices)) == list(range(60))
    assert [len(i) for i in indices] == [20, 20, 20]


def test_folds_and_inner_validation_respect_groups() -> None:
    data = labelled([40, 40], groups=12)
    groups = np.asarray(data.metadata["group"])
    folds = cv_splits(data, 3, seed=0)
    held_groups = [set(groups[rows(f.test)]) for f in folds]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not held_groups[i] & held_groups[j]  # a group is held out by one fold
    for fold in folds:
        train, val, test = (set(groups[rows(p)]) for p in fold)
        assert not train & val and not train & test and not val & test


def test_each_fold_is_standardized_on_its_own_training_part() -> None:
    data = labelled([25, 25, 25])
    raw = data.modalities["a"].double().numpy()
    for fold in cv_splits(data, 3, seed=0):
        train_rows = rows(fold.train)
        mean = raw[train_rows].mean(axis=0)
        std = raw[train_rows].std(axis=0)
        for part in fold:
            expected = (raw[rows(part)] - mean) / std
            assert np.allclose(part.modalities["a"].numpy(), expected, atol=1e-5)
        assert np.allclose(fold.train.modalities["a"].numpy().mean(axis=0), 0, atol=1e-5)
        # the held-out part's own statistics were not used
        assert not np.allclose(fold.test.modalities["a"].numpy().mean(axis=0), 0, atol=1e-3)


def test_raw_folds_hold_the_same_samples_unstandardized() -> None:
    data = labelled([20, 20])
    raw = cv_splits(data, 3, seed=0, standardized=False)
    for fold, scaled in zip(raw, cv_splits(data, 3, seed=0), strict=True):
        for part, other in zip(fold, scaled, strict=True):
            assert rows(part).tolist() == rows(other).tolist()
            index = rows(part)
            assert np.array_equal(part.modalities["a"].numpy(), data.modalities["a"][index])
    inner = tuning_splits(raw[0], seed=0)  # tuning inside one outer fold: its test unread
    assert not set(rows(raw[0].test)) & set(np.concatenate([rows(f.test) for f in inner]))


def test_same_seed_same_folds() -> None:
    data = labelled([20, 20])
    first = [rows(f.test).tolist() for f in cv_splits(data, 3, seed=4)]
    assert first == [rows(f.test).tolist() for f in cv_splits(data, 3, seed=4)]
    assert first != [rows(f.test).tolist() for f in cv_splits(data, 3, seed=5)]


@pytest.mark.parametrize("k", [1, 0, -2, True, 2.0])
def test_fewer_than_two_folds_is_an_error(k) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="at least 2 folds"):
        check_folds(labelled([10, 10]), k)


def test_more_folds_than_the_smallest_class_names_the_class() -> None:
    data = MultimodalDataset(
        {"a": np.random.default_rng(0).normal(size=(23, 2))}, [7] * 20 + [9] * 3
    )
    with pytest.raises(ValueError, match=r"class 9 has only 3 samples, fewer than the 5 folds"):
        cv_splits(data, 5)
    assert len(cv_splits(data, 3)) == 3


def test_fewer_groups_than_folds_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"has 3 groups .* fewer than the 4 folds.*--cv 3"):
        cv_splits(labelled([20, 20], groups=3), 4)


def test_inner_holdout_keeps_a_single_sample_in_training() -> None:
    data = labelled([6, 1])
    rest, held = inner_holdout(data, 0.2, seed=0)
    assert 1 in rest.targets.tolist() and 1 not in held.targets.tolist()
    assert len(held) == 1  # round(6 * 0.2)


def test_pooled_parts_keep_their_samples_and_metadata() -> None:
    data = labelled([10, 10])
    a, b = data.subset([0, 3, 5]), data.subset([19, 2])
    both = pooled([a, b])
    assert rows(both).tolist() == [0, 3, 5, 19, 2]
    assert both.targets.tolist() == data.targets[[0, 3, 5, 19, 2]].tolist()
    assert np.array_equal(both.modalities["a"].numpy(), data.modalities["a"][[0, 3, 5, 19, 2]])


def test_tuning_on_small_data_cross_validates_the_training_and_validation_parts() -> None:
    data = labelled([40, 30, 30])
    splits = split_dataset(data, seed=0)
    folds = tuning_splits(splits, seed=0)
    assert len(folds) == 5
    test_rows = set(rows(splits.test))
    pool = set(rows(splits.train)) | set(rows(splits.val))
    held = np.concatenate([rows(f.test) for f in folds])
    assert sorted(held) == sorted(pool)  # every training or validation sample scored once
    for fold in folds:
        assert not test_rows & set().union(*(set(rows(p)) for p in fold))


def test_tuning_on_larger_data_uses_the_fixed_validation_part() -> None:
    data = labelled([40, 30, 30])
    splits = split_dataset(data, seed=0)
    (only,) = tuning_splits(splits, seed=0, small=50)
    assert rows(only.train).tolist() == rows(splits.train).tolist()
    assert rows(only.val).tolist() == rows(splits.val).tolist() == rows(only.test).tolist()
    assert SMALL_DATA == 1000
    assert len(tuning_splits(splits, seed=0, small=50, folds=3)) == 3
    assert len(tuning_splits(splits, seed=0, folds=1)) == 1


def test_automatic_folds_shrink_to_the_smallest_class() -> None:
    assert auto_folds(labelled([20, 3])) == 3
    assert auto_folds(labelled([20, 1])) == 1
    assert auto_folds(labelled([20, 20], groups=2)) == 2
    splits = DataSplits(*(labelled([4, 1]) for _ in range(3)))
    assert len(tuning_splits(splits, seed=0)) == 2  # the pooled parts hold class 1 twice
