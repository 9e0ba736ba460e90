from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cross_decomposition import CCA as SklearnCCA

from intermodal.coordination import (
    CCA,
    KernelCCA,
    MultiviewCCA,
    cosine_similarity,
    dot_similarity,
    polynomial_kernel,
    rbf_kernel,
)
from intermodal.coordination.cca import paired_correlations


def test_similarities_match_loops() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    for i in range(4):
        for j in range(5):
            dot = float(a[i] @ b[j])
            assert dot_similarity(a, b)[i, j] == pytest.approx(dot)
            assert cosine_similarity(a, b)[i, j] == pytest.approx(
                dot / float(a[i].norm() * b[j].norm())
            )
            assert rbf_kernel(a, b, gamma=0.3)[i, j] == pytest.approx(
                np.exp(-0.3 * float((a[i] - b[j]).square().sum()))
            )
            assert polynomial_kernel(a, b, degree=2, gamma=0.5, coef0=1.0)[i, j] == pytest.approx(
                (0.5 * dot + 1.0) ** 2
            )
    with pytest.raises(ValueError, match=r"\(N, D\) and \(M, D\)"):
        dot_similarity(a, torch.randn(5, 2))


def planted(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    noise = rng.normal(size=(n, 3))
    x1 = np.column_stack([z, rng.normal(size=(n, 2))]) @ rng.normal(size=(5, 5))
    x2 = np.column_stack(
        [
            0.9 * z[:, 0] + 0.44 * noise[:, 0],
            0.6 * z[:, 1] + 0.8 * noise[:, 1],
            0.3 * z[:, 2] + 0.95 * noise[:, 2],
            rng.normal(size=n),
        ]
    ) @ rng.normal(size=(4, 4))
    return x1, x2


def test_cca_matches_a_direct_generalized_eigenproblem() -> None:
    x1, x2 = planted()
    model = CCA(3).fit(x1, x2)
    a, b = x1 - x1.mean(0), x2 - x2.mean(0)
    s11, s22, s12 = a.T @ a, b.T @ b, a.T @ b
    eig = np.sort(np.linalg.eigvals(np.linalg.solve(s11, s12) @ np.linalg.solve(s22, s12.T)).real)[
        ::-1
    ]
    np.testing.assert_allclose(model.correlations_, np.sqrt(eig[:3]), atol=1e-10)
    z1, z2 = model.transform(x1, x2)
    np.testing.assert_allclose(paired_correlations(z1, z2), model.correlations_, atol=1e-10)
    np.testing.assert_allclose(np.corrcoef(z1.T), np.eye(3), atol=1e-8)  # uncorrelated components
    np.testing.assert_allclose(model.correlations_, [0.9, 0.6, 0.3], atol=0.03)


def test_cca_is_at_least_as_good_as_scikit_learn() -> None:
    x1, x2 = planted(1000, seed=1)
    ours = CCA(3).fit(x1, x2).score(x1, x2)
    theirs = paired_correlations(*SklearnCCA(3, max_iter=1000).fit(x1, x2).transform(x1, x2))
    assert (ours >= theirs - 1e-6).all()


def test_cca_handles_rank_deficiency_and_reports_bad_input() -> None:
    x1, x2 = planted(200)
    degenerate = np.column_stack([x1, x1[:, :2]])  # duplicated columns
    result = CCA(3).fit(degenerate, x2).score(degenerate, x2)
    assert np.isfinite(result).all()
    with pytest.raises(ValueError, match="must exceed n_components"):
        CCA(3).fit(x1[:3], x2[:3])
    with pytest.raises(ValueError, match="rows must be paired"):
        CCA(2).fit(x1, x2[:-1])
    with pytest.raises(ValueError, match="NaN"):
        CCA(2).fit(np.where(x1 > 2, np.nan, x1), x2)


def test_multiview_cca_with_two_views_is_cca() -> None:
    x1, x2 = planted(1000, seed=2)
    multiview = MultiviewCCA(3, reg=0.0).fit([x1, x2])
    np.testing.assert_allclose(
        multiview.score([x1, x2]), CCA(3).fit(x1, x2).correlations_, atol=1e-8
    )
    x3 = x2 + np.random.default_rng(0).normal(size=x2.shape)
    assert multiview.fit([x1, x2, x3]).score([x1, x2, x3]).shape == (3,)


def test_linear_kernel_cca_with_enough_landmarks_is_linear_cca() -> None:
    x1, x2 = planted(800, seed=3)
    kernel = KernelCCA(3, kernel="linear", reg=1e-9, n_landmarks=100).fit(x1, x2)
    linear = CCA(3).fit(x1 - x1.mean(0), x2 - x2.mean(0))
    np.testing.assert_allclose(kernel.correlations_, linear.correlations_, atol=1e-4)
    rbf = KernelCCA(2, kernel="rbf", n_landmarks=50).fit(x1, x2)
    assert rbf.score(x1, x2).shape == (2,)


def test_kernel_cca_fits_ten_thousand_samples_in_low_rank() -> None:
    x1, x2 = planted(10_000, seed=4)
    model = KernelCCA(2, kernel="rbf", n_landmarks=300).fit(x1, x2)
    assert model.maps_[0].shape == (300, 300)  # memory O(N m), never an N x N kernel
    assert (model.correlations_ > 0.5).all() and np.isfinite(model.transform(x1[:5])).all()
