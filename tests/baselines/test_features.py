"""The feature vectors of the classical baselines, against references computed here with NumPy
and the tokenizer's own encodings."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from intermodal.baselines import FeatureVectors, build_features, feature_reason
from intermodal.data import MultimodalDataset
from intermodal.data.text import decode_texts


def standardized(columns: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of ``columns`` over ``rows`` (population std; 1 for constant columns)."""
    part = columns[rows]
    mean, std = part.mean(axis=0), part.std(axis=0)
    return mean, np.where(std > 1e-8 * (1 + np.abs(mean)), std, 1.0)


def mixed(n: int = 12, seed: int = 0) -> MultimodalDataset:
    rng = np.random.default_rng(seed)
    words = ["red", "green", "blue", "square", "circle", "big"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(n)]
    present = np.ones(n, dtype=bool)
    present[[1, 4]] = False
    return MultimodalDataset(
        {
            "v": rng.normal(size=(n, 3)) * 5 + 2,
            "s": rng.normal(size=(n, 4, 2)),
            "t": texts,
        },
        np.arange(n) % 2,
        masks={"v": present},
    )


def test_blocks_follow_sorted_modalities_then_presence_columns() -> None:
    data = mixed()
    features = build_features(data).fit(data)
    vocabulary = features.blocks["t"][1] - features.blocks["t"][0]
    assert features.blocks == {
        "s": (0, 2),
        "t": (2, 2 + vocabulary),
        "v": (2 + vocabulary, 5 + vocabulary),
    }
    assert features.width == 5 + vocabulary + 3

    values, present = features.raw(data.modalities, data.masks)
    raw = values.numpy()
    sequence_mean = data.modalities["s"].double().numpy().mean(axis=1)
    np.testing.assert_allclose(raw[:, 0:2], sequence_mean, rtol=1e-12)
    np.testing.assert_array_equal(
        raw[:, -3:], np.stack([np.ones(12), np.ones(12), data.masks["v"]], 1)
    )
    tokenizer = features._tokenizers["t"]
    for row, text in enumerate(decode_texts(data.modalities["t"])):
        counts = Counter(tokenizer.encode(text).ids)
        expected = np.zeros(vocabulary)
        for token, count in counts.items():
            expected[token] = count
        np.testing.assert_array_equal(raw[row, 2 : 2 + vocabulary], expected)
    assert present.dtype == torch.bool and present.shape == (12, 3)


def test_standardized_on_the_present_training_rows_and_absent_blocks_are_zero() -> None:
    data = mixed()
    features = build_features(data).fit(data)
    raw, _ = features.raw(data.modalities, data.masks)
    raw = raw.numpy()
    z = features(data.modalities, data.masks).numpy()
    start, stop = features.blocks["v"]
    present = data.masks["v"].numpy()
    mean, scale = standardized(raw[:, start:stop], present)
    np.testing.assert_allclose(z[present, start:stop], (raw[present, start:stop] - mean) / scale)
    assert (z[~present, start:stop] == 0).all()
    np.testing.assert_allclose(z[present, start:stop].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z[present, start:stop].std(axis=0), 1)
    presence_v = z[:, -1]  # the last presence column is v's
    mean, scale = standardized(present.astype(float)[:, None], np.ones(12, bool))
    np.testing.assert_allclose(presence_v, (present - mean[0]) / scale[0])
    assert (z[:, -3:-1] == 0).all()  # s and t are always present: constant columns, scale 1


def test_a_mask_given_at_prediction_time_empties_the_block() -> None:
    data = mixed()
    features = build_features(data).fit(data)
    hidden = {"s": torch.zeros(12, dtype=torch.bool)}
    z = features(data.modalities, hidden)
    assert (z[:, 0:2] == 0).all()
    full = features(data.modalities, None)
    assert (z[:, 2:-3] == full[:, 2:-3]).all()


def test_images_and_audio_have_no_feature_vector() -> None:
    data = MultimodalDataset(
        {"img": np.zeros((4, 1, 3, 3)), "wave": np.zeros((4, 50)), "v": np.zeros((4, 2))},
        [0, 1, 0, 1],
        kinds={"wave": "audio"},
    )
    reason = feature_reason(data)
    assert reason is not None
    assert "img (image), wave (audio) have none" in reason and "--backbone img=" in reason
    assert feature_reason(data.select(["v"])) is None
    with pytest.raises(ValueError, match="feature vector"):
        build_features(data)
    with pytest.raises(ValueError, match="has no feature vector"):
        FeatureVectors({"img": "image"}, {"img": [1, 3, 3]})


def test_a_modality_absent_in_every_training_sample_is_an_error() -> None:
    data = MultimodalDataset(
        {"a": np.ones((4, 2)), "b": np.ones((4, 2))}, [0, 1, 0, 1], masks={"a": [False] * 4}
    )
    with pytest.raises(ValueError, match="'a' is absent in every training sample"):
        build_features(data).fit(data)
