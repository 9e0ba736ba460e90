from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from intermodal.coordination import DCCA, DCCAE, GatedCoordination, dcca_loss
from intermodal.data import standardize, stratified_split
from intermodal.encoders import MLP
from intermodal.training import fit
from tests.helpers import blobs


def reference_correlation(
    h1: np.ndarray, h2: np.ndarray, r1: float, r2: float, top_k: int | None = None
) -> float:
    m = len(h1)
    h1, h2 = h1 - h1.mean(0), h2 - h2.mean(0)
    s11 = h1.T @ h1 / (m - 1) + r1 * np.eye(h1.shape[1])
    s22 = h2.T @ h2 / (m - 1) + r2 * np.eye(h2.shape[1])
    t = np.linalg.inv(sqrtm(s11)) @ (h1.T @ h2 / (m - 1)) @ np.linalg.inv(sqrtm(s22))
    if top_k is None:
        return float(np.trace(sqrtm(t.T @ t)).real)
    return float(np.sort(np.linalg.svd(t, compute_uv=False))[::-1][:top_k].sum())


@pytest.mark.parametrize("top_k", [None, 2])
def test_loss_equals_the_trace_norm_of_t(top_k: int | None) -> None:
    rng = np.random.default_rng(0)
    h1, h2 = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    h2[:, 0] += 2 * h1[:, 0]
    result = dcca_loss(torch.from_numpy(h1), torch.from_numpy(h2), 1e-3, 1e-2, top_k=top_k)
    assert -float(result.loss) == pytest.approx(
        reference_correlation(h1, h2, 1e-3, 1e-2, top_k), rel=1e-8
    )


def test_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    h1 = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    h2 = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: dcca_loss(a, b, 1e-2, 1e-2).loss, (h1, h2))


def test_batch_not_larger_than_output_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="batch larger than the output dimension"):
        dcca_loss(torch.randn(4, 4), torch.randn(4, 2))


def test_dcca_and_dccae_train_and_raise_correlation() -> None:
    splits = standardize(stratified_split(blobs(n_per_class=80), seed=0))
    for cls, extra in ((DCCA, {}), (DCCAE, {"decoders": {"a": MLP(4, 5), "b": MLP(4, 3)}})):
        torch.manual_seed(0)
        model = cls(["a", "b"], {"a": MLP(5, 4, (16,)), "b": MLP(3, 4, (16,))}, **extra)
        x = splits.test.modalities
        with torch.no_grad():
            before = -float(model.loss(*model(x)))
        fit(model, splits, max_epochs=20, batch_size=64, accelerator="cpu")
        with torch.no_grad():
            after = -float(model.loss(*model(x)))
        assert after > before


def test_gated_coordination_mixes_both_modalities() -> None:
    torch.manual_seed(0)
    module = GatedCoordination(3, 2, 4)
    x_a, x_b = torch.randn(5, 3), torch.randn(5, 2)
    z_a, z_b = module(x_a, x_b)
    p_a, p_b = module.project_a(x_a), module.project_b(x_b)
    logits = module.gates(torch.cat([x_a, x_b], 1)).reshape(5, 2, 2, 4)
    g = torch.exp(logits) / torch.exp(logits).sum(dim=2, keepdim=True)
    torch.testing.assert_close(z_a, g[:, 0, 0] * p_a + g[:, 0, 1] * p_b)
    torch.testing.assert_close(z_b, g[:, 1, 0] * p_a + g[:, 1, 1] * p_b)
