"""Missing modalities: hiding them at random (to train or test for incompleteness) and counting
the presence patterns of a data set."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor

from intermodal.data.dataset import MultimodalDataset

MAX_SUBSETS = 63
"""Subsets of modalities that a subset table lists at most: all of them for up to 6 modalities;
beyond, every single modality, every leave-one-out subset and the full set, then a seeded
sample of the others up to this number (see :func:`subsets`)."""


def hide_at_random(
    dataset: MultimodalDataset,
    rate: float,
    seed: int = 0,
    modalities: Sequence[str] | None = None,
) -> MultimodalDataset:
    """Hide each modality of each sample with probability ``rate``, keeping at least one
    modality of each sample present.

    Each (sample, modality) draws once from a generator seeded with ``seed``, so the same seed
    hides the same entries for every model. Where every present modality of a sample was drawn,
    the one with the smallest draw stays. A modality already absent stays absent.

    Args:
        rate: probability in [0, 1) of hiding a modality.
        modalities: the modalities that may be hidden (default: all).
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"the missing rate must be in [0, 1), got {rate}: at least one modality of each "
            "sample must stay present"
        )
    names = list(modalities) if modalities is not None else dataset.modality_names
    unknown = sorted(set(names) - set(dataset.modality_names))
    if unknown:
        raise ValueError(f"unknown modalities {unknown}; the data set has {dataset.modality_names}")
    if rate == 0.0 or not names:
        return dataset
    generator = torch.Generator().manual_seed(seed)
    draws = torch.rand(len(dataset), len(dataset.modality_names), generator=generator)
    present = torch.stack([dataset.masks[m] for m in dataset.modality_names], dim=1)
    eligible = torch.tensor([m in names for m in dataset.modality_names])
    hide = (draws < rate) & present & eligible
    emptied = ~(present & ~hide).any(dim=1)
    if emptied.any():  # keep the present modality with the smallest draw
        candidates = torch.where(present, draws, torch.full_like(draws, 2.0))
        keep = candidates[emptied].argmin(dim=1)
        hide[emptied.nonzero().flatten(), keep] = False
    masks = {m: present[:, i] & ~hide[:, i] for i, m in enumerate(dataset.modality_names)}
    return dataset.with_masks(masks)


def keep_only(dataset: MultimodalDataset, modalities: Sequence[str]) -> MultimodalDataset:
    """The data set with every modality outside ``modalities`` absent in every sample (the
    samples that had none of ``modalities`` are dropped)."""
    masks = {
        m: dataset.masks[m] if m in modalities else torch.zeros(len(dataset), dtype=torch.bool)
        for m in dataset.modality_names
    }
    any_present = torch.stack(list(masks.values())).any(dim=0)
    kept = dataset.subset(any_present.nonzero().flatten()) if not any_present.all() else dataset
    return kept.with_masks({m: v[any_present] for m, v in masks.items()})


def subsets(
    modalities: Sequence[str], limit: int = MAX_SUBSETS, seed: int = 0
) -> list[tuple[str, ...]]:
    """Non-empty subsets of ``modalities``, smallest first (then in the order of
    ``itertools.combinations``).

    All ``2^M - 1`` of them when that is at most ``limit``. Beyond, always every single
    modality, every leave-one-out subset and the full set (``2M + 1`` subsets, so the count is
    ``max(limit, 2M + 1)`` at most), then a uniform sample, seeded with ``seed``, of the other
    subsets up to ``limit`` in all. The same arguments give the same subsets, so every model of
    a benchmark is scored on the same ones.
    """
    names = list(modalities)
    count = len(names)
    if limit < 1:
        raise ValueError(f"the subset limit must be at least 1, got {limit}")
    total = 2**count - 1
    if total <= limit:
        return [c for size in range(1, count + 1) for c in itertools.combinations(names, size)]
    full = (1 << count) - 1
    chosen = {1 << i for i in range(count)} | {full ^ (1 << i) for i in range(count)} | {full}
    rest = total - len(chosen)
    wanted = min(rest, max(0, limit - len(chosen)))
    generator = random.Random(seed)
    if wanted > rest // 2 and rest <= 1 << 20:  # dense: draw from the list of the others
        others = [b for b in range(1, full) if b not in chosen]
        chosen.update(generator.sample(others, wanted))
    else:  # sparse: draw bit patterns until enough new ones are found
        target = len(chosen) + wanted
        while len(chosen) < target:
            chosen.add(generator.randrange(1, full))
    members = [tuple(n for i, n in enumerate(names) if bits >> i & 1) for bits in chosen]
    order = {n: i for i, n in enumerate(names)}
    return sorted(members, key=lambda c: (len(c), [order[n] for n in c]))


def complete_samples(dataset: MultimodalDataset, modalities: Sequence[str] | None = None) -> Tensor:
    """``(N,)`` bool: True for the samples in which every one of ``modalities`` (default: all)
    is present."""
    names = list(modalities) if modalities is not None else dataset.modality_names
    complete = torch.ones(len(dataset), dtype=torch.bool)
    for m in names:
        complete &= dataset.masks[m]
    return complete


def presence_patterns(dataset: MultimodalDataset) -> pd.DataFrame:
    """One row per presence pattern (which modalities a sample has) with its count and
    fraction, most frequent first."""
    present = torch.stack([dataset.masks[m] for m in dataset.modality_names], dim=1)
    patterns, counts = torch.unique(present, dim=0, return_counts=True)
    rows = [
        {
            "present": ", ".join(
                m for m, on in zip(dataset.modality_names, row, strict=True) if on
            ),
            "count": int(count),
            "fraction": int(count) / len(dataset),
        }
        for row, count in zip(patterns.tolist(), counts.tolist(), strict=True)
    ]
    return (
        pd.DataFrame(rows)
        .sort_values("count", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def missing_rates(dataset: MultimodalDataset) -> dict[str, float]:
    """Fraction of samples in which each modality is absent."""
    return {m: float((~mask).double().mean()) for m, mask in dataset.masks.items()}
