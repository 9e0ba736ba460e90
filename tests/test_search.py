from __future__ import annotations

from pathlib import Path

import pytest
import torch

from intermodal import load_model, save_model
from intermodal.data import MultimodalDataset, holdout_split, standardize, stratified_split
from intermodal.search import FusionSearch, search_space
from intermodal.training import RunContext
from tests.helpers import blobs


def test_candidates_are_distinct_reproducible_and_within_the_budget() -> None:
    context = RunContext(seed=3)
    search = FusionSearch(trials=6, depths=(0, 2), context=context)
    first = search.candidates(["a", "b"])
    assert first == FusionSearch(trials=6, depths=(0, 2), context=context).candidates(["a", "b"])
    assert len(first) == 6
    assert len({(c["fusion"], tuple(c["depths"].values())) for c in first}) == 6
    assert all(c["fusion"] in search_space() and set(c["depths"].values()) <= {0, 2} for c in first)
    small = FusionSearch(fusions=["early"], depths=(1,), trials=5)
    assert small.candidates(["a", "b"]) == [{"fusion": "early", "depths": {"a": 1, "b": 1}}]


def test_build_uses_the_configured_encoder_depths() -> None:
    data = blobs()
    model = FusionSearch.build({"fusion": "gmu", "depths": {"a": 2, "b": 0}}, data)
    linear_layers = {
        key: sum(isinstance(m, torch.nn.Linear) for m in encoder.modules())
        for key, encoder in model.encoders.items()
    }
    assert linear_layers == {"a": 3, "b": 1}
    assert type(model.fusion).__name__ == "GatedFusion"


def test_search_records_every_trial_and_keeps_the_best(tmp_path: Path) -> None:
    splits = standardize(stratified_split(blobs(), seed=0))
    search = FusionSearch(
        fusions=["early", "late-weighted", "lmf"],
        depths=(0, 1),
        trials=3,
        context=RunContext(max_epochs=4),
    )
    search.fit(splits.train, splits.val)
    trials = search.trials_
    assert trials["trial"].tolist() == [0, 1, 2]
    best = trials.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    assert best["fusion"] == search.best_config_["fusion"]
    assert best["depths"] == ",".join(f"{k}:{v}" for k, v in search.best_config_["depths"].items())
    save_model(search.best_model_, tmp_path / "best")
    x = splits.test.batch()
    search.best_model_.eval()
    torch.testing.assert_close(
        load_model(tmp_path / "best")(x.inputs), search.best_model_(x.inputs)
    )


def test_search_refuses_non_vector_modalities_and_unknown_fusions() -> None:
    with pytest.raises(KeyError, match="unknown fusions"):
        FusionSearch(fusions=["nope"])
    data = blobs()
    images = MultimodalDataset(
        {"a": data.modalities["a"].reshape(-1, 1, 5, 1), "b": data.modalities["b"]}, data.targets
    )
    train, val = holdout_split(images)
    with pytest.raises(ValueError, match="every modality must be a vector"):
        FusionSearch(trials=1).fit(train, val)
