"""Similarity functions and kernels between two batches of embeddings."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def _check(a: Tensor, b: Tensor) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D), got {tuple(a.shape)} and {tuple(b.shape)}")


def dot_similarity(a: Tensor, b: Tensor) -> Tensor:
    """``a_i . b_j``. Shape: ``(N, D), (M, D) -> (N, M)``."""
    _check(a, b)
    return a @ b.T


def cosine_similarity(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """``a_i . b_j / (|a_i| |b_j|)``. Shape: ``(N, D), (M, D) -> (N, M)``."""
    _check(a, b)
    return F.normalize(a, dim=1, eps=eps) @ F.normalize(b, dim=1, eps=eps).T


def rbf_kernel(a: Tensor, b: Tensor, gamma: float | None = None) -> Tensor:
    """``exp(-gamma |a_i - b_j|^2)``, gamma = 1 / D by default.

    Shape: ``(N, D), (M, D) -> (N, M)``.
    """
    _check(a, b)
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    squared = (a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)
    return (-gamma * squared.clamp_min(0)).exp()


def polynomial_kernel(
    a: Tensor, b: Tensor, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> Tensor:
    """``(gamma a_i . b_j + coef0) ** degree``, gamma = 1 / D by default.

    Shape: ``(N, D), (M, D) -> (N, M)``.
    """
    _check(a, b)
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    return (gamma * (a @ b.T) + coef0) ** degree


KERNELS = {"linear": dot_similarity, "rbf": rbf_kernel, "polynomial": polynomial_kernel}
