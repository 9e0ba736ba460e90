"""The classical baselines' features computed here, independently, from their definition: the
vector modalities in sorted order, then one presence column per modality; every column
standardized with the training split's mean and population standard deviation over the rows
where its modality is present (scale 1 for a constant column); an absent modality's block 0."""

from __future__ import annotations

import numpy as np

from intermodal.data import DataSplits, MultimodalDataset


def _scale(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = part.mean(axis=0), part.std(axis=0)
    return mean, np.where(std > 1e-8 * (1 + np.abs(mean)), std, 1.0)


def feature_matrices(splits: DataSplits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The standardized features ``(N, F)`` of the training, validation and test splits."""
    names = sorted(splits.train.modality_names)

    def parts(data: MultimodalDataset) -> tuple[list[np.ndarray], np.ndarray]:
        blocks = [data.modalities[k].numpy().astype(np.float64) for k in names]
        present = np.stack([data.masks[k].numpy() for k in names], axis=1)
        return blocks, present

    train_blocks, train_present = parts(splits.train)
    statistics = [_scale(b[train_present[:, i]]) for i, b in enumerate(train_blocks)]
    presence_statistics = _scale(train_present.astype(np.float64))

    def matrix(data: MultimodalDataset) -> np.ndarray:
        blocks, present = parts(data)
        columns = []
        for i, (block, (mean, scale)) in enumerate(zip(blocks, statistics, strict=True)):
            columns.append(np.where(present[:, i : i + 1], (block - mean) / scale, 0.0))
        columns.append(
            (present.astype(np.float64) - presence_statistics[0]) / presence_statistics[1]
        )
        return np.concatenate(columns, axis=1)

    return matrix(splits.train), matrix(splits.val), matrix(splits.test)
