from __future__ import annotations

import numpy as np
import pytest
import torch

from intermodal.data import MultimodalDataset, Standardizer, standardize, stratified_split


def dataset(counts=(40, 20, 60), seed: int = 0) -> MultimodalDataset:
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    return MultimodalDataset(
        {
            "x": rng.normal(3.0, 2.0, size=(len(y), 4)),
            "img": rng.normal(1.0, 5.0, size=(len(y), 2, 3, 3)),
        },
        y,
        masks={"x": np.arange(len(y)) % 5 != 0},
    )


def test_split_is_stratified_disjoint_and_complete() -> None:
    data = dataset()
    data.metadata["row"] = np.arange(len(data))
    splits = stratified_split(data, val_size=0.15, test_size=0.25, seed=3)
    rows = [set(part.metadata["row"].tolist()) for part in splits]
    assert not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])
    assert set.union(*rows) == set(range(len(data)))
    for c, count in enumerate((40, 20, 60)):
        n_test, n_val = round(count * 0.25), round(count * 0.15)
        assert int((splits.test.targets == c).sum()) == n_test
        assert int((splits.val.targets == c).sum()) == n_val
        assert int((splits.train.targets == c).sum()) == count - n_test - n_val


def test_split_is_reproducible() -> None:
    data = dataset()
    first, again, other = (stratified_split(data, seed=s) for s in (1, 1, 2))
    assert torch.equal(first.test.modalities["x"], again.test.modalities["x"])
    assert not torch.equal(first.test.modalities["x"], other.test.modalities["x"])


def test_split_that_would_empty_a_class_is_refused() -> None:
    with pytest.raises(ValueError, match="class 1 has only 2 samples"):
        stratified_split(dataset(counts=(30, 2)))


def test_standardizer_uses_training_statistics_only() -> None:
    splits = stratified_split(dataset(), seed=0)
    scaled = standardize(splits)
    train_x = splits.train.modalities["x"].numpy()
    present = splits.train.masks["x"].numpy()
    mean, std = train_x[present].mean(axis=0), train_x[present].std(axis=0)
    for raw, out in zip(splits, scaled, strict=True):
        x, m = raw.modalities["x"].numpy(), raw.masks["x"].numpy()
        expected = np.where(m[:, None], (x - mean) / std, 0.0)
        np.testing.assert_allclose(out.modalities["x"].numpy(), expected, rtol=1e-4, atol=1e-5)
    img = splits.train.modalities["img"].numpy()
    channel_mean = img.mean(axis=(0, 2, 3), keepdims=True)
    channel_std = img.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(
        scaled.test.modalities["img"].numpy(),
        (splits.test.modalities["img"].numpy() - channel_mean) / channel_std,
        rtol=1e-4,
        atol=1e-5,
    )


def test_constant_feature_gives_no_nan() -> None:
    data = MultimodalDataset({"x": np.ones((10, 2))}, np.arange(10) % 2)
    out = Standardizer().fit(data).transform(data)
    assert torch.isfinite(out.modalities["x"]).all() and (out.modalities["x"] == 0).all()
