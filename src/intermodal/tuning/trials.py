"""How a tuning round's models are trained: the one place that decides between training them one
at a time and as one stacked model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from intermodal.data.splits import DataSplits
from intermodal.models.protocols import FitsItself
from intermodal.training.context import RunContext
from intermodal.training.fit import FitResult
from intermodal.training.stacked import fit_many

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

    Models that can stack (one architecture, settings that differ only in continuous values
    such as lr, weight decay, dropout rate and loss weights) train as one stacked model where
    ``fit_many`` stacks (off the CPU by default), the others one at a time (see
    :func:`~intermodal.training.stacked.fit_many`); ``on_epoch`` sees every model's validation
    curve as it is computed and may stop a model (pruning). A model
    that fits itself (a classical baseline) has no curve: it is not pruned.
    """
    if len(models) != len(contexts):
        raise ValueError(f"{len(models)} models but {len(contexts)} contexts")
    if on_epoch is None or any(isinstance(model, FitsItself) for model in models):
        return fit_many(models, data, contexts)
    report = on_epoch
    return fit_many(
        models, data, contexts, on_epoch=lambda index, epoch, scores: report(index, scores)
    )
