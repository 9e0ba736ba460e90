"""What a training run minimizes and what it monitors, shared by both engines of ``fit``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.data.dataset import Batch, MultimodalDataset
from intermodal.errors import UnknownNameError
from intermodal.metrics import PRIMARY, score
from intermodal.models.protocols import TrainsItself

Loss = Callable[[Tensor, Tensor], Tensor]
"""``loss(outputs, target) -> scalar``."""

LOSSES = {
    "classification": ("cross_entropy",),
    "multilabel": ("bce", "bce_balanced"),
    "regression": ("mse", "l1"),
}
"""The losses of each task; the first is the default."""


def _values(outputs: Tensor, target: Tensor) -> Tensor:
    """Regression outputs ``(B, T)`` shaped like the target (``(B,)`` for one target)."""
    return outputs.reshape(target.shape)


def mse_loss(outputs: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of values; outputs ``(B, 1)`` meet targets ``(B,)``."""
    return F.mse_loss(_values(outputs, target), target)


def l1_loss(outputs: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error of values; outputs ``(B, 1)`` meet targets ``(B,)``."""
    return F.l1_loss(_values(outputs, target), target)


def bce_loss(outputs: Tensor, target: Tensor, pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of label logits ``(B, K)`` against 0/1 targets ``(B, K)``; with
    ``pos_weight`` ``(K,)``, positives of label k weigh ``pos_weight[k]``."""
    weight = pos_weight.to(outputs.device) if pos_weight is not None else None
    return F.binary_cross_entropy_with_logits(outputs, target, pos_weight=weight)


def task_loss(task: str, name: str | None = None, train: MultimodalDataset | None = None) -> Loss:
    """The loss ``name`` of ``task`` (default: the first of :data:`LOSSES`).

    ``bce_balanced`` weighs the positives of each label by ``negatives / positives`` in
    ``train`` (the training split), the usual remedy for rare labels.
    """
    if task not in LOSSES:
        raise ValueError(f"unknown task {task!r}; choose one of {list(LOSSES)}")
    name = name or LOSSES[task][0]
    if name not in LOSSES[task]:
        raise UnknownNameError(f"unknown loss {name!r} for {task}; choose from {LOSSES[task]}")
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "mse":
        return mse_loss
    if name == "l1":
        return l1_loss
    if name == "bce_balanced":
        if train is None:
            raise ValueError("bce_balanced needs the training split to count positives")
        positives = train.targets.sum(dim=0)
        return partial(bce_loss, pos_weight=(len(train) - positives) / positives.clamp_min(1))
    return bce_loss


class Objective:
    """A model's objective: ``train(batch)`` is the loss the optimizer minimizes;
    ``validate(batch)`` gives the deterministic validation loss that early stopping monitors
    (described by ``monitor``) and the model's outputs for validation metrics (None for a model
    that does not predict the target, such as a two-tower model).

    The supervised objective is ``loss(model(inputs, mask), target)`` for both; a model that
    ``TrainsItself`` brings its own ``training_loss`` and ``validation_loss``. Objectives are
    plain objects, so a spawning multi-process strategy can send them to its workers.
    """

    def __init__(self, model: nn.Module, loss: Loss, loss_name: str = "") -> None:
        self.model, self.loss = model, loss
        self.own = isinstance(model, TrainsItself)
        if self.own:
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


def validation_scores(
    task: str, outputs: Tensor, target: Tensor, output_dim: int
) -> dict[str, float]:
    """The task's metrics of validation outputs as ``val_<name>``; empty when the outputs are
    not ``(N, output_dim)`` (a model that does not predict the target)."""
    if outputs.ndim != 2 or outputs.shape[1] != output_dim:
        return {}
    metrics = score(task, outputs.detach().double().cpu(), target.cpu())
    keep = {"classification": ("accuracy", "macro_f1")}.get(task, (PRIMARY[task],))
    return {f"val_{name}": metrics[name] for name in keep}


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
