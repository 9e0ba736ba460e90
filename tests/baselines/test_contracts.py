"""The classical baselines follow the model contracts: ``fit`` dispatches to them, they predict
with ``model(inputs, mask)``, save and load without pickle (the checksum covers a tree
ensemble's model text), survive the pickling of worker processes, fit deterministically and
with the threads they are given."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from intermodal import load_model, save_model
from intermodal.baselines import build_gbdt, build_linear
from intermodal.baselines.base import fitted_threads
from intermodal.data import make_interaction_dataset, split_dataset, standardize
from intermodal.metrics import evaluate, predict_outputs
from intermodal.models import FitsItself
from intermodal.saving import CorruptModelError
from intermodal.training import RunContext, fit, thread_limit

pytest.importorskip("lightgbm")
BUILDERS = {"linear": build_linear, "gbdt": build_gbdt}
TASKS = ("classification", "multilabel", "regression")


def splits_of(task: str, seed: int = 0):  # type: ignore[no-untyped-def]
    data = make_interaction_dataset("mixed", task, n=240, seed=seed)
    return standardize(split_dataset(data, seed=seed))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", list(BUILDERS))
def test_fitted_models_round_trip_without_pickle(name: str, task: str, tmp_path: Path) -> None:
    splits = splits_of(task)
    model = BUILDERS[name](splits.train, RunContext())
    assert isinstance(model, FitsItself)
    result = fit(model, splits, threads=1)
    assert result.engine == ("scikit-learn" if name == "linear" else "lightgbm")
    assert result.chosen and result.history and result.best_val_loss is not None
    save_model(result.model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    before = predict_outputs(result.model, splits.test)
    assert before.shape == (len(splits.test), splits.test.output_dim)
    assert torch.equal(predict_outputs(loaded, splits.test), before)
    assert evaluate(loaded, splits.test) == evaluate(result.model, splits.test)
    config = (tmp_path / "model" / "config.json").read_text()
    assert len(config) < 50_000  # the tree ensembles are in model.safetensors, not here
    assert torch.equal(predict_outputs(pickle.loads(pickle.dumps(loaded)), splits.test), before)


def test_the_checksum_covers_the_model_text_of_the_trees(tmp_path: Path) -> None:
    splits = splits_of("classification")
    result = fit(build_gbdt(splits.train, RunContext()), splits, threads=1)
    save_model(result.model, tmp_path / "model")
    sizes = json.loads((tmp_path / "model" / "config.json").read_text())["model"]["config"]
    assert sizes["model_sizes"] == result.model.model_sizes
    weights = tmp_path / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    text = result.model.texts()[0].encode()
    where = data.find(text[-200:])
    assert where > 0
    data[where + 10] ^= 1  # one bit of the trees' text
    weights.write_bytes(bytes(data))
    with pytest.raises(CorruptModelError, match="checksum mismatch"):
        load_model(tmp_path / "model")


@pytest.mark.parametrize("name", list(BUILDERS))
def test_fitting_twice_gives_the_same_model(name: str) -> None:
    splits = splits_of("classification", seed=3)
    first = fit(BUILDERS[name](splits.train, RunContext()), splits, seed=1, threads=1).model
    second = fit(BUILDERS[name](splits.train, RunContext()), splits, seed=1, threads=1).model
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key


def test_the_threads_of_the_run_context_reach_lightgbm_and_blas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lightgbm
    import threadpoolctl

    seen: dict[str, list[Any]] = {"lightgbm": [], "blas": []}
    train, limits = lightgbm.train, threadpoolctl.threadpool_limits

    def recording_train(params: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        seen["lightgbm"].append(params["num_threads"])
        return train(params, *args, **kwargs)

    def recording_limits(limits: Any = None, **kwargs: Any) -> Any:
        seen["blas"].append(limits)
        return threadpoolctl.ThreadpoolController().limit(limits=limits, **kwargs)

    monkeypatch.setattr(lightgbm, "train", recording_train)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", recording_limits)
    splits = splits_of("classification")
    fit(build_gbdt(splits.train, RunContext()), splits, threads=1)
    fit(build_linear(splits.train, RunContext()), splits, threads=2)
    assert seen == {"lightgbm": [1], "blas": [1, 2]}
    with thread_limit(3):  # no threads given: PyTorch's setting
        assert fitted_threads(RunContext()) == 3
    del limits


def test_absent_modalities_are_a_zero_block_and_a_presence_column() -> None:
    splits = splits_of("classification")
    model = fit(build_linear(splits.train, RunContext()), splits, threads=1).model
    test = splits.test
    none = {"x1": torch.zeros(len(test), dtype=torch.bool)}
    hidden = model(test.modalities, none)
    noise = {**test.modalities, "x1": torch.randn_like(test.modalities["x1"]) * 100}
    assert torch.equal(model(noise, none), hidden)  # what is absent is not read
    assert not torch.equal(hidden, model(test.modalities, None))
    assert "presence column" in model.absent
    np.testing.assert_array_equal(model.modalities, ["x1", "x2"])
