from __future__ import annotations

import time

import pytest
import torch

from intermodal.data.splits import split_dataset
from intermodal.losses import task_loss
from intermodal.training import RunContext
from intermodal.training import accelerator as auto
from intermodal.training.fit import _training_step
from intermodal.training.objective import Objective
from intermodal.training.stacked import _prepare, _stack_step
from tests.helpers import blobs
from tests.training.test_stacked import vector_model

CPU, META = torch.device("cpu"), torch.device("meta")


@pytest.fixture(autouse=True)
def fresh_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "_CHOSEN", {})


def sleeping(seconds: dict[str, float], prepared: list[str]) -> auto.StepFactory:
    def prepare(device: torch.device):  # type: ignore[no-untyped-def]
        prepared.append(device.type)
        return lambda: time.sleep(seconds[device.type])

    return prepare


def test_the_faster_device_is_chosen_once_per_kind_of_work() -> None:
    prepared: list[str] = []
    slow_cpu = sleeping({"cpu": 0.02, "meta": 0.0}, prepared)
    assert auto.fastest_device("work", slow_cpu, [CPU, META], steps=2) == META
    assert prepared == ["cpu", "meta"]
    # the same work again: the kept choice, nothing timed
    assert (
        auto.fastest_device("work", sleeping({"cpu": 0.0, "meta": 1.0}, prepared), [CPU, META])
        == META
    )
    assert prepared == ["cpu", "meta"]
    slow_meta = sleeping({"cpu": 0.0, "meta": 0.02}, prepared)
    assert auto.fastest_device("other work", slow_meta, [CPU, META], steps=2) == CPU


def test_one_candidate_is_taken_without_timing() -> None:
    prepared: list[str] = []
    assert auto.fastest_device("work", sleeping({"cpu": 0.0}, prepared), [CPU]) == CPU
    assert prepared == []
    if not torch.cuda.is_available():  # the default candidates: the CPU alone
        assert auto.fastest_device("work", sleeping({"cpu": 0.0}, prepared)) == CPU
        assert prepared == []


def test_the_median_step_time_is_measured_after_a_warm_up() -> None:
    ticks = iter([0.0, 5.0, 10.0, 11.0, 20.0, 23.0])  # steps of 5, 1 and 3 seconds
    calls: list[int] = []
    seconds = auto.seconds_per_step(
        lambda device: lambda: calls.append(1), CPU, steps=3, clock=lambda: next(ticks)
    )
    assert seconds == 3.0 and len(calls) == 4  # a warm-up and three timed steps


def test_work_keys_tell_architectures_batch_sizes_and_stacks_apart() -> None:
    data = blobs()
    small, other = vector_model(data, 0), vector_model(data, 1)
    wide = vector_model(data.select(["a"]), 0)  # another input width
    assert auto.work_key(small, 64) == auto.work_key(other, 64)
    keys = {
        auto.work_key(small, 64),
        auto.work_key(wide, 64),
        auto.work_key(small, 32),
        auto.work_key(small, 64, 3),
    }
    assert len(keys) == 4


def test_timing_steps_train_copies_and_leave_the_models_untouched() -> None:
    splits = split_dataset(blobs(), seed=0)
    models = [vector_model(splits.train, seed) for seed in (0, 1)]
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    goal = Objective(models[0], task_loss("classification", None, splits.train), "classification")
    _training_step(goal, splits.train, ["a", "b"], 16, CPU)()
    contexts = [RunContext(seed=s, batch_size=16) for s in (0, 1)]
    losses = _stack_step(_prepare(models, splits, contexts, None, True), CPU)()
    assert losses.shape == (2,) and torch.isfinite(losses).all()
    for model, state in zip(models, before, strict=True):
        for name, value in model.state_dict().items():
            torch.testing.assert_close(value, state[name], rtol=0, atol=0)
