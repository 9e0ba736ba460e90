from __future__ import annotations

import itertools

import numpy as np
import pytest

from intermodal.coordination import CCA, MultiviewCCA, canonical_correlations
from intermodal.coordination.cca import paired_correlations


def test_planted_correlations_match_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    z = rng.normal(size=(n, 2))
    x1 = np.column_stack([z[:, 0], z[:, 1], rng.normal(size=n)]) @ rng.normal(size=(3, 3))
    x2 = np.column_stack(
        [
            0.9 * z[:, 0] + np.sqrt(1 - 0.81) * rng.normal(size=n),
            0.5 * z[:, 1] + np.sqrt(0.75) * rng.normal(size=n),
            rng.normal(size=(n, 2)),
        ]
    )
    got = canonical_correlations(x1, x2, reg=0.0)
    np.testing.assert_allclose(got[:2], [0.9, 0.5], atol=0.02)
    a, b = x1 - x1.mean(0), x2 - x2.mean(0)
    s11, s22, s12 = a.T @ a, b.T @ b, a.T @ b
    eig = np.linalg.eigvals(np.linalg.solve(s11, s12) @ np.linalg.solve(s22, s12.T))
    np.testing.assert_allclose(got, np.sqrt(np.sort(eig.real)[::-1][:3]), atol=1e-8)


def test_rank_deficient_views_give_no_nan() -> None:
    x = np.random.default_rng(1).normal(size=(50, 2))
    got = canonical_correlations(np.column_stack([x, x]), x)
    assert np.isfinite(got).all() and got[0] == pytest.approx(1.0, abs=1e-3)


def three_views(n: int = 300, seed: int = 0) -> list[np.ndarray]:
    """Three views sharing two latent signals, of very different scales."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    views = []
    for size, strength, scale in ((4, 0.9, 1000.0), (3, 0.6, 1.0), (5, 0.4, 0.01)):
        signal = np.column_stack([z, rng.normal(size=(n, size - 2))])
        noisy = strength * signal + rng.normal(size=(n, size))
        views.append(scale * noisy @ rng.normal(size=(size, size)))
    return views


def ridged(x: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """The centered view and its covariance ``C + reg * mean(diag(C)) I``."""
    c = x - x.mean(0)
    covariance = c.T @ c / (len(c) - 1)
    return c, covariance + reg * np.trace(covariance) / len(covariance) * np.eye(len(covariance))


def whitener(covariance: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    return vectors @ np.diag(values**-0.5) @ vectors.T


@pytest.mark.parametrize("reg", [0.0, 1e-3, 0.3])
def test_one_ridge_convention_for_cca_multiview_cca_and_canonical_correlations(reg: float) -> None:
    x1, x2, _ = three_views()
    (c1, s11), (c2, s22) = ridged(x1, reg), ridged(x2, reg)
    whitened = whitener(s11) @ (c1.T @ c2 / (len(c1) - 1)) @ whitener(s22)
    rho = np.linalg.svd(whitened, compute_uv=False)[:3]
    cca = CCA(3, reg=reg).fit(x1, x2)
    np.testing.assert_allclose(cca.correlations_, rho, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        canonical_correlations(x1, x2, n_components=3, reg=reg), rho, rtol=1e-12, atol=1e-14
    )
    # relative to each view's variance: rescaling a view changes nothing
    np.testing.assert_allclose(
        CCA(3, reg=reg).fit(1e-3 * x1, 50.0 * x2).correlations_, rho, rtol=1e-10
    )
    multiview = MultiviewCCA(3, reg=reg).fit([x1, x2])
    np.testing.assert_allclose(multiview.explained_, (1 + rho) / 2, rtol=1e-12)
    np.testing.assert_allclose(multiview.score([x1, x2]), cca.score(x1, x2), rtol=1e-10)
    # the same subspace: each multiview variate is a multiple of the CCA variate
    for ours, theirs in zip(multiview.transform([x1, x2]), cca.transform(x1, x2), strict=True):
        np.testing.assert_allclose(np.abs(paired_correlations(ours, theirs)), 1.0, atol=1e-10)


def test_correlations_are_regularized_and_score_gives_the_variates_correlations() -> None:
    x1, x2, _ = three_views(seed=1)
    exact = CCA(2).fit(x1, x2)
    np.testing.assert_allclose(exact.score(x1, x2), exact.correlations_, atol=1e-12)
    reg = 0.3
    model = CCA(2, reg=reg).fit(x1, x2)
    (c1, s11), (c2, s22) = ridged(x1, reg), ridged(x2, reg)
    rho = np.linalg.svd(
        whitener(s11) @ (c1.T @ c2 / (len(c1) - 1)) @ whitener(s22), compute_uv=False
    )[:2]
    np.testing.assert_allclose(model.correlations_, rho, rtol=1e-12)
    z1, z2 = c1 @ model.weights1_, c2 @ model.weights2_
    empirical = (z1 * z2).sum(0) / np.sqrt((z1 * z1).sum(0) * (z2 * z2).sum(0))
    np.testing.assert_allclose(model.score(x1, x2), empirical, rtol=1e-12)
    assert (model.score(x1, x2) > model.correlations_ + 1e-3).all()
    # the variates have variance 1 - ridge |w|^2 (unit variance under the ridged covariance)
    ridge1 = reg * np.trace(c1.T @ c1 / (len(c1) - 1)) / x1.shape[1]
    np.testing.assert_allclose(
        (z1 * z1).sum(0) / (len(z1) - 1),
        1 - ridge1 * (model.weights1_**2).sum(0),
        rtol=1e-10,
    )


@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_multiview_explained_is_the_maxvar_eigenvalue_over_the_number_of_views(reg: float) -> None:
    views = three_views(n=120, seed=2)
    model = MultiviewCCA(3, reg=reg).fit(views)
    centered, covariances = zip(*(ridged(x, reg) for x in views), strict=True)
    joined = np.hstack(centered)
    joint = joined.T @ joined / (len(joined) - 1)
    edges = np.cumsum([0] + [x.shape[1] for x in views])
    whitening = np.zeros_like(joint)
    for (start, stop), s in zip(itertools.pairwise(edges), covariances, strict=True):
        joint[start:stop, start:stop] = s
        whitening[start:stop, start:stop] = whitener(s)
    eigenvalues = np.linalg.eigvalsh(whitening @ joint @ whitening)[::-1][:3]
    np.testing.assert_allclose(model.explained_, eigenvalues / 3, rtol=1e-10)
    if reg == 0.0:
        # the mean of the projections onto each view's column space has the same eigenvalues
        projections = [c @ np.linalg.solve(c.T @ c, c.T) for c in centered]
        top = np.linalg.eigvalsh(np.mean(projections, axis=0))[::-1][:3]
        np.testing.assert_allclose(model.explained_, top, rtol=1e-10)
        # each view's output is its least-squares prediction of the unit-variance shared
        # component g_k = sum_m output_mk / lambda_k
        outputs = model.transform(views)
        shared = sum(outputs) / (3 * model.explained_)
        np.testing.assert_allclose(shared.var(0, ddof=1), 1.0, rtol=1e-10)
        for c, output in zip(centered, outputs, strict=True):
            prediction = c @ np.linalg.lstsq(c, shared, rcond=None)[0]
            np.testing.assert_allclose(output, prediction, atol=1e-10)
