from __future__ import annotations

import pytest
import torch

from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier, UnimodalClassifier


def build() -> FusionClassifier:
    torch.manual_seed(0)
    encoders = {"b": MLP(3, 4, final_activation=True), "a": MLP(2, 4, final_activation=True)}
    return FusionClassifier(encoders, ConcatFusion({"a": 4, "b": 4}, 5), MLP(5, 3))


def test_forward_is_head_of_fusion_of_encoders() -> None:
    model = build()
    x = {"a": torch.randn(6, 2), "b": torch.randn(6, 3), "unused": torch.randn(6, 9)}
    h = {"a": model.encoders["a"](x["a"]), "b": model.encoders["b"](x["b"])}
    torch.testing.assert_close(model(x), model.head(model.fusion(h)))
    assert model.modalities == ["a", "b"]


def test_mask_zeroes_the_features_of_absent_modalities() -> None:
    model = build()
    x = {"a": torch.randn(4, 2), "b": torch.randn(4, 3)}
    mask = {"a": torch.tensor([True, False, True, False]), "b": torch.ones(4, dtype=torch.bool)}
    h = {"a": model.encoders["a"](x["a"]), "b": model.encoders["b"](x["b"])}
    h["a"][~mask["a"]] = 0.0
    torch.testing.assert_close(model(x, mask), model.head(model.fusion(h)))


def test_missing_modality_is_named() -> None:
    with pytest.raises(KeyError, match=r"lack \['b'\]"):
        build()({"a": torch.randn(2, 2)})
    unimodal = UnimodalClassifier("a", MLP(2, 4), MLP(4, 3))
    with pytest.raises(KeyError, match=r"lack \['a'\]"):
        unimodal({"b": torch.randn(2, 3)})
    assert unimodal({"a": torch.randn(2, 2), "b": torch.randn(2, 3)}).shape == (2, 3)
