"""Early stopping: one rule for the lean loop, stacked models and the Lightning engine."""

from __future__ import annotations

MIN_DELTA = 0.01
"""The default minimum relative improvement of the monitored validation quantity (1%).

Measured on UCI Multiple Features with the benchmark's models (see the README's training
section): without it, late fusion and very early fusion run 64-90 of 100 epochs while their
validation loss creeps down by a fraction of a percent per epoch; with 1% they stop within 40
epochs at the same test accuracy within seed noise."""


class EarlyStopping:
    """Follows a monitored validation quantity epoch by epoch.

    - The best epoch is the one with the best value (strictly better than every earlier one);
      its weights are the ones a trainer restores.
    - An epoch *improves* when its value beats the reference by at least ``min_delta`` relative
      to it: ``value < reference - min_delta * |reference|`` for a loss, ``value > reference +
      min_delta * |reference|`` for a metric where higher is better. The reference is the value
      of the last epoch that improved (the first epoch's value to begin with).
    - Training stops after ``patience`` epochs in a row without an improvement: when the
      quantity has gained less than ``min_delta`` (relative) in ``patience`` epochs. Slow but
      steady progress adds up and resets the count; a quantity that only creeps stops.

    ``min_delta = 0`` is the classic rule (any strict improvement resets the count), the rule of
    Keras and Lightning with a relative rather than an absolute threshold.
    """

    def __init__(self, patience: int, min_delta: float = MIN_DELTA, higher_is_better: bool = False):
        if patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience}")
        check_min_delta(min_delta)
        self.patience, self.min_delta, self.higher_is_better = patience, min_delta, higher_is_better
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.reference: float | None = None
        self.waited = 0
        self.stopped = False

    def better(self, value: float, reference: float | None, margin: float = 0.0) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``margin * |reference|`` (strictly
        better for ``margin = 0``); everything beats ``None``."""
        if reference is None:
            return True
        gap = margin * abs(reference)
        return value > reference + gap if self.higher_is_better else value < reference - gap

    def update(self, epoch: int, value: float) -> bool:
        """Record ``value`` of ``epoch``; returns whether it is the new best epoch. Sets
        ``stopped`` when the patience has run out."""
        if self.better(value, self.reference, self.min_delta):
            self.reference, self.waited = value, 0
        else:
            self.waited += 1
            self.stopped = self.waited >= self.patience
        best = self.better(value, self.best)
        if best:
            self.best, self.best_epoch = value, epoch
        return best


def check_min_delta(min_delta: float) -> None:
    """Refuse a ``min_delta`` outside ``[0, 1)`` with a message that says what it is."""
    if isinstance(min_delta, bool) or not isinstance(min_delta, int | float):
        raise ValueError(f"min_delta must be a number in [0, 1), got {min_delta!r}")
    if not 0.0 <= min_delta < 1.0:
        raise ValueError(
            f"min_delta must be in [0, 1), got {min_delta}: it is the minimum relative "
            "improvement of the validation quantity (0.01 = 1%)"
        )
