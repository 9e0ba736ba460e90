from __future__ import annotations

import pytest

from intermodal.training import RunContext
from intermodal.training.stopping import EarlyStopping


def run(stopping: EarlyStopping, values: list[float]) -> int:
    """The epoch at which ``stopping`` stops on ``values`` (or len(values) if it does not)."""
    for epoch, value in enumerate(values):
        stopping.update(epoch, value)
        if stopping.stopped:
            return epoch
    return len(values)


def test_a_creeping_loss_stops_while_any_improvement_would_go_on() -> None:
    # after 0.8, each epoch is lower but all of them together gain less than 1% of 0.8 (0.008)
    values = [1.0, 0.8, 0.799, 0.797, 0.795, 0.794, 0.793]
    creeping = EarlyStopping(patience=3, min_delta=0.01)
    assert run(creeping, values) == 4
    assert (creeping.best, creeping.best_epoch) == (0.795, 4)  # the lowest value's weights
    assert run(EarlyStopping(patience=3, min_delta=0.0), values) == len(values)


def test_slow_steady_progress_adds_up_and_resets_the_patience() -> None:
    # 0.4% per epoch: no single epoch gains 1%, but three epochs together gain more than 1%
    values = [1.0 * 0.996**epoch for epoch in range(30)]
    stopping = EarlyStopping(patience=3, min_delta=0.01)
    assert run(stopping, values) == len(values)
    assert stopping.best_epoch == 29


def test_an_improvement_is_measured_from_the_last_improving_epoch() -> None:
    # 0.79 is 1.25% below 0.8 (the reference), though only 0.5% below 0.794
    stopping = EarlyStopping(patience=2, min_delta=0.01)
    assert run(stopping, [1.0, 0.8, 0.794, 0.79, 0.789, 0.7885]) == 5
    assert (stopping.reference, stopping.best_epoch) == (0.79, 5)


def test_a_plateau_at_the_start_is_held_to_the_classic_rule() -> None:
    # at chance for five epochs (tiny strict gains), then learning: min_delta applies from there
    plateau = [2.3026, 2.3025, 2.3024, 2.3023, 2.3022, 2.3021]
    values = [*plateau, 1.5, 1.0, 0.99, 0.985, 0.98]
    stopping = EarlyStopping(patience=3, min_delta=0.1)
    assert run(stopping, values) == len(values) - 1
    assert stopping.best_epoch == len(values) - 1
    # a plateau that never moves 10% from the start still stops once nothing improves at all
    assert run(EarlyStopping(patience=3, min_delta=0.1), [*plateau, 2.4, 2.4, 2.4]) == 8


def test_a_metric_where_higher_is_better_must_rise_by_min_delta() -> None:
    stopping = EarlyStopping(patience=2, min_delta=0.05, higher_is_better=True)
    # 0.5 -> 0.6 is 20% up; 0.62 and 0.625 are better, by less than 5% of 0.6
    assert run(stopping, [0.5, 0.6, 0.62, 0.625, 0.9]) == 3
    assert (stopping.best, stopping.best_epoch) == (0.625, 3)


@pytest.mark.parametrize("bad", [-0.1, 1.0, True, "0.1"])
def test_min_delta_outside_zero_to_one_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="min_delta must be"):
        EarlyStopping(patience=3, min_delta=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_delta must be"):
        RunContext(min_delta=bad)  # type: ignore[arg-type]
