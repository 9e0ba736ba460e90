"""The tuner: defaults first, trials within the space, architecture groups, pruning, failed
trials, scoring on the held-out parts, the selection rule, determinism."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import nn

from intermodal.bench.methods import build_fusion, build_unimodal, encoder_space
from intermodal.data import MultimodalDataset
from intermodal.data.splits import DataSplits, split_dataset
from intermodal.fusion.registry import FUSIONS
from intermodal.training import RunContext
from intermodal.training.fit import FitResult
from intermodal.tuning import Choice, SearchSpace, cv_splits, train_trials, tune, tuning_splits
from intermodal.tuning.trials import EpochCallback
from tests.helpers import blobs

FAST = RunContext(max_epochs=4, patience=2, threads=1, accelerator="cpu")


def early(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    return build_fusion(FUSIONS["early"], dataset, context)


@pytest.fixture(scope="module")
def folds() -> list[DataSplits]:
    return cv_splits(blobs(20), 2, seed=0)


@pytest.fixture(scope="module")
def holdout() -> list[DataSplits]:
    return tuning_splits(split_dataset(blobs(30), seed=0), folds=1)


def test_first_trial_is_the_defaults_and_every_trial_is_in_the_space(folds) -> None:  # type: ignore[no-untyped-def]
    space = encoder_space()
    result = tune(early, folds, FAST, 3, space=space, round_size=2, pruner="none")
    assert [t.number for t in result.trials] == [0, 1, 2]
    assert result.trials[0].params == space.defaults() == result.defaults
    assert [t.round for t in result.trials] == [0, 0, 1]
    for trial in result.trials:
        space.check(trial.params)
        assert isinstance(trial.params["width"], int) and isinstance(trial.params["lr"], float)
        assert trial.state == "complete" and len(trial.fold_scores) == 2
        assert trial.mean == pytest.approx(np.mean(trial.fold_scores))
        assert trial.standard_error == pytest.approx(np.std(trial.fold_scores, ddof=1) / 2**0.5)
        assert all(1 <= e <= 4 for e in trial.epochs) and trial.time_s > 0
    assert result.params == result.trials[result.selection.chosen].params  # type: ignore[union-attr]
    document = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert document["trials"][0]["params"] == space.defaults()
    assert document["folds"] == 2 and document["metric"] == "accuracy"


def test_trials_with_one_architecture_train_together(folds) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(lr=Choice((1e-3, 3e-3), 1e-3, stackable=True), width=Choice((32, 64), 64))
    calls: list[tuple[int, list[tuple[float, int]]]] = []

    def recording(models, data, contexts, on_epoch=None):  # type: ignore[no-untyped-def]
        calls.append((len(data.train), [(c.lr, c.param("width", 64)) for c in contexts]))
        return train_trials(models, data, contexts, on_epoch)

    result = tune(early, folds, FAST, 4, space=space, round_size=4, train=recording)
    assert result.exhausted and len(result.trials) == 4
    groups = {t.params["width"]: t.group for t in result.trials}
    assert len(set(groups.values())) == 2
    assert [t.group for t in result.trials] == [groups[t.params["width"]] for t in result.trials]
    assert len(calls) == 2 * 2  # one call per architecture and fold
    for _, members in calls:
        assert len(members) == 2 and len({width for _, width in members}) == 1
        assert {lr for lr, _ in members} == {1e-3, 3e-3}


def test_a_hopeless_trial_is_pruned_before_its_last_epoch(holdout) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(lr=Choice((1e-2, 1e-7), 1e-2, stackable=True))
    long = FAST.with_(max_epochs=40, patience=40)
    pruned = tune(early, holdout, long, 2, space=space, round_size=1, warmup=3)
    default, hopeless = pruned.trials
    assert default.state == "complete" and default.mean > 0.9
    assert hopeless.state == "pruned" and hopeless.epochs[0] < 40
    assert math.isnan(hopeless.mean)
    assert pruned.params["lr"] == 1e-2
    unpruned = tune(early, holdout, long, 2, space=space, round_size=1, pruner="none")
    assert unpruned.trials[1].state == "complete" and unpruned.trials[1].epochs == (40,)


def test_a_pruned_trial_trains_no_further_fold(folds) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(lr=Choice((1e-2, 1e-7), 1e-2, stackable=True))
    long = FAST.with_(max_epochs=30, patience=30)
    result = tune(early, folds, long, 2, space=space, round_size=1, warmup=2)
    assert result.trials[1].state == "pruned" and len(result.trials[1].epochs) == 1
    assert len(result.trials[0].epochs) == 2


class Broken(nn.Module):
    """A model whose predictions are NaN (a diverged run)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.modalities = inner, inner.modalities

    def forward(self, inputs, mask=None):  # type: ignore[no-untyped-def]
        return self.inner(inputs, mask) * float("nan")


def breakable(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    model = early(dataset, context)
    return Broken(model) if context.param("broken", False) else model


def test_a_failed_trial_is_never_chosen(holdout) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(broken=Choice((False, True), False))
    result = tune(breakable, holdout, FAST, 2, space=space, margin=0.0)
    assert [t.state for t in result.trials] == ["complete", "failed"]
    assert result.params == {"broken": False}
    failing_default = SearchSpace(broken=Choice((True, False), True))
    result = tune(breakable, holdout, FAST, 2, space=failing_default)
    assert result.trials[0].state == "failed" and result.params == {"broken": False}
    assert result.selection is not None and "default trial failed" in result.selection.reason


class Majority(nn.Module):
    """Predicts class ``label`` for every sample."""

    def __init__(self, label: int, classes: int) -> None:
        super().__init__()
        self.label, self.classes, self.modalities = label, classes, ["a", "b"]
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, inputs, mask=None):  # type: ignore[no-untyped-def]
        n = len(next(iter(inputs.values())))
        logits = torch.zeros(n, self.classes) + self.weight
        logits[:, self.label] = 1.0
        return logits


