from __future__ import annotations

import numpy as np
import pytest

from intermodal.data import MFEAT_VIEWS, list_datasets, load_dataset, load_mfeat
from tests.helpers import SHARED_DATA

DIMS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}


def test_mfeat_has_six_views_and_balanced_classes() -> None:
    data = load_mfeat()
    assert data.shapes == {view: (dim,) for view, dim in DIMS.items()}
    assert len(data) == 2000 and data.classes == list(range(10))
    assert np.bincount(data.targets.numpy()).tolist() == [200] * 10


def test_views_subset_and_unknown_view() -> None:
    assert load_mfeat(["pix", "fou"]).modality_names == ["fou", "pix"]
    with pytest.raises(KeyError, match="unknown mfeat views"):
        load_mfeat(["pix", "nope"])


@pytest.mark.skipif(not (SHARED_DATA / "uci-mfeat").is_dir(), reason="source CSVs not present")
def test_bundled_copy_equals_the_source_csvs() -> None:
    data = load_mfeat()
    for view in MFEAT_VIEWS:
        table = np.loadtxt(
            SHARED_DATA / "uci-mfeat" / f"mfeat-{view}.csv", delimiter=",", skiprows=1
        )
        np.testing.assert_allclose(data.modalities[view].numpy(), table[:, :-1], rtol=1e-6)
        np.testing.assert_array_equal(data.targets.numpy(), table[:, -1].astype(int))


@pytest.mark.parametrize("name", ["mfeat", "synthetic-redundant", "synthetic-mixed"])
def test_listed_facts_match_the_loaded_data(name: str) -> None:
    row = list_datasets().set_index("name").loc[name]
    data = load_dataset(name)
    assert row["samples"] == len(data) and row["classes"] == data.n_classes
    for key in data.modality_names:
        assert f"{key} ({data.kinds[key]} " in row["modalities"]


def test_registry_lists_and_loads_mfeat() -> None:
    table = list_datasets()
    row = table[table["name"] == "mfeat"].iloc[0]
    assert row["samples"] == 2000 and "pix (vector 240)" in row["modalities"]
    assert len(load_dataset("mfeat")) == 2000
    with pytest.raises(KeyError, match="unknown data set"):
        load_dataset("nope")
