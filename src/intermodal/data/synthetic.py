"""Synthetic two-modality data sets with known interactions, to check analysis tools and models.

Every set has two vector modalities ``x1`` and ``x2``. Each latent factor that a modality carries
is written along its own random unit direction ``v`` (directions in one modality are orthogonal)
plus Gaussian noise on every feature: a bit ``b`` as ``(2 b - 1) v``, a continuous factor ``z`` as
``z v``. Which factors each modality carries, and how the target depends on them, is planted;
``INTERACTIONS`` (classification), ``REGRESSION_INTERACTIONS`` and ``MULTILABEL_INTERACTIONS``
describe each kind.
"""

from __future__ import annotations

import numpy as np

from intermodal.data.dataset import MultimodalDataset

INTERACTIONS = {
    "redundant": "y = b; both modalities carry b (1 bit of redundancy)",
    "unique": "y = b1; x1 carries b1, x2 an unrelated bit (1 bit unique to x1)",
    "synergistic": "y = b1 XOR b2; x1 carries b1, x2 carries b2 (1 bit of synergy)",
    "mixed": "y = 2 r + (b1 XOR b2); r in both modalities, b1 in x1, b2 in x2 (1 bit R, 1 bit S)",
}
"""Classification sets: kind -> construction (bits are fair coins)."""

REGRESSION_INTERACTIONS = {
    "redundant": "y = z + e; both modalities carry z",
    "unique": "y = z1 + e; x1 carries z1, x2 an unrelated z2",
    "synergistic": (
        "y = z1 z2 + e; x1 carries z1, x2 carries z2 (no additive function of x1 and x2 "
        "predicts y better than its mean)"
    ),
    "mixed": "y = zr + z1 z2 + e; zr in both modalities, z1 in x1, z2 in x2",
}
"""Regression sets: kind -> construction (factors z ~ N(0, 1), target noise e ~ N(0, s^2))."""

MULTILABEL_INTERACTIONS = {
    "redundant": "labels (r1, r2, r1 AND r2); both modalities carry r1 and r2",
    "unique": "labels (b1, b3, b1 AND b3); x1 carries b1 and b3, x2 an unrelated bit b2",
    "synergistic": (
        "labels (b1 XOR b2, b1 AND b2, b3); x1 carries b1 and b3, x2 carries b2 (label 2 needs "
        "only x1)"
    ),
    "mixed": "labels (r, b1 XOR b2, b1); r in both modalities, b1 in x1, b2 in x2",
}
"""Multi-label sets (3 labels): kind -> construction (bits are fair coins)."""

TASK_INTERACTIONS = {
    "classification": INTERACTIONS,
    "regression": REGRESSION_INTERACTIONS,
    "multilabel": MULTILABEL_INTERACTIONS,
}
"""Task -> its descriptions of the kinds."""

DEFAULT_NOISE = {"classification": 0.5, "multilabel": 0.5, "regression": 0.25}
"""Feature noise standard deviation per task when ``noise`` is not given."""


