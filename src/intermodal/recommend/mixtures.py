"""Synthetic two-modality classification sets with a planted mixture of interactions.

A set is a list of target bits, each of one type (fair coins, independent):

- ``R`` (redundancy): both modalities carry the bit;
- ``U1`` / ``U2`` (uniqueness): only ``x1`` / only ``x2`` carries it;
- ``S`` (synergy): ``x1`` carries a bit ``a``, ``x2`` a bit ``b``, the target bit is ``a XOR b``.

The class is the binary number the target bits spell (``2^bits`` classes), so that two bits of
different types mix their interactions in the proportions of their counts; unequal feature noise
of the two modalities grades redundancy into uniqueness of the less noisy one. Every factor a
modality carries is written along its own random unit direction (orthogonal within a modality),
as ``(2 b - 1) v``, plus Gaussian noise of the modality's standard deviation on every feature, as
in :func:`intermodal.data.make_interaction_dataset`, whose ``redundant``, ``unique``,
``synergistic`` and ``mixed`` kinds are the one-bit and ``R + S`` cases (with a distractor bit in
``x2`` for ``unique``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.synthetic import INTERACTIONS, make_interaction_dataset

BIT_TYPES = ("R", "U1", "U2", "S")
"""Target-bit types: redundant, unique to x1, unique to x2, synergistic (XOR)."""


def make_mixture(
    bits: Sequence[str],
    n: int = 1500,
    dim: int = 8,
    noise: float | tuple[float, float] = 0.5,
    seed: int = 0,
    name: str | None = None,
) -> MultimodalDataset:
    """Two vector modalities ``x1``, ``x2`` of ``dim`` features and a class spelled by ``bits``.

    Args:
        bits: one to three types of ``BIT_TYPES``, e.g. ``("R", "S")``.
        n: samples; dim: features per modality (at least the bits a modality carries).
        noise: the feature noise's standard deviation, one for both modalities or (x1, x2).
        seed: the generator's seed.
        name: the data set's name (default: ``mixture-R+S-noise0.5``).
    """
    bits = list(bits)
    unknown = [b for b in bits if b not in BIT_TYPES]
    if not bits or unknown or len(bits) > 3:
        raise ValueError(
            f"bits must be one to three of {BIT_TYPES}, got {bits!r}"
            + (f" ({unknown} unknown)" if unknown else "")
        )
    noises = (noise, noise) if isinstance(noise, int | float) else tuple(noise)
    if len(noises) != 2 or min(noises) < 0:
        raise ValueError(f"noise must be >= 0, one number or one per modality, got {noise!r}")
    rng = np.random.default_rng(seed)
    carried: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    target = np.zeros(n, dtype=np.int64)
    for kind in bits:
        a = rng.integers(0, 2, n)
        if kind == "R":
            carried[0].append(a)
            carried[1].append(a)
            bit = a
        elif kind == "S":
            b = rng.integers(0, 2, n)
            carried[0].append(a)
            carried[1].append(b)
            bit = a ^ b
        else:
            carried[0 if kind == "U1" else 1].append(a)
            bit = a
        target = 2 * target + bit
    if max(len(c) for c in carried) > dim:
        raise ValueError(f"dim={dim} is smaller than the bits a modality carries")

    def encode(factors: list[np.ndarray], sd: float) -> np.ndarray:
        x = sd * rng.normal(size=(n, dim))
        if factors:
            directions = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:, : len(factors)].T
            for f, v in zip(factors, directions, strict=True):
                x += (2.0 * f - 1.0)[:, None] * v
        return x

    x1, x2 = encode(carried[0], noises[0]), encode(carried[1], noises[1])
    if name is None:
        level = f"{noises[0]:g}" if noises[0] == noises[1] else f"{noises[0]:g}-{noises[1]:g}"
        name = f"mixture-{'+'.join(bits)}-noise{level}"
    return MultimodalDataset({"x1": x1, "x2": x2}, target, name=name, task="classification")


BANK_SAMPLES = 1500
"""Samples of each bank set (enough for 6 cells per modality with 4 classes)."""

BANK_SETS: list[dict[str, Any]] = [
    *({"generator": "interaction", "kind": kind} for kind in INTERACTIONS),
    *(
        {"generator": "mixture", "bits": bits, "noise": 0.5}
        for bits in (["R", "U1"], ["U1", "U2"], ["U1", "S"], ["U1", "U1"], ["S", "S"], ["R", "R"])
    ),
    *(
        {"generator": "mixture", "bits": bits, "noise": 1.0}
        for bits in (["R"], ["U1"], ["S"], ["R", "S"], ["R", "U1"], ["U1", "U2"], ["U1", "S"])
    ),
    *(
        {"generator": "mixture", "bits": bits, "noise": [0.5, 1.25]}
        for bits in (["R"], ["R", "S"], ["U1", "U2"], ["S"])
    ),
]
"""The constructions of the bank's data sets: the four kinds of ``make_interaction_dataset``
(feature noise 0.5), and mixtures of one or two target bits at feature noise 0.5, 1.0 and
unequal noise (0.5 on x1, 1.25 on x2, which grades redundancy into uniqueness of x1). Each is
drawn with ``BANK_SAMPLES`` samples and seed ``BANK_SEED + its position``."""
BANK_SEED = 100
"""The seed of the first bank set (held-out sets use other seeds)."""


def describe_set(construction: Mapping[str, Any]) -> str:
    """A construction in words."""
    if construction["generator"] == "interaction":
        return INTERACTIONS[construction["kind"]]
    noise = construction["noise"]
    level = f"{noise}" if isinstance(noise, int | float) else f"{noise[0]} on x1, {noise[1]} on x2"
    return f"target bits {' + '.join(construction['bits'])}, feature noise {level}"


def build_set(construction: Mapping[str, Any]) -> MultimodalDataset:
    """The data set of a construction (``BANK_SETS`` or alike, with ``n`` and ``seed``)."""
    n, seed = int(construction["n"]), int(construction["seed"])
    if construction["generator"] == "interaction":
        data = make_interaction_dataset(construction["kind"], n=n, seed=seed)
        data.name = f"synthetic-{construction['kind']}"
        return data
    if construction["generator"] != "mixture":
        raise ValueError(f"unknown generator {construction['generator']!r}")
    noise = construction["noise"]
    return make_mixture(
        construction["bits"],
        n=n,
        noise=noise if isinstance(noise, int | float) else tuple(noise),
        seed=seed,
    )