def test_trials_are_scored_on_each_folds_held_out_part_and_averaged(folds) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(label=Choice((0, 1, 2), 0))

    def build(dataset, context):  # type: ignore[no-untyped-def]
        return Majority(context.param("label", 0), dataset.output_dim)

    def no_training(models, data, contexts, on_epoch=None):  # type: ignore[no-untyped-def]
        return [FitResult(m, 0.0, None, None, 1, 1) for m in models]

    result = tune(build, folds, FAST, 3, space=space, train=no_training)
    for trial in result.trials:
        label = trial.params["label"]
        expected = [float((f.test.targets == label).double().mean()) for f in folds]
        assert trial.fold_scores == pytest.approx(expected)


def test_the_rule_decides_between_the_best_trial_and_the_defaults(holdout) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(lr=Choice((1e-7, 1e-2), 1e-7, stackable=True))  # poor defaults
    clear = tune(early, holdout, FAST, 2, space=space, pruner="none")
    assert clear.trials[1].mean > clear.trials[0].mean + 0.3
    assert clear.params["lr"] == 1e-2 and clear.selection.chosen == 1  # type: ignore[union-attr]
    selection = clear.selection
    assert selection is not None and selection.difference > selection.standard_error > 0
    stubborn = tune(early, holdout, FAST, 2, space=space, pruner="none", margin=math.inf)
    assert stubborn.params["lr"] == 1e-7 and stubborn.selection.best == 1  # type: ignore[union-attr]


def test_regression_trials_minimize_the_error() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    data = MultimodalDataset(
        {"a": x, "b": rng.normal(size=(90, 2))}, 3 * x[:, 0] + 1, task="regression"
    )
    folds = tuning_splits(split_dataset(data, seed=0), folds=1)
    space = SearchSpace(lr=Choice((1e-7, 1e-2), 1e-7, stackable=True))
    result = tune(early, folds, FAST.with_(max_epochs=15), 2, space=space, pruner="none")
    assert result.metric == "mae" and not result.higher_is_better
    assert result.trials[1].mean < result.trials[0].mean and result.params["lr"] == 1e-2


def test_same_seed_same_trials_and_choice(folds) -> None:  # type: ignore[no-untyped-def]
    space = encoder_space()

    def run(seed: int):  # type: ignore[no-untyped-def]
        return tune(early, folds, FAST.with_(seed=seed), 3, space=space, round_size=2)

    first, again, other = run(0), run(0), run(1)
    key = [(t.params, t.fold_scores, t.state, t.epochs) for t in first.trials]
    assert key == [(t.params, t.fold_scores, t.state, t.epochs) for t in again.trials]
    assert first.selection == again.selection and first.params == again.params
    assert first.trials[1].params != other.trials[1].params


def test_methods_on_one_modality_see_only_its_training_samples(holdout) -> None:  # type: ignore[no-untyped-def]
    result = tune(
        build_unimodal, holdout, FAST, 2, space=encoder_space(), modalities=("a",), round_size=2
    )
    assert [t.state for t in result.trials] == ["complete", "complete"]


def test_no_trials_keeps_the_defaults_and_bad_budgets_are_errors(folds) -> None:  # type: ignore[no-untyped-def]
    result = tune(early, folds, FAST, 0, space=encoder_space())
    assert result.trials == () and result.params == encoder_space().defaults()
    assert result.as_dict()["reason"] == "no tuning: the defaults"
    assert result.context(RunContext(seed=2)).params == {"dropout": 0.1, "width": 64}
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="trials must be a non-negative integer"):
            tune(early, folds, FAST, bad)
    with pytest.raises(ValueError, match="unknown pruner"):
        tune(early, folds, FAST, 1, pruner="hyperband")
    with pytest.raises(ValueError, match="round_size"):
        tune(early, folds, FAST, 1, round_size=0)
    with pytest.raises(ValueError, match="at least one fold"):
        tune(early, [], FAST, 1)


def test_the_training_function_passes_each_models_curve(holdout) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, int]] = []

    def on_epoch(index: int, record: dict[str, float]) -> bool:
        seen.append((index, int(record["epoch"])))
        return index == 1 and record["epoch"] == 1  # stop the second model after two epochs

    contexts: Sequence[RunContext] = [FAST.with_(patience=10), FAST.with_(patience=10)]
    models = [early(holdout[0].train, c) for c in contexts]
    callback: EpochCallback = on_epoch
    results = train_trials(models, holdout[0], contexts, callback)
    assert [r.epochs for r in results] == [4, 2]
    # the two models train as one stack, so their epochs interleave
    assert [e for i, e in seen if i == 0] == [0, 1, 2, 3]
    assert [e for i, e in seen if i == 1] == [0, 1]


def refusing(dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    if context.param("size", 1) > 1:
        raise ValueError("too large for this data")
    return early(dataset, context)


def test_a_setting_that_cannot_be_built_fails_its_trial_not_the_search(holdout) -> None:  # type: ignore[no-untyped-def]
    result = tune(refusing, holdout, FAST, 2, space=SearchSpace(size=Choice((1, 2), 1)))
    assert [t.state for t in result.trials] == ["complete", "failed"]
    assert result.trials[1].error == "ValueError: too large for this data"
    assert result.as_dict()["trials"][1]["error"] == "ValueError: too large for this data"
    with pytest.raises(ValueError, match="too large"):  # the defaults must build
        tune(refusing, holdout, FAST, 2, space=SearchSpace(size=Choice((2, 1), 2)))
