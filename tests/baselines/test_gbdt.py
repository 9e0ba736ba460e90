"""The gbdt baseline equals LightGBM's own fit with the same settings, early-stopped on the same
validation split, on features computed here (see ``reference.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from intermodal.baselines import build_gbdt
from intermodal.baselines.gbdt import GradientBoostedTrees
from intermodal.data import (
    DataSplits,
    MultimodalDataset,
    load_mfeat,
    make_interaction_dataset,
    split_dataset,
    standardize,
)
from intermodal.metrics import predict_outputs
from intermodal.training import RunContext, fit
from tests.baselines.reference import feature_matrices

lgb = pytest.importorskip("lightgbm")


def lightgbm_scores(
    splits: DataSplits, objective: dict[str, Any], seed: int = 0, **settings: Any
) -> tuple[np.ndarray, list[int]]:
    """LightGBM fitted here: the raw test scores ``(N, K)`` (one booster per target column for
    multi-label and regression) and each booster's best round."""
    x, x_val, x_test = feature_matrices(splits)
    y, y_val = splits.train.targets.numpy(), splits.val.targets.numpy()
    params = {
        **objective,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_child_samples": 20,
        "feature_fraction": 1.0,
        "max_bin": 63,
        **settings,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    columns = (
        [(y, y_val)]
        if y.ndim == 1
        else [(y[:, j].copy(), y_val[:, j].copy()) for j in range(y.shape[1])]
    )
    scores, rounds = [], []
    for target, target_val in columns:
        train = lgb.Dataset(x, target)
        val = lgb.Dataset(x_val, target_val, reference=train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=1000,
            valid_sets=[val],
            callbacks=[lgb.early_stopping(20, verbose=False)],
        )
        raw = booster.predict(x_test, raw_score=True, num_iteration=booster.best_iteration)
        scores.append(np.reshape(raw, (len(x_test), -1)))
        rounds.append(booster.best_iteration)
    return np.concatenate(scores, axis=1), rounds


def fitted(splits: DataSplits, seed: int = 0, **settings: Any) -> tuple[np.ndarray, Any]:
    model = build_gbdt(splits.train, RunContext(), **settings)
    result = fit(model, splits, seed=seed, threads=1)
    return predict_outputs(result.model, splits.test).double().numpy(), result


def test_multiclass_equals_lightgbm_on_two_mfeat_views() -> None:
    data = load_mfeat(["fou", "kar"])
    splits = standardize(split_dataset(data.subset(np.arange(0, 2000, 4)), seed=0))
    ours, result = fitted(splits)
    expected, rounds = lightgbm_scores(splits, {"objective": "multiclass", "num_class": 10})
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)  # float32 outputs
    assert result.chosen == {"rounds": rounds[0]}
    assert result.best_epoch == rounds[0] - 1 and result.epochs == rounds[0] + 20
    assert result.model.boosters()[0].current_iteration() == rounds[0]


def test_two_classes_with_feature_fraction_and_a_seed_equal_lightgbm() -> None:
    splits = standardize(split_dataset(make_interaction_dataset("unique", n=300, seed=1), seed=2))
    ours, result = fitted(splits, seed=5, feature_fraction=0.6, num_leaves=7)
    expected, rounds = lightgbm_scores(
        splits, {"objective": "binary"}, seed=5, feature_fraction=0.6, num_leaves=7
    )
    np.testing.assert_allclose(ours[:, 0], 0.0)
    np.testing.assert_allclose(ours[:, 1], expected[:, 0], rtol=1e-6, atol=1e-6)
    assert result.chosen == {"rounds": rounds[0]}
    other, _ = fitted(splits, seed=6, feature_fraction=0.6, num_leaves=7)
    assert not np.allclose(other, ours)  # the seed reaches LightGBM


def test_regression_and_multilabel_fit_one_booster_per_column() -> None:
    regression = standardize(split_dataset(make_interaction_dataset("mixed", "regression", n=300)))
    ours, result = fitted(regression)
    expected, rounds = lightgbm_scores(regression, {"objective": "regression"})
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    assert result.chosen == {"rounds": rounds[0]}

    labels = standardize(split_dataset(make_interaction_dataset("mixed", "multilabel", n=300)))
    ours, result = fitted(labels)
    expected, rounds = lightgbm_scores(labels, {"objective": "binary"})
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    assert result.chosen == {"rounds": ",".join(map(str, rounds))}
    assert len(result.model.model_sizes) == 3


def test_settings_are_checked_and_an_unfitted_model_says_so() -> None:
    data = make_interaction_dataset("redundant", n=100)
    model = build_gbdt(data, RunContext())
    with pytest.raises(RuntimeError, match="not fitted"):
        model(data.modalities)
    with pytest.raises(ValueError, match="feature_fraction"):
        GradientBoostedTrees(model.features, 2, "classification", feature_fraction=1.5)
    with pytest.raises(ValueError, match="model_sizes"):
        GradientBoostedTrees(model.features, 3, "multilabel", model_sizes=[10])


def test_missing_lightgbm_skips_the_method_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from intermodal.baselines import gbdt_reason

    data = MultimodalDataset({"a": torch.randn(10, 2)}, np.arange(10) % 2)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lightgbm" else real(name, *a)
    )
    assert gbdt_reason(data) == (
        "needs LightGBM, which is not installed: pip install 'intermodal[gbdt]'"
    )
