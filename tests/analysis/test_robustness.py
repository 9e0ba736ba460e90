from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.analysis import corrupt, effective_robustness, relative_robustness, robustness_curve
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier
from tests.helpers import blobs


def test_corruptions_do_what_they_say() -> None:
    data = blobs(n_per_class=400)
    x = data.modalities["a"]
    noisy = corrupt(data, "a", "noise", 2.0).modalities["a"]
    assert float((noisy - x).std()) == pytest.approx(2.0, rel=0.05)
    assert torch.equal(corrupt(data, "a", "noise", 2.0).modalities["b"], data.modalities["b"])
    dropped = corrupt(data, "a", "dropout", 0.3).modalities["a"]
    assert float((dropped == 0).double().mean()) == pytest.approx(0.3, abs=0.02)
    missing = corrupt(data, "a", "missing", 0.25)
    absent = ~missing.masks["a"]
    assert float(absent.double().mean()) == pytest.approx(0.25, abs=0.03)
    assert (missing.modalities["a"][absent] == 0).all() and missing.masks["b"].all()
    with pytest.raises(KeyError, match="unknown modality"):
        corrupt(data, "z", "noise", 1.0)


def test_missing_modality_curve_ends_at_the_other_modality_alone() -> None:
    data = blobs()
    torch.manual_seed(0)
    model = FusionClassifier(
        {"a": MLP(5, 4), "b": MLP(3, 4)}, ConcatFusion({"a": 4, "b": 4}, 3)
    ).eval()
    curve = robustness_curve(model, data, "a", "missing", levels=[0.0, 1.0])
    without_a = model.fusion(
        {"a": torch.zeros(len(data), 4), "b": model.encoders["b"](data.modalities["b"])}
    )
    expected = float((without_a.argmax(1) == data.targets).double().mean())
    assert curve["score"].iloc[1] == pytest.approx(expected)


def test_relative_and_effective_robustness() -> None:
    curve = pd.DataFrame({"level": [0.0, 0.5, 2.0], "score": [0.9, 0.8, 0.4]})
    base = pd.DataFrame({"level": [0.0, 0.5, 2.0], "score": [0.8, 0.6, 0.5]})
    area = 0.5 * (0.9 + 0.8) / 2 + 1.5 * (0.8 + 0.4) / 2
    assert relative_robustness(curve) == pytest.approx(area / 2.0)
    drops = np.array([0.0, -0.1, -0.5]) - np.array([0.0, -0.2, -0.3])
    assert effective_robustness(curve, base) == pytest.approx(drops.mean())
