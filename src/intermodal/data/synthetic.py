"""Synthetic two-modality data sets with known interactions, to check analysis tools."""

from __future__ import annotations

import numpy as np

from intermodal.data.dataset import MultimodalDataset

INTERACTIONS = {
    "redundant": "y = b; both modalities carry b (1 bit of redundancy)",
    "unique": "y = b1; x1 carries b1, x2 an unrelated bit (1 bit unique to x1)",
    "synergistic": "y = b1 XOR b2; x1 carries b1, x2 carries b2 (1 bit of synergy)",
    "mixed": "y = 2 r + (b1 XOR b2); r in both modalities, b1 in x1, b2 in x2 (1 bit R, 1 bit S)",
}


def make_interaction_dataset(
    kind: str, n: int = 2000, dim: int = 8, noise: float = 0.5, seed: int = 0
) -> MultimodalDataset:
    """Two vector modalities ``x1``, ``x2`` of ``dim`` features whose interaction with the label
    is planted (see ``INTERACTIONS``). Each bit is written as ``+-v`` along a random unit
    direction ``v`` plus Gaussian noise of standard deviation ``noise`` per feature; bits in
    the same modality use orthogonal directions.

    Args:
        kind: ``redundant``, ``unique``, ``synergistic`` or ``mixed``.
        n: samples; dim: features per modality (>= 2); noise: noise standard deviation.
    """
    if kind not in INTERACTIONS:
        raise ValueError(f"unknown kind {kind!r}; choose from {list(INTERACTIONS)}")
    if n < 1 or dim < 2:
        raise ValueError(f"need n >= 1 and dim >= 2, got n={n}, dim={dim}")
    rng = np.random.default_rng(seed)
    b1, b2, r = (rng.integers(0, 2, n) for _ in range(3))
    if kind == "redundant":
        bits1, bits2, y = [b1], [b1], b1
    elif kind == "unique":
        bits1, bits2, y = [b1], [b2], b1
    elif kind == "synergistic":
        bits1, bits2, y = [b1], [b2], b1 ^ b2
    else:
        bits1, bits2, y = [r, b1], [r, b2], 2 * r + (b1 ^ b2)

    def encode(bits: list[np.ndarray]) -> np.ndarray:
        directions = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:, : len(bits)].T
        signal = sum((2.0 * b[:, None] - 1.0) * v for b, v in zip(bits, directions, strict=True))
        return signal + noise * rng.normal(size=(n, dim))

    return MultimodalDataset(
        {"x1": encode(bits1), "x2": encode(bits2)}, y, name=f"synthetic-{kind}"
    )
