from __future__ import annotations

import numpy as np
import pytest
import torch

from intermodal.data import MultimodalDataset
from intermodal.data.missing import hide_at_random, keep_only, presence_patterns, subsets
from intermodal.data.splits import group_holdout


def three(n: int = 400) -> MultimodalDataset:
    rng = np.random.default_rng(0)
    return MultimodalDataset(
        {m: rng.normal(size=(n, 2)) for m in ("a", "b", "c")}, rng.integers(0, 2, n)
    )


def test_hiding_at_random_keeps_one_modality_and_is_seeded() -> None:
    data = three(4000)
    hidden = hide_at_random(data, 0.5, seed=3)
    present = torch.stack([hidden.masks[m] for m in hidden.modality_names], dim=1)
    assert present.any(dim=1).all()
    # P(hidden) = 0.5 except when all three were drawn (p = 1/8): then one of them stays
    assert float((~present).double().mean()) == pytest.approx(0.5 - 1 / 24, abs=0.02)
    again = hide_at_random(data, 0.5, seed=3)
    assert all(torch.equal(hidden.masks[m], again.masks[m]) for m in data.modality_names)
    for m in data.modality_names:
        assert (hidden.modalities[m][~hidden.masks[m]] == 0).all()
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        hide_at_random(data, 1.0)


def test_subsets_keep_only_and_presence_patterns() -> None:
    data = three(6)
    assert subsets(["a", "b", "c"]) == [
        ("a",),
        ("b",),
        ("c",),
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("a", "b", "c"),
    ]
    # a limit below 2M + 1 still keeps every single, leave-one-out and the full set: all 7
    assert subsets(["a", "b", "c"], limit=3) == subsets(["a", "b", "c"])
    only = keep_only(data, ["b"])
    assert only.masks["b"].all() and not only.masks["a"].any() and not only.masks["c"].any()
    masked = data.with_masks({"a": torch.tensor([True, False, True, True, False, True])})
    table = presence_patterns(masked)
    assert table.to_dict("records") == [
        {"present": "a, b, c", "count": 4, "fraction": 4 / 6},
        {"present": "b, c", "count": 2, "fraction": 2 / 6},
    ]


def test_a_group_holdout_never_splits_a_group() -> None:
    data = three(60)
    data.metadata["group"] = np.repeat(np.arange(12), 5)
    rest, held = group_holdout(data, 0.2, seed=1)
    assert set(rest.metadata["group"]).isdisjoint(held.metadata["group"])
    assert len(held) >= 12 and len(rest) + len(held) == 60


def test_beyond_the_limit_subsets_keep_singles_leave_one_out_and_the_full_set() -> None:
    names = [f"view{i:02d}" for i in range(12)]
    chosen = subsets(names, 63, seed=0)
    assert len(chosen) == len(set(chosen)) == 63
    required = {(m,) for m in names} | {tuple(n for n in names if n != m) for m in names}
    required.add(tuple(names))
    assert required <= set(chosen)
    # every subset is a sorted, non-empty selection of the names; smallest first
    assert all(list(c) == sorted(c) and c and set(c) <= set(names) for c in chosen)
    assert [len(c) for c in chosen] == sorted(len(c) for c in chosen)
    # the rest is a seeded sample of the other subsets: the same seed gives the same subsets,
    # another seed another sample of the others with the same required ones
    assert subsets(names, 63, seed=0) == chosen
    other = subsets(names, 63, seed=1)
    assert required <= set(other) and set(other) != set(chosen)
    # the sample is drawn from all sizes, not only the smallest (sizes 2 .. 10)
    sizes = {len(c) for c in set(chosen) - required}
    assert len(sizes) > 2 and max(sizes) > 2
    # the count is bounded: the limit, or 2M + 1 when the limit is smaller
    assert len(subsets(names, 10)) == 2 * 12 + 1
    # seven modalities: 127 subsets, every one but one of the 112 others below 126
    seven = names[:7]
    assert len(subsets(seven, 126)) == 126 and len(subsets(seven, 127)) == 127
    # many modalities: no enumeration of 2^30 subsets, still bounded and complete where needed
    many = [f"m{i:02d}" for i in range(30)]
    assert len(subsets(many, 100, seed=3)) == 100
    with pytest.raises(ValueError, match="at least 1"):
        subsets(names, 0)
