"""Canonical correlation analysis (Hotelling 1936) and its multiview generalization (MAXVAR)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_view(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be (n_samples, n_features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _inverse_sqrt(covariance: np.ndarray) -> np.ndarray:
    """``C^-1/2`` on the range of C: eigenvalues below 1e-10 of the largest are left out, so a
    rank-deficient view gives no NaNs (its null directions carry no variance to correlate)."""
    values, vectors = np.linalg.eigh(covariance)
    keep = values > 1e-10 * max(float(values.max()), 1e-300)
    return (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T


def _covariance(x: np.ndarray, reg: float) -> np.ndarray:
    c = x.T @ x / (len(x) - 1)
    return c + reg * np.eye(len(c))


class CCA:
    """Canonical correlation analysis with the scikit-learn estimator API.

    Finds weights ``W1`` (D1 x k), ``W2`` (D2 x k) such that the projections ``x1 W1`` and
    ``x2 W2`` are maximally correlated, component by component and uncorrelated across
    components. Exact solution: with ridge-regularized covariances ``S11 + reg I``, ``S22 + reg I``,
    the singular value decomposition ``S11^-1/2 S12 S22^-1/2 = U diag(rho) V^T`` gives the
    canonical correlations rho and ``W1 = S11^-1/2 U``, ``W2 = S22^-1/2 V``.

    Args:
        n_components: k, the number of canonical pairs.
        reg: ridge added to each covariance (in the data's squared units).
    """

    def __init__(self, n_components: int = 2, reg: float = 0.0) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be positive, got {n_components}")
        if reg < 0:
            raise ValueError(f"reg must be non-negative, got {reg}")
        self.n_components, self.reg = n_components, reg

    def _check_pair(self, x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x1, x2 = _as_view(x1, "X1"), _as_view(x2, "X2")
        if len(x1) != len(x2):
            raise ValueError(f"X1 has {len(x1)} rows and X2 {len(x2)}; rows must be paired samples")
        return x1, x2

    def fit(self, x1: np.ndarray, x2: np.ndarray) -> CCA:
        """Fit on paired views ``x1`` (N, D1) and ``x2`` (N, D2)."""
        x1, x2 = self._check_pair(x1, x2)
        k = self.n_components
        if len(x1) <= k:
            raise ValueError(f"n_samples={len(x1)} must exceed n_components={k}")
        if k > min(x1.shape[1], x2.shape[1]):
            raise ValueError(
                f"n_components={k} exceeds the smaller view's "
                f"{min(x1.shape[1], x2.shape[1])} features"
            )
        self.mean1_, self.mean2_ = x1.mean(axis=0), x2.mean(axis=0)
        c1, c2 = x1 - self.mean1_, x2 - self.mean2_
        w1, w2 = _inverse_sqrt(_covariance(c1, self.reg)), _inverse_sqrt(_covariance(c2, self.reg))
        u, rho, vt = np.linalg.svd(w1 @ (c1.T @ c2 / (len(c1) - 1)) @ w2)
        self.weights1_, self.weights2_ = w1 @ u[:, :k], w2 @ vt[:k].T
        self.correlations_ = np.clip(rho[:k], 0.0, 1.0)
        return self

    def transform(self, x1: np.ndarray, x2: np.ndarray | None = None):  # type: ignore[no-untyped-def]
        """Canonical variates ``(x1 - mean1) W1`` (N, k), and ``(x2 - mean2) W2`` if x2 is given."""
        if not hasattr(self, "weights1_"):
            raise RuntimeError("call fit before transform")
        z1 = (_as_view(x1, "X1") - self.mean1_) @ self.weights1_
        if x2 is None:
            return z1
        return z1, (_as_view(x2, "X2") - self.mean2_) @ self.weights2_

    def fit_transform(self, x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.fit(x1, x2).transform(x1, x2)

    def score(self, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        """Per-component correlation ``(k,)`` of the canonical variates of ``x1`` and ``x2``."""
        z1, z2 = self.transform(*self._check_pair(x1, x2))
        return paired_correlations(z1, z2)


def paired_correlations(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Pearson correlation of column j of z1 with column j of z2, for every j."""
    z1, z2 = z1 - z1.mean(axis=0), z2 - z2.mean(axis=0)
    norms = np.linalg.norm(z1, axis=0) * np.linalg.norm(z2, axis=0)
    return (z1 * z2).sum(axis=0) / np.where(norms > 0, norms, 1.0)


class MultiviewCCA:
    """Multiview CCA by the MAXVAR criterion (Kettenring 1971; generalized CCA).

    Finds a shared representation ``G`` (N x k, orthonormal columns) closest to the span of every
    view: it maximizes ``sum_m |P_m G|^2`` with ``P_m`` the (ridge-regularized) projection onto
    view m's column space. G is given by the top left singular vectors of the concatenation of the
    whitened views ``[x_1 S_11^-1/2, ..., x_M S_MM^-1/2]``; view m maps to the shared space by
    ``W_m = (S_mm)^-1 x_m^T G / (N - 1)``. For two views this is ordinary CCA.
    """

    def __init__(self, n_components: int = 2, reg: float = 1e-6) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be positive, got {n_components}")
        self.n_components, self.reg = n_components, reg

    def fit(self, views: Sequence[np.ndarray]) -> MultiviewCCA:
        xs = [_as_view(x, f"view {i}") for i, x in enumerate(views)]
        if len(xs) < 2:
            raise ValueError("MultiviewCCA needs at least two views")
        n = len(xs[0])
        if any(len(x) != n for x in xs):
            raise ValueError(
                f"the views have {[len(x) for x in xs]} rows; rows must be paired samples"
            )
        if n <= self.n_components:
            raise ValueError(f"n_samples={n} must exceed n_components={self.n_components}")
        self.means_ = [x.mean(axis=0) for x in xs]
        centered = [x - mu for x, mu in zip(xs, self.means_, strict=True)]
        covariances = [_covariance(x, self.reg) for x in centered]
        whitened = [x @ _inverse_sqrt(c) for x, c in zip(centered, covariances, strict=True)]
        u, singular, _ = np.linalg.svd(np.hstack(whitened), full_matrices=False)
        shared = u[:, : self.n_components]
        self.weights_ = [
            np.linalg.lstsq(c, x.T @ shared / (n - 1), rcond=None)[0]
            for x, c in zip(centered, covariances, strict=True)
        ]
        self.explained_ = singular[: self.n_components] ** 2 / len(xs)
        return self

    def transform(self, views: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each view's projection ``(N, k)`` into the shared space."""
        if not hasattr(self, "weights_"):
            raise RuntimeError("call fit before transform")
        if len(views) != len(self.weights_):
            raise ValueError(f"expected {len(self.weights_)} views, got {len(views)}")
        return [
            (_as_view(x, f"view {i}") - mu) @ w
            for i, (x, mu, w) in enumerate(zip(views, self.means_, self.weights_, strict=True))
        ]

    def score(self, views: Sequence[np.ndarray]) -> np.ndarray:
        """Per component, the mean correlation over all pairs of views ``(k,)``."""
        projected = self.transform(views)
        pairs = [
            paired_correlations(projected[i], projected[j])
            for i in range(len(projected))
            for j in range(i + 1, len(projected))
        ]
        return np.mean(pairs, axis=0)


def canonical_correlations(
    x1: np.ndarray, x2: np.ndarray, n_components: int | None = None, reg: float = 1e-4
) -> np.ndarray:
    """The top canonical correlations between views ``x1`` (N, D1) and ``x2`` (N, D2), in
    decreasing order, with each covariance ridge-regularized by ``reg`` times its mean variance.
    ``n_components`` defaults to ``min(D1, D2)``."""
    x1, x2 = _as_view(x1, "X1"), _as_view(x2, "X2")
    if len(x1) < 2:
        raise ValueError("canonical correlations need at least two samples")
    k = min(x1.shape[1], x2.shape[1]) if n_components is None else n_components
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)

    def whitening(c: np.ndarray) -> np.ndarray:
        mean_variance = max(float((c * c).sum()) / ((len(c) - 1) * c.shape[1]), 1e-12)
        return _inverse_sqrt(_covariance(c, reg * mean_variance))

    w1, w2 = whitening(c1), whitening(c2)
    rho = np.linalg.svd(w1 @ (c1.T @ c2 / (len(c1) - 1)) @ w2, compute_uv=False)
    return np.clip(rho[:k], 0.0, 1.0)
