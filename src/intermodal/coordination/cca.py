"""Canonical correlation analysis (Hotelling 1936)."""

from __future__ import annotations

import numpy as np


def _inverse_sqrt(covariance: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    return (vectors / np.sqrt(np.maximum(values, 1e-12))) @ vectors.T


def canonical_correlations(
    x1: np.ndarray, x2: np.ndarray, n_components: int | None = None, reg: float = 1e-4
) -> np.ndarray:
    """The top canonical correlations between views ``x1`` (N, D1) and ``x2`` (N, D2).

    They are the singular values of ``S11^-1/2 S12 S22^-1/2`` with covariances ridge-regularized
    by ``reg`` times their mean variance (so rank-deficient views give no NaNs), in decreasing
    order; ``n_components`` defaults to ``min(D1, D2)``.
    """
    x1, x2 = (np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in (x1, x2))
    if len(x1) != len(x2):
        raise ValueError(f"the views have {len(x1)} and {len(x2)} rows; they must match")
    if len(x1) < 2:
        raise ValueError("canonical correlations need at least two samples")
    x1, x2 = x1 - x1.mean(axis=0), x2 - x2.mean(axis=0)
    n = len(x1) - 1

    def covariance(x: np.ndarray) -> np.ndarray:
        c = x.T @ x / n
        return c + reg * max(float(np.trace(c)) / len(c), 1e-12) * np.eye(len(c))

    t = _inverse_sqrt(covariance(x1)) @ (x1.T @ x2 / n) @ _inverse_sqrt(covariance(x2))
    k = min(t.shape) if n_components is None else n_components
    return np.clip(np.linalg.svd(t, compute_uv=False)[:k], 0.0, 1.0)
