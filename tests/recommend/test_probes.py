"""The interaction profile: normalization, orientation, and nearest bank entries by kind."""

from __future__ import annotations

import numpy as np
import pytest

from intermodal.analysis import clusters_for, pid
from intermodal.data import MultimodalDataset, make_interaction_dataset
from intermodal.recommend import PARTS, ProfileError, interaction_profile, load_bank, nearest
from intermodal.recommend.mixtures import make_mixture
from intermodal.recommend.probes import PID_COMPONENTS, _reduce


@pytest.mark.parametrize(
    ("kind", "part"),
    [("synergistic", "synergy"), ("unique", "unique_strong"), ("redundant", "redundancy")],
)
def test_a_known_kind_lands_nearest_an_entry_of_that_kind(kind: str, part: str) -> None:
    data = make_interaction_dataset(kind, n=1500, seed=7)  # a seed no bank set uses
    profile = interaction_profile(data)
    assert max(PARTS, key=lambda p: profile.normalized[p]) == part
    (entry, _), *_ = nearest(profile.vector(), load_bank(), k=1)
    assert max(PARTS, key=lambda p: entry.normalized[p]) == part


def test_the_normalized_profile_sums_to_one_and_is_the_pid_over_its_total() -> None:
    data = make_mixture(["R", "S"], n=1200, seed=3)
    profile = interaction_profile(data)
    assert sum(profile.normalized.values()) == pytest.approx(1.0, abs=1e-5)
    (pair,) = profile.pairs
    strong, weak = pair.strong, pair.weak
    y = data.targets.numpy()
    cells = clusters_for(len(y), 4, max_clusters=10)
    assert pair.cells == cells
    x = {m: data.modalities[m].double().numpy() for m in ("x1", "x2")}
    reference = pid(_reduce(x[strong], PID_COMPONENTS), _reduce(x[weak], PID_COMPONENTS), y, cells)
    parts = [reference.redundancy, reference.unique1, reference.unique2, reference.synergy]
    expected = np.array(parts) / sum(parts)
    assert profile.vector() == pytest.approx(expected, abs=1e-5)
    assert pair.bias_bits == pytest.approx((cells**2 - 1) * 3 / (2 * len(y) * np.log(2)), rel=1e-4)


def test_the_stronger_modality_comes_first() -> None:
    data = make_mixture(["U2"], n=800, seed=1)  # only x2 knows the target
    profile = interaction_profile(data)
    assert profile.pairs[0].strong == "x2"
    assert profile.strongest == "x2"
    assert profile.normalized["unique_strong"] > 0.8


def test_more_than_two_modalities_average_the_pairs() -> None:
    base = make_mixture(["R"], n=900, seed=2)
    rng = np.random.default_rng(0)
    third = base.modalities["x1"].numpy() + rng.normal(size=(900, 8))
    data = MultimodalDataset(
        {"x1": base.modalities["x1"], "x2": base.modalities["x2"], "x3": third}, base.targets
    )
    profile = interaction_profile(data)
    assert len(profile.pairs) == 3 and profile.aggregate == "mean over 3 pairs"
    mean = np.mean([[p.normalized[k] for k in PARTS] for p in profile.pairs], axis=0)
    assert profile.vector() == pytest.approx(mean / mean.sum(), abs=1e-5)


def test_what_cannot_be_profiled_is_refused() -> None:
    data = make_interaction_dataset("unique", n=600)
    with pytest.raises(ProfileError, match="nothing to fuse"):
        interaction_profile(data.select(["x1"]))
    with pytest.raises(ProfileError, match="classification data sets only"):
        interaction_profile(make_interaction_dataset("unique", task="regression", n=600))
    with pytest.raises(ProfileError, match="too few"):
        interaction_profile(make_interaction_dataset("unique", n=50))
    constant = data.subset(np.flatnonzero(data.targets.numpy() == 0))
    with pytest.raises(ProfileError, match="constant"):
        interaction_profile(constant)
