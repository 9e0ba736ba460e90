"""The losses of each task: cross-entropy (classification), binary cross-entropy with optional
positive weights (multi-label), mean squared or absolute error (regression)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor
from torch.nn import functional as F

from intermodal.data.dataset import MultimodalDataset
from intermodal.errors import UnknownNameError

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
