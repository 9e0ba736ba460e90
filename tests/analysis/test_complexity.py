from __future__ import annotations

import torch

from intermodal.analysis import model_cost
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier


def test_flops_parameters_and_memory_of_a_small_model() -> None:
    model = FusionClassifier(
        {"a": MLP(10, 6), "b": MLP(4, 6)}, ConcatFusion({"a": 6, "b": 6}, 5), MLP(5, 3)
    )
    model.fusion.requires_grad_(False)
    model.train()
    cost = model_cost(model, {"a": torch.randn(8, 10), "b": torch.randn(8, 4)})
    assert model.training, "the model's mode is restored"
    multiply_adds = 10 * 6 + 4 * 6 + 12 * 5 + 5 * 3
    assert cost.flops_per_sample == 2 * multiply_adds
    assert cost.parameters == 10 * 6 + 6 + 4 * 6 + 6 + 12 * 5 + 5 + 5 * 3 + 3
    assert cost.trainable_parameters == cost.parameters - (12 * 5 + 5)
    outputs = 8 * (6 + 6 + 12 + 5 + 3) * 4  # bytes of the activations of the batch
    assert outputs / 2**20 <= cost.peak_memory_mb < 10 * outputs / 2**20
    assert cost.latency_ms_per_sample > 0
