"""What a training run minimizes and what it monitors, shared by both engines of ``fit``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from intermodal.data.dataset import Batch
from intermodal.losses import Loss
from intermodal.metrics import PRIMARY, metric_info
from intermodal.models.protocols import TrainsItself


class Objective:
    """A model's objective: ``train(batch)`` is the loss the optimizer minimizes;
    ``validate(batch)`` gives the deterministic validation loss that early stopping monitors
    (described by ``monitor``) and the model's outputs for validation metrics (None for a model
    that does not predict the target, such as a two-tower model).

    The supervised objective is ``loss(model(inputs, mask), target)`` for both; a model that
    ``TrainsItself`` brings its own ``training_loss`` and ``validation_loss``, and early
    stopping follows ``key`` (``val_loss``, or the task's primary metric for a model whose
    ``monitor`` is ``"metric"``). Objectives are plain objects, so a spawning multi-process
    strategy can send them to its workers.
    """

    def __init__(self, model: nn.Module, loss: Loss, task: str, loss_name: str = "") -> None:
        self.model, self.loss = model, loss
        self.own = isinstance(model, TrainsItself)
        self.key, self.higher_is_better = "val_loss", False
        if self.own and getattr(model, "monitor", "loss") == "metric":
            metric = metric_info(task, PRIMARY[task])
            self.key, self.higher_is_better = f"val_{metric.name}", metric.higher_is_better
            self.monitor = f"validation {metric.name} (the loss: {model.validation_objective})"
        elif self.own:
            self.monitor = f"validation loss: {model.validation_objective}"
        else:
            name = loss_name or getattr(loss, "__name__", type(loss).__name__)
            self.monitor = f"validation loss: {name}"

    def train(self, batch: Batch) -> Tensor:
        if self.own:
            own: TrainsItself = self.model  # type: ignore[assignment]
            return own.training_loss(batch.inputs, batch.target, batch.mask)
        return self.loss(self.model(batch.inputs, batch.mask), batch.target)

    def validate(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        outputs = self.model(batch.inputs, batch.mask)
        if not (isinstance(outputs, Tensor) and len(outputs) == len(batch.target)):
            outputs = None
        if self.own:
            own: TrainsItself = self.model  # type: ignore[assignment]
            return own.validation_loss(batch.inputs, batch.target, batch.mask), outputs
        assert outputs is not None
        return self.loss(outputs, batch.target), outputs


VALIDATION_METRICS = {"classification": ("accuracy", "macro_f1")}
"""The metrics a history records each epoch (the task's primary metric for the other tasks);
only these are computed, not every metric of the task (AUROC's ranks cost more than an epoch of
a small model)."""


def validation_scores(
    task: str, outputs: Tensor, target: Tensor, output_dim: int
) -> dict[str, float]:
    """The task's metrics of validation outputs as ``val_<name>``; empty when the outputs are
    not ``(N, output_dim)`` (a model that does not predict the target)."""
    if outputs.ndim != 2 or outputs.shape[1] != output_dim:
        return {}
    outputs, target = outputs.detach().double().cpu(), target.cpu()
    keep = VALIDATION_METRICS.get(task, (PRIMARY[task],))
    return {f"val_{name}": metric_info(task, name).compute(outputs, target) for name in keep}


@torch.no_grad()
def validation_pass(
    objective: Objective, batches: list[Batch], task: str, output_dim: int
) -> dict[str, float]:
    """Validation loss (mean over samples) and metrics over ``batches`` (model in eval mode)."""
    total, count, outputs, targets = 0.0, 0, [], []
    for batch in batches:
        size = len(batch.target)
        loss, out = objective.validate(batch)
        total += float(loss) * size
        count += size
        if out is not None:
            outputs.append(out)
            targets.append(batch.target)
    scores = {"val_loss": total / count}
    if outputs and len(outputs) == len(batches):
        try:
            outs, target = torch.cat(outputs), torch.cat(targets)
            scores.update(validation_scores(task, outs, target, output_dim))
        except ValueError:  # outputs a metric refuses (NaN): the loss says it all
            pass
    return scores
