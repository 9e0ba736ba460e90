"""Kernel CCA with a Nystroem low-rank approximation of each view's kernel."""

from __future__ import annotations

import numpy as np
import torch

from intermodal.coordination.cca import CCA, _as_view, _inverse_sqrt
from intermodal.coordination.similarity import KERNELS


class KernelCCA:
    """Regularized kernel CCA (Lai & Fyfe 2000; Bach & Jordan 2002) on Nystroem features.

    Each view's kernel ``K(x, x')`` (linear, RBF or polynomial) is approximated from
    ``n_landmarks`` training samples drawn at random (Williams & Seeger 2001):
    ``phi(x) = K(x, L) K(L, L)^-1/2``, so ``phi(x) . phi(x') ~ K(x, x')``. Regularized linear CCA
    on these features is kernel CCA with the approximated kernels; memory is ``O(N m)`` instead of
    ``O(N^2)`` (10,000 samples and m = 500 need about 40 MB per view).

    Args:
        n_components: number of canonical pairs.
        kernel: ``linear``, ``rbf`` or ``polynomial`` (see ``intermodal.coordination.similarity``).
        reg: ridge added as is to each view's feature covariance, in the kernel's units (kernel
            CCA must be regularized: with n >= m landmarks, unregularized kernel CCA finds
            perfect, meaningless correlations). Unlike the relative ``reg`` of linear
            :class:`~intermodal.coordination.CCA`, it is absolute: the kernel, not the data,
            sets the features' scale (an RBF kernel's features have a total variance of at most
            about 1).
        n_landmarks: m, the rank of the approximation.
        gamma, degree: kernel parameters (gamma defaults to 1 / D).
        seed: draws the landmarks.
    """

    def __init__(
        self,
        n_components: int = 2,
        kernel: str = "rbf",
        reg: float = 1e-3,
        n_landmarks: int = 500,
        gamma: float | None = None,
        degree: int = 3,
        seed: int = 0,
    ) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
        if reg <= 0:
            raise ValueError("kernel CCA needs reg > 0")
        self.n_components, self.kernel, self.reg = n_components, kernel, reg
        self.n_landmarks, self.gamma, self.degree, self.seed = n_landmarks, gamma, degree, seed

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        options = {} if self.kernel == "linear" else {"gamma": self.gamma}
        if self.kernel == "polynomial":
            options["degree"] = self.degree
        return KERNELS[self.kernel](torch.from_numpy(a), torch.from_numpy(b), **options).numpy()

    def _features(self, x: np.ndarray, view: int) -> np.ndarray:
        return self._kernel(x, self.landmarks_[view]) @ self.maps_[view]

    def fit(self, x1: np.ndarray, x2: np.ndarray) -> KernelCCA:
        x1, x2 = _as_view(x1, "X1"), _as_view(x2, "X2")
        if len(x1) != len(x2):
            raise ValueError(f"X1 has {len(x1)} rows and X2 {len(x2)}; rows must be paired samples")
        if len(x1) <= self.n_components:
            raise ValueError(f"n_samples={len(x1)} must exceed n_components={self.n_components}")
        rng = np.random.default_rng(self.seed)
        chosen = rng.choice(len(x1), size=min(self.n_landmarks, len(x1)), replace=False)
        self.landmarks_ = [x1[chosen], x2[chosen]]
        self.maps_ = [_inverse_sqrt(self._kernel(lm, lm)) for lm in self.landmarks_]
        self.cca_ = CCA(self.n_components)._fit(
            self._features(x1, 0), self._features(x2, 1), absolute_ridge=self.reg
        )
        self.correlations_ = self.cca_.correlations_
        return self

    def transform(self, x1: np.ndarray, x2: np.ndarray | None = None):  # type: ignore[no-untyped-def]
        """Canonical variates of x1 (N, k), and of x2 if given."""
        if not hasattr(self, "cca_"):
            raise RuntimeError("call fit before transform")
        f1 = self._features(_as_view(x1, "X1"), 0)
        if x2 is None:
            return self.cca_.transform(f1)
        return self.cca_.transform(f1, self._features(_as_view(x2, "X2"), 1))

    def fit_transform(self, x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.fit(x1, x2).transform(x1, x2)

    def score(self, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        """Per-component correlations of the canonical variates of new paired samples."""
        f1, f2 = self._features(_as_view(x1, "X1"), 0), self._features(_as_view(x2, "X2"), 1)
        return self.cca_.score(f1, f2)
