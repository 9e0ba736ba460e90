"""Helpers shared by the tests: small data sets with known structure and the shared data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from intermodal.data import MultimodalDataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def blobs(n_per_class: int = 40, n_classes: int = 3, seed: int = 0) -> MultimodalDataset:
    """Two vector modalities whose class means differ: an easy, separable problem."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    centers_a = rng.normal(size=(n_classes, 5)) * 3
    centers_b = rng.normal(size=(n_classes, 3)) * 3
    a = centers_a[y] + rng.normal(size=(len(y), 5))
    b = centers_b[y] + rng.normal(size=(len(y), 3))
    return MultimodalDataset({"b": b, "a": a}, y, name="blobs")


def write_affect(path: Path, n: int = 30, seed: int = 0) -> None:
    """A small file in MultiBench's affect format (as CMU-MOSI): splits of vision, audio, text
    sequences and continuous sentiment labels, with an infinite value as the real files have."""
    rng = np.random.default_rng(seed)
    data = {}
    for split in ("train", "valid", "test"):
        score = rng.uniform(-3, 3, size=(n, 1, 1))
        sign = np.sign(score).reshape(n, 1, 1)
        data[split] = {
            "vision": rng.normal(size=(n, 5, 4)) + sign,
            "audio": rng.normal(size=(n, 5, 3)) + sign,
            "text": rng.normal(size=(n, 5, 6)) + 2 * sign,
            "labels": score,
        }
    data["train"]["vision"][0, 0, 0] = np.inf
    path.write_bytes(pickle.dumps(data))