def make_interaction_dataset(
    kind: str,
    task: str = "classification",
    n: int = 2000,
    dim: int = 8,
    noise: float | None = None,
    seed: int = 0,
    target_noise: float = 0.1,
) -> MultimodalDataset:
    """Two vector modalities ``x1``, ``x2`` of ``dim`` features whose interaction with the target
    is planted (see the module docstring).

    - ``classification``: ``INTERACTIONS``; 2 classes (4 for ``mixed``).
    - ``regression``: ``REGRESSION_INTERACTIONS``; targets ``(N,)``. With the default noise a
      model of the product of the two modalities explains about 85% of the variance of the
      synergistic target, while any additive model of x1 and x2 explains none of it.
    - ``multilabel``: ``MULTILABEL_INTERACTIONS``; targets ``(N, 3)`` of 0/1.

    Args:
        kind: ``redundant``, ``unique``, ``synergistic`` or ``mixed``.
        task: ``classification``, ``regression`` or ``multilabel``.
        n: samples; dim: features per modality (>= 2).
        noise: standard deviation of the feature noise; by default 0.5 (classification,
            multilabel) or 0.25 (regression).
        seed: the seed of the generator; the same seed gives the same data set.
        target_noise: standard deviation of the target noise ``e`` (regression only).
    """
    if kind not in INTERACTIONS:
        raise ValueError(f"unknown kind {kind!r}; choose from {list(INTERACTIONS)}")
    if task not in TASK_INTERACTIONS:
        raise ValueError(f"unknown task {task!r}; choose from {list(TASK_INTERACTIONS)}")
    if n < 1 or dim < 2:
        raise ValueError(f"need n >= 1 and dim >= 2, got n={n}, dim={dim}")
    noise = DEFAULT_NOISE[task] if noise is None else noise
    if noise < 0 or target_noise < 0:
        raise ValueError(
            f"noise levels must be >= 0, got noise={noise}, target_noise={target_noise}"
        )
    rng = np.random.default_rng(seed)
    if task == "classification":
        factors1, factors2, y = _classification(kind, rng, n)
    elif task == "multilabel":
        factors1, factors2, y = _multilabel(kind, rng, n)
    else:
        factors1, factors2, y = _regression(kind, rng, n)
        y = y + target_noise * rng.normal(size=n)

    def encode(factors: list[np.ndarray]) -> np.ndarray:
        directions = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:, : len(factors)].T
        signal = sum(f[:, None] * v for f, v in zip(factors, directions, strict=True))
        return signal + noise * rng.normal(size=(n, dim))

    suffix = "" if task == "classification" else f"-{task}"
    return MultimodalDataset(
        {"x1": encode(factors1), "x2": encode(factors2)},
        y,
        name=f"synthetic-{kind}{suffix}",
        task=task,
    )


Factors = tuple[list[np.ndarray], list[np.ndarray], np.ndarray]


def _signs(bits: list[np.ndarray]) -> list[np.ndarray]:
    return [2.0 * b - 1.0 for b in bits]


def _classification(kind: str, rng: np.random.Generator, n: int) -> Factors:
    b1, b2, r = (rng.integers(0, 2, n) for _ in range(3))
    if kind == "redundant":
        bits1, bits2, y = [b1], [b1], b1
    elif kind == "unique":
        bits1, bits2, y = [b1], [b2], b1
    elif kind == "synergistic":
        bits1, bits2, y = [b1], [b2], b1 ^ b2
    else:
        bits1, bits2, y = [r, b1], [r, b2], 2 * r + (b1 ^ b2)
    return _signs(bits1), _signs(bits2), y


def _multilabel(kind: str, rng: np.random.Generator, n: int) -> Factors:
    b1, b2, b3, r = (rng.integers(0, 2, n) for _ in range(4))
    if kind == "redundant":
        bits1, bits2, labels = [b1, b3], [b1, b3], [b1, b3, b1 & b3]
    elif kind == "unique":
        bits1, bits2, labels = [b1, b3], [b2], [b1, b3, b1 & b3]
    elif kind == "synergistic":
        bits1, bits2, labels = [b1, b3], [b2], [b1 ^ b2, b1 & b2, b3]
    else:
        bits1, bits2, labels = [r, b1], [r, b2], [r, b1 ^ b2, b1]
    return _signs(bits1), _signs(bits2), np.stack(labels, axis=1)


def _regression(kind: str, rng: np.random.Generator, n: int) -> Factors:
    z1, z2, zr = rng.normal(size=(3, n))
    if kind == "redundant":
        return [zr], [zr], zr
    if kind == "unique":
        return [z1], [z2], z1
    if kind == "synergistic":
        return [z1], [z2], z1 * z2
    return [zr, z1], [zr, z2], zr + z1 * z2
