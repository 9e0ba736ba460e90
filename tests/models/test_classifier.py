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


def strategy_model(missing: str, dropout: float = 0.5) -> FusionClassifier:
    torch.manual_seed(0)
    encoders = {"b": MLP(3, 4, final_activation=True), "a": MLP(2, 4, final_activation=True)}
    fusion = ConcatFusion({"a": 4, "b": 4}, 5)
    return FusionClassifier(encoders, fusion, MLP(5, 3), missing=missing, dropout=dropout)


def test_the_learned_strategy_puts_a_trained_embedding_in_place_of_an_absent_modality() -> None:
    model = strategy_model("learned").eval()
    x = {"a": torch.randn(4, 2), "b": torch.randn(4, 3)}
    mask = {"a": torch.tensor([True, False, True, False])}
    h = {"a": model.encoders["a"](x["a"]), "b": model.encoders["b"](x["b"])}
    h["a"][~mask["a"]] = model.stand_ins["a"]
    torch.testing.assert_close(model(x, mask), model.head(model.fusion(h)))
    model(x, mask).sum().backward()
    assert model.stand_ins["a"].grad is not None and model.stand_ins["b"].grad is None


def test_the_mean_strategy_uses_the_running_mean_of_present_features() -> None:
    model = strategy_model("mean")
    x = {"a": torch.randn(6, 2), "b": torch.randn(6, 3)}
    mask = {"a": torch.tensor([True, True, False, True, False, True])}
    model.train()
    with torch.no_grad():
        model(x, mask)  # one training batch updates the running mean with momentum 0.1
        features = model.encoders["a"](x["a"])
    torch.testing.assert_close(model.mean_a, 0.1 * features[mask["a"]].mean(dim=0))
    model.eval()
    h = {"a": model.encoders["a"](x["a"]), "b": model.encoders["b"](x["b"])}
    h["a"][~mask["a"]] = model.mean_a
    torch.testing.assert_close(model(x, mask), model.head(model.fusion(h)))


def test_modality_dropout_drops_in_training_only_and_never_every_modality() -> None:
    model = strategy_model("dropout", dropout=0.9)
    model.train()
    batch = 2000
    kept = model._drop(None, batch, torch.device("cpu"))
    assert kept is not None
    present = torch.stack([kept["a"], kept["b"]], dim=1)
    assert present.any(dim=1).all(), "at least one modality of each sample stays"
    # each modality is dropped with probability 0.9, unless both were: then one is kept
    assert 0.05 < float(present.double().mean()) < 0.6
    model.eval()
    assert model._drop(None, batch, torch.device("cpu")) is None


def test_unknown_strategies_and_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown missing-modality strategy"):
        strategy_model("impute")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        strategy_model("dropout", dropout=1.0)
