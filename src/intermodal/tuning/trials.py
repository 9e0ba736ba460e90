"""How a tuning round's models are trained: the one place that decides between training them one
at a time and as one stacked model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from torch import nn

from intermodal.data.splits import DataSplits
from intermodal.training.context import RunContext
from intermodal.training.fit import FitResult

EpochCallback = Callable[[int, dict[str, float]], bool]
"""``on_epoch(model_index, record) -> stop``: called after each validation epoch of a model with
its history record (``epoch``, ``train_loss``, ``val_loss``, ``val_<metric>``); returning True
stops that model there (its best weights so far are kept)."""

TrainTrials = Callable[
    [Sequence[nn.Module], DataSplits, Sequence[RunContext], "EpochCallback | None"],
    list[FitResult],
]


def train_trials(
    models: Sequence[nn.Module],
    data: DataSplits,
    contexts: Sequence[RunContext],
    on_epoch: EpochCallback | None = None,
) -> list[FitResult]:
    """Train ``models`` (one architecture, settings from ``contexts``) on ``data`` with early
    stopping on ``data.val``; one :class:`~intermodal.training.fit.FitResult` per model, in
    order.

    Each model trains with ``fit`` on its own context (seed, lr, weight decay, budget), one after
    the other; ``on_epoch`` sees every model's validation curve as it is computed and may stop
    a model (pruning).
    """
    if len(models) != len(contexts):
        raise ValueError(f"{len(models)} models but {len(contexts)} contexts")
    results = []
    for index, (model, context) in enumerate(zip(models, contexts, strict=True)):
        callback = None if on_epoch is None else partial(on_epoch, index)
        results.append(context.fit(model, data, on_epoch=callback))
    return results
