"""Reproducible stratified splits and per-modality standardization fitted on the training split."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from intermodal.data.dataset import MultimodalDataset
from intermodal.errors import UnknownNameError


class DataSplits(NamedTuple):
    """Training, validation and test data sets drawn from one data set."""

    train: MultimodalDataset
    val: MultimodalDataset
    test: MultimodalDataset


STRATA = 10
"""Quantile bins of a regression target that a split keeps in proportion."""


def strata(dataset: MultimodalDataset, bins: int = STRATA) -> np.ndarray:
    """The groups a split keeps in proportion: the class (classification); a quantile bin of the
    target, of its first column for several targets (regression); one group (multilabel: a
    simple random split)."""
    if dataset.task == "classification":
        return dataset.targets.numpy()
    if dataset.task == "multilabel":
        return np.zeros(len(dataset), dtype=np.int64)
    values = dataset.targets.numpy().reshape(len(dataset), -1)[:, 0]
    bins = max(1, min(bins, len(dataset) // 10))
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, values, side="right")


def _stratified_parts(
    dataset: MultimodalDataset, fractions: tuple[float, ...], seed: int
) -> list[np.ndarray]:
    """Per stratum (see :func:`strata`), shuffle with ``seed`` and give ``round(n_c * f)``
    samples (at least one) to each fraction f in turn; the rest comes first in the result."""
    for size in fractions:
        if not 0.0 < size < 1.0:
            raise ValueError(f"split sizes must be fractions in (0, 1), got {size}")
    if sum(fractions) >= 1.0:
        raise ValueError(f"split sizes must add up to less than 1, got {sum(fractions)}")
    rng = np.random.default_rng(seed)
    groups = strata(dataset)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        counts = [max(1, round(len(members) * size)) for size in fractions]
        if len(members) < sum(counts) + 1:
            what = (
                f"class {dataset.classes[group]}"
                if dataset.task == "classification"
                else "the data set"
            )
            raise ValueError(
                f"{what} has only {len(members)} samples, so a split with parts of "
                f"{', '.join(map(str, fractions))} leaves a part without it; collect more "
                "samples or drop it"
            )
        start = 0
        for part, count in zip(parts[1:], counts, strict=True):
            part.append(members[start : start + count])
            start += count
        parts[0].append(members[start:])
    return [np.sort(np.concatenate(p)) for p in parts]


def stratified_split(
    dataset: MultimodalDataset, val_size: float = 0.15, test_size: float = 0.15, seed: int = 0
) -> DataSplits:
    """Split ``dataset`` so that every class keeps its proportion in each part.

    Each class c with n_c samples gives ``round(n_c * test_size)`` samples to the test set and
    ``round(n_c * val_size)`` to the validation set (at least one each), the rest to training.
    Regression targets are stratified on 10 quantile bins (of the first target column); a
    multi-label data set is split at random. The same seed gives the same split.

    Raises:
        ValueError: if a class has too few samples to appear in every part.
    """
    train, test, val = _stratified_parts(dataset, (test_size, val_size), seed)
    return DataSplits(dataset.subset(train), dataset.subset(val), dataset.subset(test))


def holdout_split(
    dataset: MultimodalDataset, size: float = 0.2, seed: int = 0
) -> tuple[MultimodalDataset, MultimodalDataset]:
    """Stratified two-way split ``(rest, held_out)``: ``round(n_c * size)`` held out per class."""
    rest, held = _stratified_parts(dataset, (size,), seed)
    return dataset.subset(rest), dataset.subset(held)


_REDUCE_DIMS = {"vector": (0,), "sequence": (0, 1), "image": (0, 2, 3), "audio": None}
"""Dimensions pooled into one statistic: per feature (vector, sequence), per channel (image),
one for the whole waveform (audio). Text is not standardized."""


def standardization_statistics(values: Tensor, present: Tensor, kind: str) -> tuple[Tensor, Tensor]:
    """Mean and scale of a modality's present samples for ``(x - mean) / std``, shaped to
    broadcast against its values ``(N, *shape)``: per feature (vector, sequence), per channel
    (image), one for the whole waveform (audio); a scale without variance is 1. ``present``:
    ``(N,)`` bool."""
    present_values = values[present]
    dims = _REDUCE_DIMS[kind] or tuple(range(values.ndim))
    mean = present_values.double().mean(dim=dims, keepdim=True)
    std = present_values.double().std(dim=dims, keepdim=True, correction=0)
    std = torch.where(std > 1e-8 * (1 + mean.abs()), std, torch.ones_like(std))
    return mean.float(), std.float()


def standardize_values(values: Tensor, present: Tensor | None, mean: Tensor, std: Tensor) -> Tensor:
    """``(x - mean) / std`` where the modality is present, zero where it is absent.

    Shape:
        ``values (B, *shape), present (B,) or None (every sample present) -> (B, *shape)``
    """
    z = (values - mean.to(values.device)) / std.to(values.device)
    if present is None:
        return z
    mask = present.to(values.device).reshape(-1, *[1] * (values.ndim - 1))
    return torch.where(mask, z, torch.zeros_like(z))


class Standardizer:
    """Per-modality standardization ``(x - mean) / std`` with statistics from the training data.

    Vectors and sequences are standardized per feature, images per channel and audio with one
    mean and scale. Samples whose modality is absent (mask False) are left out of the statistics
    and stay zero after the transform. Features with zero variance get a scale of 1.

    ``state_dict()`` exports the statistics as tensors (``"{modality}.mean"``,
    ``"{modality}.std"``) and ``load_state_dict`` imports them, e.g. to keep them in a
    safetensors file.
    """

    def __init__(self) -> None:
        self.mean_: dict[str, Tensor] = {}
        self.std_: dict[str, Tensor] = {}
        self.tables_: dict[str, Any] = {}

    def fit(self, dataset: MultimodalDataset) -> Standardizer:
        from intermodal.data.tabular import TabularEncoding

        for key, values in dataset.modalities.items():
            if dataset.kinds[key] == "text":
                continue
            if dataset.kinds[key] == "tabular":  # its own encoding, as a Preprocessor's
                self.tables_[key] = TabularEncoding.fit(dataset, key)
                continue
            if not dataset.masks[key].any():
                raise ValueError(f"modality {key!r} is absent in every training sample")
            self.mean_[key], self.std_[key] = standardization_statistics(
                values, dataset.masks[key], dataset.kinds[key]
            )
        self.fitted_ = True
        return self

    def state_dict(self) -> dict[str, Tensor]:
        """The statistics, ``{"{modality}.mean": ..., "{modality}.std": ...}``."""
        if not getattr(self, "fitted_", False):
            raise RuntimeError("call fit(training_data) before state_dict")
        state = {f"{key}.mean": mean for key, mean in self.mean_.items()}
        state.update({f"{key}.std": std for key, std in self.std_.items()})
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> Standardizer:
        """Import statistics exported by :meth:`state_dict`."""
        names = {key.rpartition(".")[0] for key in state}
        for key in sorted(names):
            mean, std = state.get(f"{key}.mean"), state.get(f"{key}.std")
            if mean is None or std is None or mean.shape != std.shape:
                raise ValueError(
                    f"the statistics of {key!r} need a mean and a std of one shape; got keys "
                    f"{sorted(k for k in state if k.startswith(key + '.'))}"
                )
            if not bool((std > 0).all()):
                raise ValueError(f"the std of {key!r} must be positive everywhere")
            self.mean_[key], self.std_[key] = mean.float(), std.float()
        self.fitted_ = True
        return self

    def transform(self, dataset: MultimodalDataset) -> MultimodalDataset:
        if not getattr(self, "fitted_", False):
            raise RuntimeError("call fit(training_data) before transform")
        numeric = [k for k in dataset.modality_names if dataset.kinds[k] != "text"]
        missing = sorted(set(numeric) - set(self.mean_) - set(self.tables_))
        if missing:
            raise UnknownNameError(f"the standardizer was not fitted on modalities {missing}")
        scaled = {
            key: standardize_values(
                dataset.modalities[key], dataset.masks[key], self.mean_[key], self.std_[key]
            )
            for key in numeric
            if key in self.mean_
        }
        features = {}
        for key, table in self.tables_.items():
            if key in dataset.modalities:
                aligned = table.align(dataset, key)
                scaled[key] = table(aligned, dataset.masks[key])
                features[key] = table.output_features
        categories = {key: self.tables_[key].categories for key in features}
        return dataset.with_modalities(scaled, features, categories)


def standardize(splits: DataSplits) -> DataSplits:
    """Fit a :class:`Standardizer` on ``splits.train`` and apply it to every split."""
    scaler = Standardizer().fit(splits.train)
    return DataSplits(*(scaler.transform(part) for part in splits))


def _unseen(parts: DataSplits) -> list[tuple[int, list[int]]]:
    """The classes (classification) or labels (multilabel) present in the validation or test
    part but never in training, each with its count of samples per part (train, val, test)."""
    task = parts.train.task
    if task not in ("classification", "multilabel"):
        return []
    size = len(parts.train.classes)
    if task == "classification":
        counts = [np.bincount(part.targets.numpy(), minlength=size) for part in parts]
    else:
        counts = [part.targets.numpy().sum(axis=0).astype(np.int64) for part in parts]
    train, val, test = counts
    return [
        (int(index), [int(train[index]), int(val[index]), int(test[index])])
        for index in np.flatnonzero((train == 0) & (val + test > 0))
    ]


def check_learnable(parts: DataSplits, given: bool = True, seed: int = 0) -> None:
    """Refuse a split whose validation or test part holds a class (or, multi-label, a label)
    that no training sample has: a model cannot learn it, so every such test sample would count
    as an error of the model and not of the data. The error names each class with its count of
    samples per part and says what to do (``given``: the data set's own split, else the split
    drawn with ``seed``).

    Raises:
        ValueError: if a class or label is absent from the training part but present in
            another part.
    """
    unseen = _unseen(parts)
    if not unseen:
        return
    dataset = parts.train
    label = dataset.task == "multilabel"
    noun, verb = ("label", "positive in") if label else ("class", "in")
    names = [f"{i}" if label else f"{dataset.classes[i]}" for i, _ in unseen]
    counts = "; ".join(
        f"{noun} {name}: {train} train, {val} validation, {test} test samples"
        for name, (_, (train, val, test)) in zip(names, unseen, strict=True)
    )
    one = len(unseen) == 1
    nouns = noun if one else {"class": "classes", "label": "labels"}[noun]
    if given:
        fix = f"mark some of its samples as train in the split column, or drop the {nouns}"
    else:
        fix = (
            f"in the split drawn with seed {seed}; collect more samples with the {nouns}, or "
            f"drop {'it' if one else 'them'}"
        )
    raise ValueError(
        f"{nouns} {', '.join(names)} {'is' if one else 'are'} {verb} the validation or test part "
        f"but in no training sample ({counts}): a model cannot learn a {noun} it never sees; "
        f"{fix}"
    )


def split_dataset(
    dataset: MultimodalDataset, val_size: float = 0.15, test_size: float = 0.15, seed: int = 0
) -> DataSplits:
    """The data set's own split when its metadata has a ``split`` column (``train`` / ``test``,
    optionally ``val``/``valid``), with a validation part drawn from training when it has none:
    whole groups when the metadata has a ``group`` column (see :func:`group_holdout`), else
    stratified; otherwise :func:`stratified_split`.

    A split that cannot be learned is refused rather than warned about (see
    :func:`check_learnable`): a class in the test or validation part that no training sample
    has, or a multi-label column never positive in training but positive in another part.

    Raises:
        ValueError: naming the classes and their counts per part, and what to do.
    """
    if "split" not in dataset.metadata:
        parts = stratified_split(dataset, val_size, test_size, seed)
        check_learnable(parts, given=False, seed=seed)
        return parts
    train, val, test = _own_split(dataset, val_size, seed)
    if len(test) == 0:
        raise ValueError("the split column marks no sample as test")
    parts = DataSplits(train, val, dataset.subset(test))
    check_learnable(parts, given=True, seed=seed)
    return parts


def training_split(
    dataset: MultimodalDataset, val_size: float = 0.15, seed: int = 0
) -> tuple[MultimodalDataset, MultimodalDataset, int]:
    """All the training data of ``dataset`` and a validation part for early stopping, for a
    model trained to be used rather than compared: ``(train, val, left_out)``.

    With a ``split`` column: its train rows, and its val rows or a validation part drawn from
    the train rows (as :func:`split_dataset` does); its test rows are left out (``left_out``
    counts them). Otherwise a stratified validation part of ``val_size`` (whole groups with a
    ``group`` column) and every other sample for training."""
    if "split" in dataset.metadata:
        train, val, test = _own_split(dataset, val_size, seed)
        return train, val, len(test)
    if "group" in dataset.metadata:
        train, val = group_holdout(dataset, val_size, seed)
    else:
        train, val = holdout_split(dataset, val_size, seed)
    return train, val, 0


def _own_split(
    dataset: MultimodalDataset, val_size: float, seed: int
) -> tuple[MultimodalDataset, MultimodalDataset, np.ndarray]:
    """The training and validation parts of a data set's own split, and its test rows."""
    split = np.asarray(dataset.metadata["split"]).astype(str)
    unknown = sorted(set(split) - {"train", "val", "valid", "test"})
    if unknown:
        raise ValueError(f"the split column holds {unknown}; use train, val (or valid) and test")
    test = np.flatnonzero(split == "test")
    train_rows = np.flatnonzero(split == "train")
    if len(train_rows) == 0:
        raise ValueError("the split column marks no sample as train")
    train = dataset.subset(train_rows)
    if dataset.task == "classification":
        present = np.unique(train.targets.numpy())
        if len(present) < 2:
            raise ValueError(
                f"the split column's training part holds only class "
                f"{dataset.classes[int(present[0])]} ({len(train)} samples); a classifier needs "
                "at least two classes to learn from: mark samples of other classes as train"
            )
    given_val = np.flatnonzero(np.isin(split, ["val", "valid"]))
    if len(given_val):
        val = dataset.subset(given_val)
    elif "group" in train.metadata:
        train, val = group_holdout(train, val_size, seed)
    else:
        train, val = holdout_split(train, val_size, seed)
    return train, val, test


def group_holdout(
    dataset: MultimodalDataset, size: float = 0.15, seed: int = 0
) -> tuple[MultimodalDataset, MultimodalDataset]:
    """``(rest, held_out)`` with whole groups (metadata ``group``, e.g. the video of an
    utterance) on one side: groups are drawn in a seeded random order until the held-out part
    has ``round(N * size)`` samples or more, so no group has samples on both sides."""
    if not 0.0 < size < 1.0:
        raise ValueError(f"the held-out size must be a fraction in (0, 1), got {size}")
    groups = np.asarray(dataset.metadata["group"]).astype(str)
    names = np.random.default_rng(seed).permutation(np.unique(groups))
    if len(names) < 2:
        raise ValueError("a split by group needs at least two groups")
    held: list[str] = []
    wanted, count = max(1, round(len(dataset) * size)), 0
    sizes = {name: int(np.sum(groups == name)) for name in names}
    for name in names[:-1]:
        if count >= wanted:
            break
        held.append(name)
        count += sizes[name]
    out = np.isin(groups, held)
    return dataset.subset(np.flatnonzero(~out)), dataset.subset(np.flatnonzero(out))
