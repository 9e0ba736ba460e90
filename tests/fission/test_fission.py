from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from intermodal.data import standardize, stratified_split
from intermodal.encoders import MLP
from intermodal.fission import (
    BimodalAutoencoder,
    FactorizedModel,
    SharedPrivateModel,
    orthogonality_loss,
)
from intermodal.training import fit
from tests.helpers import blobs


def autoencoder(**options) -> BimodalAutoencoder:
    torch.manual_seed(0)
    return BimodalAutoencoder(
        ["a", "b"],
        {"a": MLP(5, 8, final_activation=True), "b": MLP(3, 8, final_activation=True)},
        {"a": 8, "b": 8},
        {"a": 5, "b": 3},
        shared_dim=6,
        **options,
    )


def test_augmentation_zeroes_a_third_of_each_modality() -> None:
    model = autoencoder()
    inputs = {"a": torch.randn(300, 5) + 3, "b": torch.randn(300, 3) + 3}
    out = model.augment(inputs, torch.Generator().manual_seed(0))
    zero_a = (out["a"] == 0).all(dim=1)
    zero_b = (out["b"] == 0).all(dim=1)
    assert int(zero_a.sum()) == 100 and int(zero_b.sum()) == 100
    assert not (zero_a & zero_b).any()  # the last third keeps both
    torch.testing.assert_close(out["a"][~zero_a], inputs["a"][~zero_a])


def test_reconstruction_loss_decreases() -> None:
    splits = standardize(stratified_split(blobs(n_per_class=60), seed=0))
    model = autoencoder()
    x = splits.test.modalities

    def reconstruction() -> float:
        with torch.no_grad():
            out = model.reconstruct(x)
            return float(sum(F.mse_loss(out[m], x[m]) for m in x))

    before = reconstruction()
    fit(model, splits, max_epochs=30, accelerator="cpu")
    assert reconstruction() < 0.8 * before


def test_orthogonality_loss_equals_its_formula() -> None:
    torch.manual_seed(0)
    s, p = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 4, dtype=torch.float64)
    s_hat = s - s.mean(0)
    p_hat = p - p.mean(0)
    s_hat = s_hat / s_hat.norm(dim=1, keepdim=True)
    p_hat = p_hat / p_hat.norm(dim=1, keepdim=True)
    expected = (
        sum(
            float(sum(s_hat[b, i] * p_hat[b, j] for b in range(7))) ** 2
            for i in range(3)
            for j in range(4)
        )
        / 7**2
    )
    assert float(orthogonality_loss(s, p)) == pytest.approx(expected)


def test_factorized_model_has_more_representations_than_modalities() -> None:
    torch.manual_seed(0)
    model = FactorizedModel(
        {"a": MLP(5, 8), "b": MLP(3, 8)},
        {"a": MLP(5, 8), "b": MLP(3, 8)},
        {"a": 8, "b": 8},
        {"a": 5, "b": 3},
        outputs=3,
        shared_dim=4,
        private_dim=2,
    )
    inputs = {"a": torch.randn(10, 5), "b": torch.randn(10, 3)}
    factors = model.factors(inputs)
    assert {k: tuple(v.shape) for k, v in factors.items()} == {
        "shared": (10, 4),
        "a": (10, 2),
        "b": (10, 2),
    }
    assert model(inputs).shape == (10, 3)
    loss = model.training_loss(inputs, torch.randint(0, 3, (10,)))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_shared_private_codes_and_loss() -> None:
    torch.manual_seed(0)
    model = SharedPrivateModel(
        {"a": MLP(5, 8), "b": MLP(3, 8)}, {"a": 8, "b": 8}, outputs=3, code_dim=4
    )
    inputs = {"a": torch.randn(10, 5), "b": torch.randn(10, 3)}
    codes = model.codes(inputs)
    assert sorted(codes) == ["private:a", "private:b", "shared:a", "shared:b"]
    assert model(inputs).shape == (10, 3)
    target = torch.randint(0, 3, (10,))
    expected = (
        F.cross_entropy(model(inputs), target)
        + (codes["shared:a"] - codes["shared:b"]).square().mean()
        + 0.3
        * (
            orthogonality_loss(codes["shared:a"], codes["private:a"])
            + orthogonality_loss(codes["shared:b"], codes["private:b"])
        )
    )
    torch.testing.assert_close(model.training_loss(inputs, target), expected)
