"""Canonical correlation analysis (Hotelling 1936) and its multiview generalization (MAXVAR).

One ridge convention holds for :class:`CCA`, :class:`MultiviewCCA` and
:func:`canonical_correlations`: ``reg`` is relative to each view's mean variance, so the
covariance ``C_mm = x_m^T x_m / (N - 1)`` of the centered view m becomes
``C_mm + reg * mean(diag(C_mm)) I``. ``reg`` is unitless, rescaling a view changes no result,
and ``reg = 0`` is the unregularized method.
"""

from __future__ import annotations

import itertools
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


def _check_reg(reg: float) -> None:
    if not reg >= 0:
        raise ValueError(f"reg must be non-negative, got {reg}")


def _inverse_sqrt(covariance: np.ndarray) -> np.ndarray:
    """``C^-1/2`` on the range of C: eigenvalues below 1e-10 of the largest are left out, so a
    rank-deficient view gives no NaNs (its null directions carry no variance to correlate)."""
    values, vectors = np.linalg.eigh(covariance)
    keep = values > 1e-10 * max(float(values.max()), 1e-300)
    return (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T


def _covariance(centered: np.ndarray) -> np.ndarray:
    """``x^T x / (N - 1)`` of a centered view ``x`` (N, D)."""
    return centered.T @ centered / (len(centered) - 1)


def _ridge(covariance: np.ndarray, reg: float) -> np.ndarray:
    """The module's ridge convention: ``C + reg * mean(diag(C)) I``."""
    mean_variance = float(np.mean(np.diag(covariance)))
    return covariance + reg * mean_variance * np.eye(len(covariance))


class CCA:
    """Canonical correlation analysis with the scikit-learn estimator API.

    Finds weights ``W1`` (D1 x k), ``W2`` (D2 x k) such that the projections ``x1 W1`` and
    ``x2 W2`` are maximally correlated, component by component and uncorrelated across
    components. Exact solution: with the ridge-regularized covariances
    ``S11 = C11 + reg * mean(diag(C11)) I`` and ``S22 = C22 + reg * mean(diag(C22)) I``, the
    singular value decomposition ``S11^-1/2 C12 S22^-1/2 = U diag(rho) V^T`` gives the
    (regularized) canonical correlations rho and ``W1 = S11^-1/2 U``, ``W2 = S22^-1/2 V``.

    Args:
        n_components: k, the number of canonical pairs.
        reg: ridge relative to each view's mean variance: the covariance ``C_mm`` of view m
            becomes ``C_mm + reg * mean(diag(C_mm)) I`` (unitless; 0 is no ridge).

    Attributes:
        correlations_: ``(k,)`` the regularized canonical correlations, the top k singular
            values of ``S11^-1/2 C12 S22^-1/2`` (equal to :func:`canonical_correlations` with
            the same ``reg``). With ``reg = 0`` on data of full rank they are the correlations
            of the canonical variates of the training data. With ``reg > 0`` they are smaller:
            the variates have variance ``1 - ridge |w|^2`` instead of 1, and their actual
            (empirical) correlations, which :meth:`score` returns, are larger.
        weights1_, weights2_: ``(D1, k)``, ``(D2, k)``; ``mean1_, mean2_``: the views' means.
    """

    def __init__(self, n_components: int = 2, reg: float = 0.0) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be positive, got {n_components}")
        _check_reg(reg)
        self.n_components, self.reg = n_components, reg

    def _check_pair(self, x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x1, x2 = _as_view(x1, "X1"), _as_view(x2, "X2")
        if len(x1) != len(x2):
            raise ValueError(f"X1 has {len(x1)} rows and X2 {len(x2)}; rows must be paired samples")
        return x1, x2

    def fit(self, x1: np.ndarray, x2: np.ndarray) -> CCA:
        """Fit on paired views ``x1`` (N, D1) and ``x2`` (N, D2)."""
        return self._fit(x1, x2, absolute_ridge=None)

    def _fit(self, x1: np.ndarray, x2: np.ndarray, absolute_ridge: float | None) -> CCA:
        """:meth:`fit`; ``absolute_ridge``, when given, is added to both covariances as is
        (in the views' squared units) instead of ``reg``'s relative ridge."""
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
        s11, s22 = _covariance(c1), _covariance(c2)
        if absolute_ridge is None:
            s11, s22 = _ridge(s11, self.reg), _ridge(s22, self.reg)
        else:
            s11 = s11 + absolute_ridge * np.eye(len(s11))
            s22 = s22 + absolute_ridge * np.eye(len(s22))
        w1, w2 = _inverse_sqrt(s11), _inverse_sqrt(s22)
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
        """Per component, the empirical (Pearson) correlation ``(k,)`` of the canonical variates
        of ``x1`` and ``x2``. On the training data it equals ``correlations_`` when ``reg = 0``
        and the data have full rank, and exceeds it when ``reg > 0``."""
        z1, z2 = self.transform(*self._check_pair(x1, x2))
        return paired_correlations(z1, z2)


def paired_correlations(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Pearson correlation of column j of z1 with column j of z2, for every j."""
    z1, z2 = z1 - z1.mean(axis=0), z2 - z2.mean(axis=0)
    norms = np.linalg.norm(z1, axis=0) * np.linalg.norm(z2, axis=0)
    return (z1 * z2).sum(axis=0) / np.where(norms > 0, norms, 1.0)


class MultiviewCCA:
    """Multiview CCA by the MAXVAR criterion (Kettenring 1971; generalized CCA).

    One canonical variate per view, ``z_m = (x_m - mean_m) a_m``, chosen to maximize the largest
    eigenvalue of the correlation matrix of the M variates, i.e. the variance of their shared
    component. With the ridge-regularized covariances ``S_mm = C_mm + reg * mean(diag(C_mm)) I``
    and ``W_m = S_mm^-1/2``, the joint matrix ``R`` has blocks ``R_ij = W_i C_ij W_j`` for
    ``i != j`` and ``R_mm = W_m S_mm W_m`` (the identity when view m has full rank). Its unit
    eigenvectors ``v_1, v_2, ...`` of the largest eigenvalues ``lambda_1 >= lambda_2 >= ...``
    give the components: ``a_mk = W_m v_mk`` with ``v_mk`` the block of view m. The shared
    component ``g_k = sum_m z_mk / sqrt(lambda_k)`` has unit variance when ``reg = 0``.

    For two views this is :class:`CCA` with the same ``reg``: R's eigenvalues are ``1 +- rho``.

    Args:
        n_components: k, the number of components.
        reg: ridge relative to each view's mean variance: the covariance ``C_mm`` of view m
            becomes ``C_mm + reg * mean(diag(C_mm)) I`` (unitless; 0 is no ridge).

    Attributes:
        weights_: per view, ``(D_m, k)``: column k is ``sqrt(lambda_k) a_mk``, so that view m's
            output is ``sqrt(lambda_k) z_mk``, with ``reg = 0`` the least-squares prediction of
            ``g_k`` from view m.
        explained_: ``(k,)`` the top k eigenvalues of R divided by the number of views M, in
            ``[0, 1]``: with ``reg = 0``, the mean over views of the squared correlation of
            ``z_mk`` with ``g_k``, which equals the top eigenvalues of ``mean_m P_m`` with
            ``P_m`` the orthogonal projection onto view m's centered column space
            (``(1 + rho_k) / 2`` for two views).
        means_: the views' means.
    """

    def __init__(self, n_components: int = 2, reg: float = 0.0) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be positive, got {n_components}")
        _check_reg(reg)
        self.n_components, self.reg = n_components, reg

    def fit(self, views: Sequence[np.ndarray]) -> MultiviewCCA:
        """Fit on paired views, each ``(N, D_m)``."""
        xs = [_as_view(x, f"view {i}") for i, x in enumerate(views)]
        if len(xs) < 2:
            raise ValueError("MultiviewCCA needs at least two views")
        n = len(xs[0])
        if any(len(x) != n for x in xs):
            raise ValueError(
                f"the views have {[len(x) for x in xs]} rows; rows must be paired samples"
            )
        k = self.n_components
        if n <= k:
            raise ValueError(f"n_samples={n} must exceed n_components={k}")
        sizes = [x.shape[1] for x in xs]
        if k > sum(sizes):
            raise ValueError(f"n_components={k} exceeds the views' {sum(sizes)} features")
        self.means_ = [x.mean(axis=0) for x in xs]
        joined = np.hstack([x - mu for x, mu in zip(xs, self.means_, strict=True)])
        covariance = _covariance(joined)
        edges = np.cumsum([0, *sizes]).tolist()
        blocks = [slice(start, stop) for start, stop in itertools.pairwise(edges)]
        whitening = np.zeros_like(covariance)
        for view in blocks:
            covariance[view, view] = _ridge(covariance[view, view], self.reg)
            whitening[view, view] = _inverse_sqrt(covariance[view, view])
        values, vectors = np.linalg.eigh(whitening @ covariance @ whitening)
        top = np.argsort(values)[::-1][:k]
        values, vectors = np.clip(values[top], 0.0, None), vectors[:, top]
        weights = whitening @ vectors * np.sqrt(values)
        self.weights_ = [weights[view] for view in blocks]
        self.explained_ = values / len(xs)
        return self

    def transform(self, views: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each view's output ``(x_m - mean_m) weights_[m]`` ``(N, k)`` in the shared space."""
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
    decreasing order: the singular values of ``S11^-1/2 C12 S22^-1/2``, as
    ``CCA(n_components, reg).fit(x1, x2).correlations_``.

    Args:
        n_components: how many; defaults to ``min(D1, D2)``.
        reg: ridge relative to each view's mean variance: the covariance ``C_mm`` of view m
            becomes ``C_mm + reg * mean(diag(C_mm)) I`` (unitless; 0 is no ridge). The default
            1e-4 keeps ill-conditioned views (near-collinear features) from inflating them.
    """
    x1, x2 = _as_view(x1, "X1"), _as_view(x2, "X2")
    if len(x1) != len(x2):
        raise ValueError(f"X1 has {len(x1)} rows and X2 {len(x2)}; rows must be paired samples")
    if len(x1) < 2:
        raise ValueError("canonical correlations need at least two samples")
    _check_reg(reg)
    k = min(x1.shape[1], x2.shape[1]) if n_components is None else n_components
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)
    w1 = _inverse_sqrt(_ridge(_covariance(c1), reg))
    w2 = _inverse_sqrt(_ridge(_covariance(c2), reg))
    rho = np.linalg.svd(w1 @ (c1.T @ c2 / (len(c1) - 1)) @ w2, compute_uv=False)
    return np.clip(rho[:k], 0.0, 1.0)
