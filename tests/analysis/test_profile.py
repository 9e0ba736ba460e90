from __future__ import annotations

import numpy as np
import pytest

from intermodal.analysis import profile
from intermodal.data import INTERACTIONS, load_dataset, make_interaction_dataset


def test_profile_of_a_synthetic_data_set() -> None:
    data = make_interaction_dataset("mixed", n=1500, noise=0.3)
    result = profile(data, n_clusters=4)
    rows = result.modalities.set_index("modality")
    assert list(rows.index) == ["x1", "x2"] and (rows["missing_rate"] == 0).all()
    assert (rows["mutual_information_bits"] <= np.log2(4) + 1e-9).all()
    assert (rows["probe_accuracy"] > 0.4).all()  # each modality sees half of the label
    pair = result.pairs.iloc[0]
    assert pair["redundancy_bits"] > 0.7 and pair["synergy_bits"] > 0.7
    assert len(pair["canonical_correlations"]) == 3


def test_synthetic_data_sets_are_registered() -> None:
    for kind in INTERACTIONS:
        assert load_dataset(f"synthetic-{kind}").modality_names == ["x1", "x2"]
    with pytest.raises(ValueError, match="unknown kind"):
        make_interaction_dataset("nope")
