"""The linear baseline equals scikit-learn's own fit of the same estimator, with the penalty
chosen here on the same validation split, on features computed here (see ``reference.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.multiclass import OneVsRestClassifier
from threadpoolctl import threadpool_limits

from intermodal.baselines import ALPHA_GRID, C_GRID, LinearBaseline, build_linear
from intermodal.data import (
    DataSplits,
    MultimodalDataset,
    load_mfeat,
    make_interaction_dataset,
    split_dataset,
    standardize,
)
from intermodal.metrics import predict, predict_outputs
from intermodal.training import RunContext, fit
from tests.baselines.reference import feature_matrices


def bench_split(data: MultimodalDataset, seed: int = 0) -> DataSplits:
    """The split of ``seed`` as the benchmark draws and standardizes it."""
    return standardize(split_dataset(data, seed=seed))


def bce(targets: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(probabilities, 1e-300, 1.0)
    q = np.clip(1 - probabilities, 1e-300, 1.0)
    return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(q)))


def chosen_on_validation(make, grid, x, y, x_val, loss):  # type: ignore[no-untyped-def]
    """The estimator of ``grid`` with the lowest validation loss (the first of equals)."""
    best = None
    with threadpool_limits(limits=1):  # one BLAS thread, as the baseline fits (the result is
        for penalty in grid:  # the same; more threads are slower on a busy two-core machine)
            fitted = make(penalty).fit(x, y)
            value = loss(fitted, x_val)
            if best is None or value < best[0]:
                best = (value, penalty, fitted)
    assert best is not None
    return best[1], best[2]


def test_predictions_equal_scikit_learns_logistic_regression_on_mfeat() -> None:
    splits = bench_split(load_mfeat())
    result = fit(build_linear(splits.train, RunContext()), splits, threads=1)

    x, x_val, x_test = feature_matrices(splits)
    y, y_val = splits.train.targets.numpy(), splits.val.targets.numpy()
    C, reference = chosen_on_validation(
        lambda c: LogisticRegression(C=c, max_iter=1000),
        C_GRID,
        x,
        y,
        x_val,
        lambda m, v: log_loss(y_val, m.predict_proba(v), labels=np.arange(10)),
    )
    assert result.chosen == {"C": C}
    assert len(result.history) == len(C_GRID)
    expected = reference.predict(x_test)
    assert (predict(result.model, splits.test).numpy() == expected).all()
    logits = predict_outputs(result.model, splits.test).double().numpy()
    np.testing.assert_allclose(logits, reference.decision_function(x_test), rtol=1e-5, atol=1e-4)
    accuracy = float((expected == splits.test.targets.numpy()).mean())
    assert accuracy > 0.9  # mfeat is easy for a linear model on all six views


def hide(data: MultimodalDataset, modality: str, rate: float, seed: int) -> MultimodalDataset:
    absent = np.random.default_rng(seed).random(len(data)) < rate
    return data.with_masks({modality: torch.from_numpy(~absent)})


def test_two_classes_and_an_absent_modality_equal_scikit_learn() -> None:
    data = hide(make_interaction_dataset("unique", n=400, seed=3), "x1", 0.3, seed=0)
    splits = bench_split(data, seed=1)
    result = fit(build_linear(splits.train, RunContext()), splits, threads=1)

    x, x_val, x_test = feature_matrices(splits)
    y, y_val = splits.train.targets.numpy(), splits.val.targets.numpy()
    C, reference = chosen_on_validation(
        lambda c: LogisticRegression(C=c, max_iter=1000),
        C_GRID,
        x,
        y,
        x_val,
        lambda m, v: log_loss(y_val, m.predict_proba(v), labels=[0, 1]),
    )
    assert result.chosen == {"C": C}
    logits = predict_outputs(result.model, splits.test).double().numpy()
    np.testing.assert_allclose(logits[:, 0], 0.0)
    np.testing.assert_allclose(
        logits[:, 1], reference.decision_function(x_test), rtol=1e-5, atol=1e-5
    )
    assert (predict(result.model, splits.test).numpy() == reference.predict(x_test)).all()
    absent = ~splits.test.masks["x1"].numpy()
    assert absent.any() and not absent.all()


def test_ridge_regression_equals_scikit_learn() -> None:
    splits = bench_split(make_interaction_dataset("mixed", "regression", n=400, seed=2))
    result = fit(build_linear(splits.train, RunContext()), splits, threads=1)

    x, x_val, x_test = feature_matrices(splits)
    y, y_val = splits.train.targets.numpy(), splits.val.targets.numpy()
    alpha, reference = chosen_on_validation(
        lambda a: Ridge(alpha=a),
        ALPHA_GRID,
        x,
        y.astype(np.float64),
        x_val,
        lambda m, v: mean_squared_error(y_val, m.predict(v)),
    )
    assert result.chosen == {"alpha": alpha}
    values = predict(result.model, splits.test).double().numpy()
    np.testing.assert_allclose(values, reference.predict(x_test), rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Label not 3 is present")
def test_one_vs_rest_multilabel_equals_scikit_learn_with_a_label_never_seen() -> None:
    data = make_interaction_dataset("mixed", "multilabel", n=400, seed=4)
    labels = torch.cat([data.targets, torch.zeros(len(data), 1)], dim=1)  # a fourth, never on
    data = MultimodalDataset(data.modalities, labels.numpy(), task="multilabel")
    splits = bench_split(data)
    result = fit(build_linear(splits.train, RunContext()), splits, threads=1)

    x, x_val, x_test = feature_matrices(splits)
    y, y_val = splits.train.targets.numpy(), splits.val.targets.numpy()
    C, reference = chosen_on_validation(
        lambda c: OneVsRestClassifier(LogisticRegression(C=c, max_iter=1000)),
        C_GRID,
        x,
        y,
        x_val,
        lambda m, v: bce(y_val, m.predict_proba(v)),
    )
    assert result.chosen == {"C": C}
    assert (predict(result.model, splits.test).numpy() == reference.predict(x_test)).all()
    logits = predict_outputs(result.model, splits.test).double().numpy()
    np.testing.assert_allclose(
        logits[:, :3], reference.decision_function(x_test)[:, :3], rtol=1e-5, atol=1e-5
    )
    assert (logits[:, 3] < -100).all()


def test_the_penalty_grid_is_a_parameter_and_must_be_positive() -> None:
    splits = bench_split(make_interaction_dataset("redundant", n=200))
    model = build_linear(splits.train, RunContext(), Cs=(0.5,))
    assert fit(model, splits, threads=1).chosen == {"C": 0.5}
    with pytest.raises(ValueError, match="positive"):
        LinearBaseline(model.features, 2, "classification", Cs=(0.0,))
