from __future__ import annotations

import torch

from intermodal.analysis import complexity
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier


def test_flops_parameters_and_memory_of_a_small_model() -> None:
    model = FusionClassifier(
        {"a": MLP(10, 6), "b": MLP(4, 6)}, ConcatFusion({"a": 6, "b": 6}, 5), MLP(5, 3)
    )
    result = complexity(model, {"a": torch.randn(8, 10), "b": torch.randn(8, 4)})
    multiply_adds = 10 * 6 + 4 * 6 + 12 * 5 + 5 * 3
    assert result["flops_per_sample"] == 2 * multiply_adds
    assert result["parameters"] == sum(p.numel() for p in model.parameters())
    outputs = 8 * (6 + 6 + 12 + 5 + 3) * 4  # bytes of the activations of the batch
    assert outputs / 2**20 <= result["peak_memory_mb"] < 10 * outputs / 2**20
    assert result["latency_ms_per_sample"] > 0
