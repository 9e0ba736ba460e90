from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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


@pytest.fixture
def toy() -> MultimodalDataset:
    return blobs()
